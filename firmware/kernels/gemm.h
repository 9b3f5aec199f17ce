/* SPDX-License-Identifier: MIT */
/*
 * The tiled GEMM for float weights (prefill shapes). The driver in gemm.c
 * is plain C: it blocks K by kc and M by mc, packs A in groups of mr rows
 * (ap[k][mr]) and each panel of nr W rows converted to f32 (wp[k][nr]), and
 * calls a register-blocked microkernel per ISA that computes an mr x nr
 * tile of C over kc. Each C element is summed in the same k order whatever
 * the thread split, so results do not depend on the thread count.
 */
#ifndef EK_GEMM_H
#define EK_GEMM_H

#include "ek_internal.h"

/* Smallest M worth packing for (below it the dot path streams W once). */
#define EK_GEMM_MIN_M 8

struct ek_gemm_impl {
	uint32_t mr, nr, kc, mc;
	/* tile: c = (load_c ? c : 0) + ap * wp (+ bias if bias != NULL);
	 * only the mv x nv corner is loaded and stored */
	void (*ukr)(uint32_t kc, const float *ap, const float *wp, float *c,
		    size_t c_stride, uint32_t mv, uint32_t nv, bool load_c,
		    const float *bias);
	/* wp[k][nr] = W[n0 + r][k0 + k] for r < nv, 0 for nv <= r < nr */
	void (*pack_w)(const struct ek_matmul *p, uint32_t n0, uint32_t nv,
		       uint32_t k0, uint32_t kc, uint32_t nr, float *wp);
};

size_t ek_gemm_bytes(const struct ek_gemm_impl *g, const struct ek_matmul *p);
void ek_gemm_run(const struct ek_gemm_impl *g, const struct ek_matmul *p,
		 void *buf, int i, int n);
/* Portable W packing (any float dtype). */
void ek_gemm_pack_w_portable(const struct ek_matmul *p, uint32_t n0,
			     uint32_t nv, uint32_t k0, uint32_t kc,
			     uint32_t nr, float *wp);

#endif /* EK_GEMM_H */
