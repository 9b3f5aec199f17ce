/* SPDX-License-Identifier: MIT */
/*
 * Scale searches for the K-quant sub-blocks: for a sub-block of n values
 * and weights w, parameters whose nearest-level quantization has the least
 * weighted squared error. Both try a grid of scales around the one that
 * maps the extreme value to the last level; the quants each gives fix a
 * weighted least-squares fit of the parameters. Every fit is judged by the
 * error of the quants it would really get (its own nearest levels, not the
 * grid's), and the plain extreme-value scale is one of the candidates, so
 * the result is never worse than it by that measure.
 */
#include "quant_blocks.h"

/* The grid: nmax + SEARCH_STEP * s levels across the range (or the
 * extreme), s in [-SEARCH_STEPS, SEARCH_STEPS]: the grids of ggml's
 * reference searches are among these points. */
#define SEARCH_STEPS 10
#define SEARCH_STEP 0.1f

/* ---- x' = scale L - off, L in [0, nmax] ------------------------------- */

static float affine_err(const float *x, const float *w, int n, int nmax,
			float scale, float off)
{
	float is = 1.0f / scale, err = 0.0f;

	for (int i = 0; i < n; i++) {
		int q = ek_qround((x[i] + off) * is, 0, nmax);
		float e = scale * (float)q - off - x[i];

		err += w[i] * e * e;
	}
	return err;
}

/* Weighted sums over the quants (sw, sx do not depend on them). */
struct affine_sums {
	double sw, sx, sl, sll, slx;
};

/* The weighted least-squares scale and offset for the quants the sums
 * are of (offset >= 0 as the format needs); false if they do not
 * determine a positive scale. */
static bool affine_fit(const struct affine_sums *s, float *scale, float *off)
{
	double det = s->sw * s->sll - s->sl * s->sl;

	if (!(det > 0))
		return false;
	double a = (s->sw * s->slx - s->sl * s->sx) / det;
	double b = (s->sll * s->sx - s->sl * s->slx) / det;	/* a L + b */

	if (b > 0) {		/* the format subtracts a min: b <= 0 */
		b = 0;
		a = s->slx / s->sll;
	}
	*scale = (float)a;
	*off = (float)-b;
	return *scale > 0.0f && *scale < INFINITY;
}

void ek_search_affine(const float *x, const float *w, int n, int nmax,
		      float *scale, float *off)
{
	struct affine_sums s = { 0, 0, 0, 0, 0 };
	float lo = 0.0f, hi = -INFINITY;

	for (int i = 0; i < n; i++) {
		lo = x[i] < lo ? x[i] : lo;
		hi = x[i] > hi ? x[i] : hi;
		s.sw += w[i];
		s.sx += (double)w[i] * x[i];
	}
	*off = -lo;
	*scale = 0.0f;
	if (!(hi > lo) || !(hi - lo < INFINITY))
		return;		/* constant, or nothing finite to fit */
	float range = hi - lo;
	float best = affine_err(x, w, n, nmax, range / (float)nmax, -lo);

	*scale = range / (float)nmax;
	for (int g = -SEARCH_STEPS; g <= SEARCH_STEPS; g++) {
		float is = ((float)nmax + SEARCH_STEP * (float)g) / range;
		float sc, of, err;

		s.sl = s.sll = s.slx = 0;
		for (int i = 0; i < n; i++) {
			int q = ek_qround((x[i] - lo) * is, 0, nmax);
			double wl = (double)w[i] * q;

			s.sl += wl;
			s.sll += wl * q;
			s.slx += wl * x[i];
		}
		if (!affine_fit(&s, &sc, &of))
			continue;
		err = affine_err(x, w, n, nmax, sc, of);
		if (err < best) {
			best = err;
			*scale = sc;
			*off = of;
		}
	}
}

/* ---- x' = scale L, L in [-nmax, nmax - 1] ----------------------------- */

static float sym_err(const float *x, const float *w, int n, int nmax,
		     float scale)
{
	float is = 1.0f / scale, err = 0.0f;

	for (int i = 0; i < n; i++) {
		int q = ek_qround(x[i] * is, -nmax, nmax - 1);
		float e = scale * (float)q - x[i];

		err += w[i] * e * e;
	}
	return err;
}

float ek_search_symmetric(const float *x, const float *w, int n, int nmax)
{
	float amax = 0.0f, m = 0.0f;

	for (int i = 0; i < n; i++)
		if (fabsf(x[i]) > amax) {
			amax = fabsf(x[i]);
			m = x[i];
		}
	if (!(amax > 0.0f) || !(amax < INFINITY))
		return 0.0f;
	/* the plain scale: m itself is level -nmax exactly */
	float scale = m / -(float)nmax;
	float best = sym_err(x, w, n, nmax, scale);

	for (int g = -SEARCH_STEPS; g <= SEARCH_STEPS; g++) {
		float is = -((float)nmax + SEARCH_STEP * (float)g) / m;
		double slx = 0, sll = 0;

		for (int i = 0; i < n; i++) {
			int q = ek_qround(x[i] * is, -nmax, nmax - 1);
			double wl = (double)w[i] * q;

			slx += wl * x[i];
			sll += wl * q;
		}
		if (!(sll > 0))
			continue;
		float sc = (float)(slx / sll), err;

		if (sc == 0.0f || !(fabsf(sc) < INFINITY))
			continue;
		err = sym_err(x, w, n, nmax, sc);
		if (err < best) {
			best = err;
			scale = sc;
		}
	}
	return scale;
}
