/* SPDX-License-Identifier: MIT */
/*
 * Quantization to Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K:
 *  - the stored scales of the 32-block types are ggml's reference ones
 *    (Q4_1 / Q5_1: d = (max - min) / 15 or 31, m = min; Q5_0: d = m / -16
 *    for the element m of largest magnitude);
 *  - every element of every type is at the level nearest to its value
 *    among the levels its block's stored parameters offer;
 *  - the RMS error relative to the data's RMS stays under a per-type
 *    bound, on uniform, Gaussian and heavy-tailed data at several scales;
 *  - that RMS error is at most a simple reference's: ggml's rounding rule
 *    for the 32-block types, and for the K-quants the same formats with
 *    each sub-block's plain min / max (Q6_K: largest magnitude) scale;
 *  - zeros stay zeros; NaN and inf inputs quantize without UB.
 */
#include <math.h>
#include <string.h>

#include "kt.h"

static const int types[] = { EK_Q4_1, EK_Q5_0, EK_Q5_1, EK_Q4_K, EK_Q5_K,
			     EK_Q6_K };
#define N_TYPES 6
/* bound on RMS(error) / RMS(x) on the test data, per type: the worst
 * measured (the heavy-tailed data) is about 0.8 of it, the best 0.4 */
static const double rms_bound[N_TYPES] = { 0.15, 0.08, 0.075, 0.115, 0.06,
					   0.033 };

#define N_DATA (256 * 32)

static int qmin(int dt)
{
	return dt == EK_Q5_0 ? -16 : dt == EK_Q6_K ? -32 : 0;
}

static int qmax(int dt)
{
	return dt == EK_Q4_1 || dt == EK_Q4_K ? 15 : dt == EK_Q6_K ? 31 :
	       dt == EK_Q5_0 ? 15 : 31;
}

static double level(int dt, const struct kt_qelem *e, int q)
{
	double v = e->d * e->sc * q;

	return dt == EK_Q4_K || dt == EK_Q5_K ? v - e->m * e->mn : v + e->m;
}

/* Each element at the nearest level its block offers. */
static void check_nearest(struct kt *t, int dt, const float *x,
			  const void *q, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		struct kt_qelem e;

		kt_block_elem(dt, q, i, &e);
		double err = fabs(x[i] - level(dt, &e, e.q));
		double slack = 1e-6 * (fabs(e.d * e.sc) + fabs(x[i]));

		for (int nq = e.q - 1; nq <= e.q + 1; nq += 2) {
			if (nq < qmin(dt) || nq > qmax(dt))
				continue;
			KT_CHECK(t, err <= fabs(x[i] - level(dt, &e, nq)) + slack,
				 "%s [%lu] %g: level %d (%g) is not the nearest, "
				 "%d (%g) is nearer", ek_dtype_name(dt),
				 (unsigned long)i, x[i], e.q, level(dt, &e, e.q),
				 nq, level(dt, &e, nq));
		}
	}
}

/* Q4_1 / Q5_1 / Q5_0 scales as ggml's reference stores them. */
static void check_scales32(struct kt *t, int dt, const float *x,
			   const uint8_t *q, uint64_t n)
{
	size_t bb = ek_row_size(dt, 32);

	for (uint64_t b = 0; b < n / 32; b++) {
		const float *v = x + 32 * b;
		float lo = v[0], hi = v[0], amax = 0.0f, m = 0.0f;
		uint16_t d, mm;

		for (int j = 0; j < 32; j++) {
			lo = fminf(lo, v[j]);
			hi = fmaxf(hi, v[j]);
			if (fabsf(v[j]) > amax) {
				amax = fabsf(v[j]);
				m = v[j];
			}
		}
		memcpy(&d, q + b * bb, 2);
		memcpy(&mm, q + b * bb + 2, 2);
		if (dt == EK_Q5_0) {
			KT_CHECK(t, d == ek_f32_to_f16(m / -16.0f),
				 "q5_0 block %lu: d %#x", (unsigned long)b, d);
			continue;
		}
		KT_CHECK(t, d == ek_f32_to_f16((hi - lo) / (dt == EK_Q4_1 ? 15.0f : 31.0f)) &&
			    mm == ek_f32_to_f16(lo),
			 "%s block %lu: d %#x m %#x", ek_dtype_name(dt),
			 (unsigned long)b, d, mm);
	}
}

