/* SPDX-License-Identifier: MIT */
/* Addressing of the X16 weight layout (defined in ember/kernels.h). */
#ifndef EK_X16_H
#define EK_X16_H

#include "ek_internal.h"

/* Bytes of quants per block of a group: 64-byte chunks of four weights
 * of the 16 rows (Q4_0: two nibbles a byte, so half as many chunks). */
static inline size_t ek_x16_qb(int dtype)
{
	return dtype == EK_Q8_0 ? 512 : 256;
}

static inline uint64_t ek_x16_groups(uint64_t n)
{
	return (n + EK_X16_ROWS - 1) / EK_X16_ROWS;
}

/* The scales plane of an X16 matrix of n rows, nb blocks per row; block b
 * of group g holds its 16 rows' scales at 16 (g nb + b). */
static inline const uint16_t *ek_x16_scales(const void *x16, int dtype,
					    uint64_t n, uint64_t nb)
{
	return ek_ptr_add(x16, ek_x16_groups(n) * nb * ek_x16_qb(dtype));
}

#endif /* EK_X16_H */
