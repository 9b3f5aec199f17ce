/* SPDX-License-Identifier: MIT */
/*
 * rmsnorm, rope, swiglu, add against double references; with u = 2^-24:
 *   rmsnorm  |out - ref| <= (8 + sqrt(dim)) u |ref| + 1e-37
 *   rope     |out - ref| <= 8 u (|x0| + |x1|)  (angles in double)
 *   swiglu   |out - ref| <= 64 u |ref| + 1e-37 (vector exp ~ few ulp)
 *   add      bitwise the float sum
 * Every executor (serial, pools 1..4) must give bitwise the same rows, and
 * in-place calls (out == x) must work.
 */
#include <math.h>
#include <string.h>

#include "kt.h"

#define U (1.0 / 16777216.0)

static void test_rmsnorm(struct kt *t, struct kt_execs *e, struct kt_rng *rng)
{
	static const uint32_t rows[] = { 1, 3, 17 };
	static const uint32_t dims[] = { 1, 7, 64, 576, 2048, 4099 };

	for (size_t ri = 0; ri < 3; ri++) {
		for (size_t di = 0; di < 6; di++) {
			uint32_t r = rows[ri], dim = dims[di];
			size_t xs = dim * 4 + 16, os = dim * 4 + 4;
			float *x = kt_alloc(xs * r), *w = kt_alloc(dim * 4);
			float *first = kt_alloc(os * r), *out = kt_alloc(os * r);
			bool use_w = (ri + di) % 2;
			float eps = 1e-5f;

			kt_fill(rng, x, xs / 4 * r, di == 0 ? 1e-3f : 2.0f);
			kt_fill(rng, w, dim, 1.0f);
			for (int ex = 0; ex <= KT_MAX_POOL; ex++) {
				float *o = ex ? out : first;

				ek_rmsnorm(&e->ex[ex], r, dim, x, xs,
					   use_w ? w : NULL, eps, o, os);
				if (ex)
					KT_CHECK(t, !memcmp(o, first, os * r - 4),
						 "rmsnorm threads=%d differ", ex);
			}
			for (uint32_t i = 0; i < r; i++) {
				const float *xr = x + i * xs / 4;
				const float *orow = first + i * os / 4;
				double ss = 0;

				for (uint32_t d = 0; d < dim; d++)
					ss += (double)xr[d] * xr[d];
				double sc = 1.0 / sqrt(ss / dim + eps);

				for (uint32_t d = 0; d < dim; d++) {
					double ref = xr[d] * sc * (use_w ? w[d] : 1.0);

					KT_CHECK(t, fabs(orow[d] - ref) <=
						 (8 + sqrt(dim)) * U * fabs(ref) + 1e-37,
						 "rmsnorm rows=%u dim=%u [%u][%u] %.9g ref %.9g",
						 r, dim, i, d, orow[d], ref);
				}
			}
			/* in place */
			float *xi = kt_alloc(xs * r);

			memcpy(xi, x, xs * r);
			ek_rmsnorm(&e->ex[2], r, dim, xi, xs, use_w ? w : NULL, eps,
				   xi, xs);
			for (uint32_t i = 0; i < r; i++)
				KT_CHECK(t, !memcmp(xi + i * xs / 4, first + i * os / 4,
						    dim * 4), "rmsnorm in place");
			kt_free(xi);
			kt_free(x);
			kt_free(w);
			kt_free(first);
			kt_free(out);
		}
	}
}

static void test_rope(struct kt *t, struct kt_execs *e, struct kt_rng *rng)
{
	struct rc {
		uint32_t rows, n_head, head_dim, rope_dim, pos0;
		float base;
	};
	static const struct rc cs[] = {
		{ 1, 1, 64, 64, 0, 10000 },     { 5, 3, 128, 128, 7, 10000 },
		{ 33, 8, 64, 32, 4000, 1e6f },  { 2, 2, 2, 2, 1, 10000 },
		{ 4, 14, 80, 80, 100, 500000 }, { 1, 32, 128, 64, 70000, 1e6f },
	};

	for (size_t ci = 0; ci < sizeof(cs) / sizeof(cs[0]); ci++) {
		for (int neox = 0; neox < 2; neox++) {
			const struct rc *c = &cs[ci];
			uint32_t w = c->n_head * c->head_dim;
			size_t xs = w * 4 + 12;
			float *x0 = kt_alloc(xs * c->rows);
			float *first = kt_alloc(xs * c->rows);
			float *x = kt_alloc(xs * c->rows);

			kt_fill(rng, x0, xs / 4 * c->rows, 1.0f);
			for (int ex = 0; ex <= KT_MAX_POOL; ex++) {
				float *y = ex ? x : first;

				memcpy(y, x0, xs * c->rows);
				ek_rope(&e->ex[ex], c->rows, c->n_head, c->head_dim,
					c->rope_dim, c->pos0, c->base, neox, y, xs);
				if (ex)
					KT_CHECK(t, !memcmp(y, first, xs * c->rows),
						 "rope threads=%d differ", ex);
			}
			/* angles once per position, then the heads: bitwise ek_rope */
			memcpy(x, x0, xs * c->rows);
			for (uint32_t r = 0; r < c->rows; r++) {
				struct ek_rope_angles a;

				KT_CHECK(t, ek_rope_angles(&a, c->rope_dim, c->pos0 + r,
							   c->base),
					 "rope angles case %zu refused", ci);
				ek_rope_heads(&a, c->n_head, c->head_dim, neox,
					      x + r * xs / 4);
			}
			KT_CHECK(t, !memcmp(x, first, xs * c->rows),
				 "rope case %zu neox=%d: ek_rope_heads differs from ek_rope",
				 ci, neox);
			for (uint32_t r = 0; r < c->rows; r++) {
				for (uint32_t h = 0; h < c->n_head; h++) {
					const float *in = x0 + r * xs / 4 + h * c->head_dim;
					const float *out = first + r * xs / 4 + h * c->head_dim;
					uint32_t half = c->rope_dim / 2;

					for (uint32_t i = 0; i < half; i++) {
						uint32_t a = neox ? i : 2 * i;
						uint32_t b = neox ? i + half : 2 * i + 1;
						double th = (double)(c->pos0 + r) *
							pow(c->base, -2.0 * i / c->rope_dim);
						double ra = in[a] * cos(th) - in[b] * sin(th);
						double rb = in[a] * sin(th) + in[b] * cos(th);
						double tl = 8 * U * (fabs(in[a]) + fabs(in[b]));

						KT_CHECK(t, fabs(out[a] - ra) <= tl &&
							 fabs(out[b] - rb) <= tl,
							 "rope case %zu neox=%d row %u head %u pair %u: "
							 "(%.8g, %.8g) ref (%.8g, %.8g)", ci, neox,
							 r, h, i, out[a], out[b], ra, rb);
					}
					for (uint32_t d = c->rope_dim; d < c->head_dim; d++)
						KT_CHECK(t, out[d] == in[d],
							 "rope touched dim %u past rope_dim", d);
				}
				KT_CHECK(t, !memcmp(first + r * xs / 4 + w,
						    x0 + r * xs / 4 + w, 12),
					 "rope wrote past the row");
			}
			kt_free(x0);
			kt_free(first);
			kt_free(x);
		}
	}
}

