/* SPDX-License-Identifier: MIT */
/*
 * The X16 weight layout: packing from GGUF rows, reading a row back, and
 * the portable dots over it (the reference for the SIMD ones, and the
 * path on CPUs without them).
 */
#include "matmul_kernels.h"
#include "x16.h"

size_t ek_x16_size(int dtype, uint64_t n, uint64_t k)
{
	if ((dtype != EK_Q8_0 && dtype != EK_Q4_0) || !n || !k || k % EK_QK)
		return 0;
	return ek_x16_groups(n) * (k / EK_QK) *
	       (ek_x16_qb(dtype) + 2 * EK_X16_ROWS);
}

/* The GGUF quants qs (16 nibble bytes or 32 signed bytes) of row r into
 * the block's entry e: four bytes to each chunk. */
static void x16_put(int dtype, uint8_t *e, int r, const uint8_t *qs)
{
	int chunks = dtype == EK_Q4_0 ? 4 : 8;

	for (int c = 0; c < chunks; c++) {
		uint32_t v;

		memcpy(&v, qs + 4 * c, sizeof(v));
		if (dtype == EK_Q8_0)
			v ^= 0x80808080u;	/* s8 -> u8 + 128 */
		memcpy(e + 64 * c + 4 * r, &v, sizeof(v));
	}
}

bool ek_x16_pack_part(int dtype, const void *w, size_t w_stride, uint64_t n,
		      uint64_t k, uint64_t g0, uint64_t g1, void *dst)
{
	size_t size = ek_x16_size(dtype, n, k);
	uint64_t nb = k / EK_QK;
	size_t qb = ek_x16_qb(dtype), bs = ek_row_size(dtype, EK_QK);
	static const uint8_t zero[EK_QK];

	if (!size || !w || !dst || g0 > g1 || g1 > ek_x16_groups(n))
		return false;
	uint16_t *d = ek_ptr_add_mut(dst, ek_x16_groups(n) * nb * qb);
	ek_x16_pack_fn pack = ek_mm_kernels_for(ek_isa())->x16_pack;

	for (uint64_t g = g0; g < g1; g++) {
		/* whole groups in SIMD where there is a packer for them */
		if (pack && EK_X16_ROWS * (g + 1) <= n) {
			pack(dtype, ek_ptr_add(w, EK_X16_ROWS * g * w_stride), w_stride,
			     nb, ek_ptr_add_mut(dst, g * nb * qb), d + g * nb * EK_X16_ROWS);
			continue;
		}
		for (int r = 0; r < EK_X16_ROWS; r++) {
			uint64_t row = EK_X16_ROWS * g + (uint64_t)r;

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
				d[(g * nb + b) * EK_X16_ROWS + (uint64_t)r] = scale;
				x16_put(dtype, ek_ptr_add_mut(dst, (g * nb + b) * qb),
					r, qs);
			}
		}
	}
	return true;
}

bool ek_x16_pack(int dtype, const void *w, size_t w_stride, uint64_t n,
		 uint64_t k, void *dst)
{
	return ek_x16_pack_part(dtype, w, w_stride, n, k, 0, ek_x16_groups(n),
				dst);
}

/* Weight j (0..31) of row r in the block entry e, as an integer. */
static int x16_weight(int dtype, const uint8_t *e, int r, int j)
{
	if (dtype == EK_Q4_0) {
		uint8_t byte = e[64 * (j % 16 / 4) + 4 * r + j % 4];

		return (j < 16 ? byte & 0x0f : byte >> 4) - 8;
	}
	return (int)e[64 * (j / 4) + 4 * r + j % 4] - 128;
}

bool ek_x16_dequantize_row(int dtype, const void *x16, uint64_t n,
			   uint64_t k, uint64_t r, float *dst)
{
	uint64_t nb = k / EK_QK, g = r / EK_X16_ROWS;
	int lane = (int)(r % EK_X16_ROWS);

	if (!ek_x16_size(dtype, n, k) || !x16 || !dst || r >= n)
		return false;
	const uint16_t *d = ek_x16_scales(x16, dtype, n, nb);

	for (uint64_t b = 0; b < nb; b++) {
		const uint8_t *e = ek_ptr_add(x16, (g * nb + b) * ek_x16_qb(dtype));
		float s = ek_f16_to_f32(d[(g * nb + b) * EK_X16_ROWS + (uint64_t)lane]);

		for (int j = 0; j < EK_QK; j++)
			dst[b * EK_QK + (uint64_t)j] =
				s * (float)x16_weight(dtype, e, lane, j);
	}
	return true;
}

bool ek_x16_preferred(int dtype)
{
	const struct ek_mm_kernels *k = ek_mm_kernels_for(ek_isa());

	return (dtype == EK_Q8_0 && k->dotx16_q8_0) ||
	       (dtype == EK_Q4_0 && k->dotx16_q4_0);
}

/* One group against one activation row, block by block as the rows'
 * portable dots do. */
static void x16_group(int dtype, const uint8_t *q, const uint16_t *d,
		      const struct ek_q8_row *a, uint64_t nb,
		      float out[EK_X16_ROWS])
{
	for (int r = 0; r < EK_X16_ROWS; r++) {
		float sum = 0.0f;

		for (uint64_t b = 0; b < nb; b++) {
			const uint8_t *e = q + b * ek_x16_qb(dtype);
			const int8_t *aq = a->qs + b * EK_QK;
			int32_t isum = 0;

			for (int j = 0; j < EK_QK; j++)
				isum += x16_weight(dtype, e, r, j) * aq[j];
			sum += ek_f16_to_f32(d[b * EK_X16_ROWS + (uint64_t)r]) *
			       a->d[b] * (float)isum;
		}
		out[r] = sum;
	}
}

#define DEFINE_X16_PORTABLE(T, DT)                                           \
void ek_dotx16_##T##_portable(const uint8_t *const q[4],                     \
			      const uint16_t *const d[4], int ns, size_t pf,  \
			      const struct ek_q8_row *a, uint64_t nb,         \
			      float out[4][EK_X16_ROWS])                      \
{                                                                            \
	(void)pf;                                                            \
	for (int s = 0; s < ns; s++)                                         \
		x16_group(DT, q[s], d[s], a, nb, out[s]);                    \
}

DEFINE_X16_PORTABLE(q8_0, EK_Q8_0)
DEFINE_X16_PORTABLE(q4_0, EK_Q4_0)
