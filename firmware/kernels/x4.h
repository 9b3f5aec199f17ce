/* SPDX-License-Identifier: MIT */
/* Addressing of the X4 weight layout (defined in ember/kernels.h). */
#ifndef EK_X4_H
#define EK_X4_H

#include "ek_internal.h"

/* Bytes of quants per block of a group of four rows. */
static inline size_t ek_x4_qb(int dtype)
{
	return dtype == EK_Q8_0 ? 128 : 64;
}

static inline uint64_t ek_x4_groups(uint64_t n)
{
	return (n + 3) / 4;
}

/* Index of block b of row r among a group's 4 x nb scales. */
static inline uint64_t ek_x4_scale_index(uint64_t nb, uint64_t b, int r)
{
	uint64_t j = b / 4, t = nb - 4 * j < 4 ? nb - 4 * j : 4;

	return 16 * j + t * (uint64_t)r + (b - 4 * j);
}

/* The two planes of an X4 matrix of n rows, nb blocks per row. */
static inline const uint16_t *ek_x4_scales(const void *x4, int dtype,
					   uint64_t n, uint64_t nb)
{
	return ek_ptr_add(x4, ek_x4_groups(n) * nb * ek_x4_qb(dtype));
}

#endif /* EK_X4_H */