/* ---- simple references, dequantized values into y ---------------------- */

static double f16r(double v)
{
	return ek_f16_to_f32(ek_f32_to_f16((float)v));
}

static int clampi(double v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : (int)v;
}

/* ggml's rule for the 32-block types (quants from the unrounded d). */
static void simple32(int dt, const float *x, double *y)
{
	double lo = x[0], hi = x[0], amax = 0, m = 0;

	for (int j = 0; j < 32; j++) {
		lo = fmin(lo, x[j]);
		hi = fmax(hi, x[j]);
		if (fabs(x[j]) > amax) {
			amax = fabs(x[j]);
			m = x[j];
		}
	}
	if (dt == EK_Q5_0) {
		double d = m / -16, id = d ? 1 / d : 0;

		for (int j = 0; j < 32; j++)
			y[j] = f16r(d) * (clampi(floor(x[j] * id + 16.5), 0, 31) - 16);
		return;
	}
	int nmax = dt == EK_Q4_1 ? 15 : 31;
	double d = (hi - lo) / nmax, id = d ? 1 / d : 0;

	for (int j = 0; j < 32; j++)
		y[j] = f16r(d) * clampi(floor((x[j] - lo) * id + 0.5), 0, nmax) +
		       f16r(lo);
}

/* Q4_K / Q5_K with each sub-block's plain range: scale (max - min) / nmax,
 * min min(0, lowest), then the same 6-bit scales and nearest quants. */
static void simple_k_affine(int nmax, const float *x, double *y)
{
	double sc[8], mn[8], msc = 0, mmn = 0;

	for (int j = 0; j < 8; j++) {
		double lo = 0, hi = x[32 * j];

		for (int l = 0; l < 32; l++) {
			lo = fmin(lo, x[32 * j + l]);
			hi = fmax(hi, x[32 * j + l]);
		}
		sc[j] = (hi - lo) / nmax;
		mn[j] = -lo;
		msc = fmax(msc, sc[j]);
		mmn = fmax(mmn, mn[j]);
	}
	double d = f16r(msc / 63), dm = f16r(mmn / 63);

	for (int j = 0; j < 8; j++) {
		double ds = d * (d ? clampi(nearbyint(sc[j] / d), 0, 63) : 0);
		double dmn = dm * (dm ? clampi(nearbyint(mn[j] / dm), 0, 63) : 0);

		for (int l = 0; l < 32; l++) {
			double v = x[32 * j + l];
			int q = ds ? clampi(nearbyint((v + dmn) / ds), 0, nmax) : 0;

			y[32 * j + l] = ds * q - dmn;
		}
	}
}

/* Q6_K with each sub-block's scale = its element of largest magnitude
 * / -32, the 8-bit scales against d = that of the largest / -128. */
static void simple_q6_K(const float *x, double *y)
{
	double sc[16], ms = 0;

	for (int j = 0; j < 16; j++) {
		double m = 0;

		for (int l = 0; l < 16; l++)
			if (fabs(x[16 * j + l]) > fabs(m))
				m = x[16 * j + l];
		sc[j] = m / -32;
		if (fabs(sc[j]) > fabs(ms))
			ms = sc[j];
	}
	double d = f16r(ms / -128);

	for (int j = 0; j < 16; j++) {
		double ds = d * (d ? clampi(nearbyint(sc[j] / d), -128, 127) : 0);

		for (int l = 0; l < 16; l++)
			y[16 * j + l] = ds ? ds * clampi(nearbyint(x[16 * j + l] / ds),
							 -32, 31) : 0;
	}
}

static double simple_sq_err(int dt, const float *x, uint64_t n)
{
	double y[256], e = 0;
	uint32_t be = ek_dtype_block(dt);

	for (uint64_t b = 0; b < n; b += be) {
		if (be == 32)
			simple32(dt, x + b, y);
		else if (dt == EK_Q6_K)
			simple_q6_K(x + b, y);
		else
			simple_k_affine(dt == EK_Q4_K ? 15 : 31, x + b, y);
		for (uint32_t i = 0; i < be; i++)
			e += (x[b + i] - y[i]) * (x[b + i] - y[i]);
	}
	return e;
}

