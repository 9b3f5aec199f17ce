/* SPDX-License-Identifier: MIT */
/*
 * The X4 weight layout: packing from GGUF rows, reading a row back, and
 * the portable dots over it (the reference for the SIMD ones, and the
 * path on CPUs without them).
 */
#include "matmul_kernels.h"
#include "x4.h"

size_t ek_x4_size(int dtype, uint64_t n, uint64_t k)
{
	if ((dtype != EK_Q8_0 && dtype != EK_Q4_0) || !n || !k || k % EK_QK)
		return 0;
	return ek_x4_groups(n) * (k / EK_QK) * (ek_x4_qb(dtype) + 8);
}

/* The GGUF quants qs (16 nibble bytes or 32 signed bytes) of block b of
 * row r into the group's quants at q. */
static void x4_put(int dtype, uint8_t *q, uint64_t b, int r,
		   const uint8_t *qs)
{
	uint8_t *e = q + b * ek_x4_qb(dtype);
	uint64_t v[4];

	if (dtype == EK_Q4_0) {
		memcpy(e + 16 * r, qs, 16);
		return;
	}
	memcpy(v, qs, sizeof(v));
	for (int i = 0; i < 4; i++)
		v[i] ^= 0x8080808080808080ull;	/* s8 -> u8 + 128 */
	memcpy(e + 16 * r, v, 16);
	memcpy(e + 64 + 16 * r, v + 2, 16);
}

bool ek_x4_pack_part(int dtype, const void *w, size_t w_stride, uint64_t n,
		     uint64_t k, uint64_t g0, uint64_t g1, void *dst)
{
	size_t size = ek_x4_size(dtype, n, k);
	uint64_t nb = k / EK_QK;
	size_t qb = ek_x4_qb(dtype), bs = ek_row_size(dtype, EK_QK);
	static const uint8_t zero[EK_QK];

	if (!size || !w || !dst || g0 > g1 || g1 > ek_x4_groups(n))
		return false;
	uint16_t *d = ek_ptr_add_mut(dst, ek_x4_groups(n) * nb * qb);

	for (uint64_t g = g0; g < g1; g++) {
		uint8_t *q = ek_ptr_add_mut(dst, g * nb * qb);

		for (int r = 0; r < 4; r++) {
			uint64_t row = 4 * g + (uint64_t)r;

			for (uint64_t b = 0; b < nb; b++) {
				const uint8_t *qs = zero;
				uint16_t scale = 0;

				/* the rows past n of the last group are zero */
				if (row < n) {
					const uint8_t *blk = ek_ptr_add(w, row * w_stride +
									b * bs);

					memcpy(&scale, blk, sizeof(scale));
					qs = blk + sizeof(scale);
				}
				d[g * nb * 4 + ek_x4_scale_index(nb, b, r)] = scale;
				x4_put(dtype, q, b, r, qs);
			}
		}
	}
	return true;
}

bool ek_x4_pack(int dtype, const void *w, size_t w_stride, uint64_t n,
		uint64_t k, void *dst)
{
	return ek_x4_pack_part(dtype, w, w_stride, n, k, 0, ek_x4_groups(n), dst);
}

/* Weight j (0..31) of block b of row r of the group at q, as an integer. */
static int x4_weight(int dtype, const uint8_t *q, uint64_t b, int r, int j)
{
	const uint8_t *e = q + b * ek_x4_qb(dtype);

	if (dtype == EK_Q4_0) {
		uint8_t byte = e[16 * r + j % 16];

		return (j < 16 ? byte & 0x0f : byte >> 4) - 8;
	}
	return (int)e[64 * (j / 16) + 16 * r + j % 16] - 128;
}

bool ek_x4_dequantize_row(int dtype, const void *x4, uint64_t n, uint64_t k,
			  uint64_t r, float *dst)
{
	uint64_t nb = k / EK_QK;

	if (!ek_x4_size(dtype, n, k) || !x4 || !dst || r >= n)
		return false;
	const uint8_t *q = ek_ptr_add(x4, r / 4 * nb * ek_x4_qb(dtype));
	const uint16_t *d = ek_x4_scales(x4, dtype, n, nb) + r / 4 * nb * 4;

	for (uint64_t b = 0; b < nb; b++) {
		float s = ek_f16_to_f32(d[ek_x4_scale_index(nb, b, (int)(r % 4))]);

		for (int j = 0; j < EK_QK; j++)
			dst[b * EK_QK + (uint64_t)j] =
				s * (float)x4_weight(dtype, q, b, (int)(r % 4), j);
	}
	return true;
}

bool ek_x4_preferred(int dtype)
{
	const struct ek_mm_kernels *k = ek_mm_kernels_for(ek_isa());

	return (dtype == EK_Q8_0 && k->dotx4_q8_0) ||
	       (dtype == EK_Q4_0 && k->dotx4_q4_0);
}

/* One group against one activation row, block by block as the rows'
 * portable dots do. */
static void x4_group(int dtype, const uint8_t *q, const uint16_t *d,
		     const struct ek_q8_row *a, uint64_t nb, float out[4])
{
	for (int r = 0; r < 4; r++) {
		float sum = 0.0f;

		for (uint64_t b = 0; b < nb; b++) {
			const int8_t *aq = a->qs + b * EK_QK;
			int32_t isum = 0;

			for (int j = 0; j < EK_QK; j++)
				isum += x4_weight(dtype, q, b, r, j) * aq[j];
			sum += ek_f16_to_f32(d[ek_x4_scale_index(nb, b, r)]) *
			       a->d[b] * (float)isum;
		}
		out[r] = sum;
	}
}

#define DEFINE_X4_PORTABLE(T, DT)                                            \
void ek_dotx4_##T##_portable(const uint8_t *const q[4],                      \
			     const uint16_t *const d[4], int ns, size_t pf,   \
			     const struct ek_q8_row *a, uint64_t nb,          \
			     float out[4][4])                                 \
{                                                                            \
	(void)pf;                                                            \
	for (int s = 0; s < ns; s++)                                         \
		x4_group(DT, q[s], d[s], a, nb, out[s]);                     \
}

DEFINE_X4_PORTABLE(q8_0, EK_Q8_0)
DEFINE_X4_PORTABLE(q4_0, EK_Q4_0)
