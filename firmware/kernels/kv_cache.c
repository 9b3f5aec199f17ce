/* SPDX-License-Identifier: MIT */
/* Writing a K/V cache in either layout (ember/kernels.h: ek_kv_layout). */
#include "attention.h"

size_t ek_kv_bytes(int layout, size_t kv_stride, uint32_t n_pos)
{
	uint64_t n = n_pos;

	if (layout == EK_KV_KT16)
		n = (n + EK_KV_TILE - 1) / EK_KV_TILE * EK_KV_TILE;
	return (size_t)n * kv_stride;
}

size_t ek_kv_col_offset(int layout, int dtype, uint32_t c)
{
	return ek_row_size(dtype, c) * (layout == EK_KV_KT16 ? EK_KV_TILE : 1);
}

/* Q8_0 into a KT16 tile: each block quantized as a row would be, then its
 * values (+ 128, as u8) and scale spread to the lane of the position. */
static void kv_store_kt16_q8(char *tile, uint32_t lane, uint32_t c0,
			     const float *x, uint32_t n)
{
	struct ek_block_q8_0 blk;

	for (uint32_t i = 0; i < n; i += EK_QK) {
		char *b = tile + (size_t)(c0 + i) / EK_QK * EK_KV_Q8_TILE_BLOCK;

		ek_quantize_row(EK_Q8_0, x + i, &blk, EK_QK);
		for (uint32_t c = 0; c < EK_QK; c++)
			b[ek_kv_q8_byte(c, lane)] = (char)(uint8_t)(blk.qs[c] + 128);
		memcpy(b + EK_KV_Q8_SCALES + lane * sizeof(blk.d), &blk.d,
		       sizeof(blk.d));
	}
}

void ek_kv_store(int dtype, int layout, void *cache, size_t kv_stride,
		 uint32_t pos, uint32_t c0, const float *x, uint32_t n)
{
	const size_t es = ek_elem_size(dtype);

	if (layout != EK_KV_KT16) {
		ek_quantize_row(dtype, x, ek_ptr_add_mut(cache, (size_t)pos *
				kv_stride + ek_row_size(dtype, c0)), n);
		return;
	}
	/* converted a chunk at a time, then one value per column's run */
	char *tile = ek_ptr_add_mut(cache, (size_t)(pos / EK_KV_TILE) *
				    EK_KV_TILE * kv_stride);
	_Alignas(64) char buf[64 * sizeof(float)];
	const uint32_t lane = pos % EK_KV_TILE;

	if (dtype == EK_Q8_0) {
		kv_store_kt16_q8(tile, lane, c0, x, n);
		return;
	}
	for (uint32_t i = 0; i < n; i += 64) {
		uint32_t m = n - i < 64 ? n - i : 64;

		ek_quantize_row(dtype, x + i, buf, m);
		for (uint32_t c = 0; c < m; c++)
			memcpy(tile + ((size_t)(c0 + i + c) * EK_KV_TILE + lane) * es,
			       buf + c * es, es);
	}
}

bool ek_kv_kt16_preferred(void)
{
	return ek_attn_kt16_native(ek_isa());
}