static void test_elementwise(struct kt *t, struct kt_execs *e,
			     struct kt_rng *rng)
{
	static const uint32_t shapes[][2] = {
		{ 1, 1 }, { 1, 7 }, { 3, 33 }, { 1, 5632 }, { 9, 1000 },
		{ 64, 576 }, { 2, 100003 },
	};

	for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
		uint32_t r = shapes[si][0], n = shapes[si][1];
		size_t as = n * 4 + 4, bs = n * 4 + 8, os = n * 4;
		float *a = kt_alloc(as * r), *b = kt_alloc(bs * r);
		float *o1 = kt_alloc(os * r), *o = kt_alloc(os * r);

		kt_fill(rng, a, as / 4 * r, 4.0f);
		kt_fill(rng, b, bs / 4 * r, 1.0f);
		if (n > 8) {
			a[0] = 100.0f;
			a[1] = -100.0f;
			a[2] = -1000.0f;
			a[3] = 0.0f;
			a[4] = -20.0f;
		}
		for (int op = 0; op < 2; op++) {
			for (int ex = 0; ex <= KT_MAX_POOL; ex++) {
				float *y = ex ? o : o1;

				if (op)
					ek_add(&e->ex[ex], r, n, a, as, b, bs, y, os);
				else
					ek_swiglu(&e->ex[ex], r, n, a, as, b, bs, y, os);
				if (ex)
					KT_CHECK(t, !memcmp(y, o1, os * r),
						 "%s threads=%d differ",
						 op ? "add" : "swiglu", ex);
			}
			for (uint32_t i = 0; i < r; i++)
				for (uint32_t j = 0; j < n; j++) {
					double g = a[i * as / 4 + j];
					double up = b[i * bs / 4 + j];
					float got = o1[i * os / 4 + j];

					if (op) {
						KT_CHECK(t, got == (float)(a[i * as / 4 + j] +
									   b[i * bs / 4 + j]),
							 "add [%u][%u]", i, j);
						continue;
					}
					double ref = g / (1 + exp(-g)) * up;

					KT_CHECK(t, fabs(got - ref) <= 64 * U * fabs(ref) + 1e-37,
						 "swiglu(%.8g, %.8g) = %.9g ref %.9g", g, up,
						 got, ref);
				}
		}
		/* in place: out == gate */
		memcpy(o, a, os * r < as * r ? os * r : as * r);
		ek_swiglu(&e->ex[2], r, n, o, os, b, bs, o, os);
		ek_swiglu(&e->ex[2], r, n, a, as, b, bs, o1, os);
		KT_CHECK(t, r > 1 || !memcmp(o, o1, os * r), "swiglu in place");
		kt_free(a);
		kt_free(b);
		kt_free(o1);
		kt_free(o);
	}
}

/* Angles ek_rope would refuse: refused, and the heads left alone. */
static void test_rope_refused(struct kt *t)
{
	static const uint32_t bad[] = { 0, 1, 3, EK_MAX_HEAD_DIM + 2 };
	float x[4] = { 1, 2, 3, 4 };
	struct ek_rope_angles a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		KT_CHECK(t, !ek_rope_angles(&a, bad[i], 5, 10000) && !a.rope_dim,
			 "rope angles for rope_dim %u accepted", bad[i]);
		ek_rope_heads(&a, 1, 4, false, x);
		KT_CHECK(t, x[0] == 1 && x[1] == 2 && x[2] == 3 && x[3] == 4,
			 "refused angles rotated a head");
	}
	/* rope_dim 4 angles on heads of 2: more rope than head */
	KT_CHECK(t, ek_rope_angles(&a, 4, 5, 10000), "rope angles 4 refused");
	ek_rope_heads(&a, 2, 2, false, x);
	KT_CHECK(t, x[0] == 1 && x[3] == 4, "rope on heads shorter than rope_dim");
}

void kt_test_ops(struct kt *t, struct kt_execs *e)
{
	struct kt_rng rng = { 0x0b5ull << 20 };

	test_rmsnorm(t, e, &rng);
	test_rope(t, e, &rng);
	test_rope_refused(t);
	test_elementwise(t, e, &rng);
}
