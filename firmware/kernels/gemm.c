/* SPDX-License-Identifier: MIT */
/* The GEMM driver: blocking, packing of A, calls to the microkernel. */
#include "gemm.h"

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static uint32_t gemm_mc(const struct ek_gemm_impl *g,
			const struct ek_matmul *p)
{
	uint32_t mc = min_u32(p->m, g->mc);

	return (mc + g->mr - 1) / g->mr * g->mr;
}

size_t ek_gemm_bytes(const struct ek_gemm_impl *g, const struct ek_matmul *p)
{
	if (p->m < EK_GEMM_MIN_M)
		return 0;
	return ((size_t)gemm_mc(g, p) * g->kc + (size_t)g->kc * g->nr) * 4 +
	       64;
}

/* ap[group][k][mr] for rows m0.. of A, zero rows past mv */
static void pack_a(const struct ek_matmul *p, uint32_t m0, uint32_t mv,
		   uint32_t k0, uint32_t kc, uint32_t mr, float *ap)
{
	for (uint32_t g = 0; g < mv; g += mr) {
		uint32_t rows = min_u32(mr, mv - g);
		float *dst = ap + (size_t)g * kc;

		for (uint32_t i = 0; i < rows; i++) {
			const float *a = ek_ptr_add(p->a, (size_t)(m0 + g + i) *
						    p->a_stride);

			a += k0;
			for (uint32_t k = 0; k < kc; k++)
				dst[(size_t)k * mr + i] = a[k];
		}
		for (uint32_t i = rows; i < mr; i++)
			for (uint32_t k = 0; k < kc; k++)
				dst[(size_t)k * mr + i] = 0.0f;
	}
}

void ek_gemm_pack_w_portable(const struct ek_matmul *p, uint32_t n0,
			     uint32_t nv, uint32_t k0, uint32_t kc,
			     uint32_t nr, float *wp)
{
	float row[256];

	for (uint32_t r = 0; r < nr; r++) {
		if (r >= nv) {
			for (uint32_t k = 0; k < kc; k++)
				wp[(size_t)k * nr + r] = 0.0f;
			continue;
		}
		const void *w = ek_ptr_add(p->w, (size_t)(n0 + r) * p->w_stride);

		for (uint32_t kb = 0; kb < kc; kb += 256) {
			uint32_t len = min_u32(256, kc - kb);
			size_t es = ek_elem_size(p->w_dtype);

			ek_dequantize_row(p->w_dtype,
					  ek_ptr_add(w, (size_t)(k0 + kb) * es),
					  row, len);
			for (uint32_t k = 0; k < len; k++)
				wp[(size_t)(kb + k) * nr + r] = row[k];
		}
	}
}

void ek_gemm_run(const struct ek_gemm_impl *g, const struct ek_matmul *p,
		 void *buf, int i, int n)
{
	uint32_t mc = gemm_mc(g, p);
	float *ap = (float *)(((uintptr_t)buf + 63) & ~(uintptr_t)63);
	float *wp = ap + (size_t)mc * g->kc;
	uint64_t panels = (p->n + g->nr - 1) / g->nr, p0, p1;

	ek_split(panels, 1, i, n, &p0, &p1);
	if (p0 >= p1)
		return;
	for (uint32_t m0 = 0; m0 < p->m; m0 += mc) {
		uint32_t mv = min_u32(mc, p->m - m0);

		for (uint32_t k0 = 0; k0 < p->k; k0 += g->kc) {
			uint32_t kc = min_u32(g->kc, p->k - k0);
			bool load_c = k0 > 0 || p->accumulate;
			bool last = k0 + kc == p->k;

			pack_a(p, m0, mv, k0, kc, g->mr, ap);
			for (uint64_t pn = p0; pn < p1; pn++) {
				uint32_t n0 = (uint32_t)pn * g->nr;
				uint32_t nv = min_u32(g->nr, p->n - n0);

				g->pack_w(p, n0, nv, k0, kc, g->nr, wp);
				for (uint32_t mm = 0; mm < mv; mm += g->mr) {
					float *c = ek_ptr_add_mut(p->c,
						(size_t)(m0 + mm) * p->c_stride);

					g->ukr(kc, ap + (size_t)mm * kc, wp,
					       c + n0, p->c_stride,
					       min_u32(g->mr, mv - mm), nv,
					       load_c,
					       last && p->bias ? p->bias + n0 :
								 NULL);
				}
			}
		}
	}
}