/* ---- the checks ---------------------------------------------------------- */

static void fill(struct kt_rng *rng, int dist, float scale, float *x, int n)
{
	for (int i = 0; i < n; i++) {
		float g = kt_normal(rng);

		x[i] = scale * (dist == 0 ? kt_uniform(rng, -1.0f, 1.0f) :
				dist == 1 ? g : g * g * g);
	}
}

static void round_trip(struct kt *t, struct kt_rng *rng)
{
	static float x[N_DATA], y[N_DATA];
	static uint8_t q[N_DATA * 2];
	static const float scales[] = { 1.0f, 1e-3f, 300.0f };
	static const char *const dist_name[] = { "uniform", "gaussian",
						 "gaussian^3" };

	for (int dist = 0; dist < 3; dist++)
		for (int si = 0; si < 3; si++) {
			fill(rng, dist, scales[si], x, N_DATA);
			for (int ti = 0; ti < N_TYPES; ti++) {
				int dt = types[ti];
				double e = 0, xx = 0;

				KT_CHECK(t, ek_quantize_row(dt, x, q, N_DATA) &&
					    ek_dequantize_row(dt, q, y, N_DATA),
					 "%s quantize / dequantize", ek_dtype_name(dt));
				for (int i = 0; i < N_DATA; i++) {
					e += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
					xx += (double)x[i] * x[i];
				}
				check_nearest(t, dt, x, q, N_DATA);
				if (ek_dtype_block(dt) == 32)
					check_scales32(t, dt, x, q, N_DATA);
				KT_CHECK(t, sqrt(e / xx) <= rms_bound[ti],
					 "%s on %s x %g: relative RMS error %.4f > %.4f",
					 ek_dtype_name(dt), dist_name[dist],
					 scales[si], sqrt(e / xx), rms_bound[ti]);
				double es = simple_sq_err(dt, x, N_DATA);

				KT_CHECK(t, e <= es * (1 + 1e-9),
					 "%s on %s x %g: RMS error %.6g above the "
					 "simple reference's %.6g", ek_dtype_name(dt),
					 dist_name[dist], scales[si],
					 sqrt(e / N_DATA), sqrt(es / N_DATA));
			}
		}
}

static void special(struct kt *t)
{
	static float x[512], y[512];
	static uint8_t q[512 * 2];

	for (int ti = 0; ti < N_TYPES; ti++) {
		int dt = types[ti];
		bool zeros = true;

		memset(x, 0, sizeof(x));
		KT_CHECK(t, ek_quantize_row(dt, x, q, 512) &&
			    ek_dequantize_row(dt, q, y, 512), "%s of zeros",
			 ek_dtype_name(dt));
		for (int i = 0; i < 512; i++)
			zeros &= y[i] == 0.0f;
		KT_CHECK(t, zeros, "%s: zeros come back as zeros",
			 ek_dtype_name(dt));
		/* must not trap (UBSan) or write out of range; values
		 * unspecified */
		for (int i = 0; i < 512; i++)
			x[i] = (float)(i % 37) - 18.0f;
		x[3] = NAN;
		x[40] = INFINITY;
		x[300] = -INFINITY;
		x[301] = NAN;
		KT_CHECK(t, ek_quantize_row(dt, x, q, 512) &&
			    ek_dequantize_row(dt, q, y, 512),
			 "%s of NaN / inf", ek_dtype_name(dt));
		for (int i = 0; i < 512; i++)
			x[i] = i % 2 ? NAN : 1e38f * (i % 3 ? 1.0f : -1.0f);
		KT_CHECK(t, ek_quantize_row(dt, x, q, 512), "%s of NaN / huge",
			 ek_dtype_name(dt));
	}
}

void kt_test_quant_blocks(struct kt *t)
{
	struct kt_rng rng = { 0x0b10c4ull };

	round_trip(t, &rng);
	special(t);
}
