/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kt.h"

void kt_fail(struct kt *t, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	t->fails++;
	if (t->reported >= t->max_reports)
		return;
	t->reported++;
	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

uint64_t kt_next(struct kt_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

float kt_uniform(struct kt_rng *r, float lo, float hi)
{
	double u = (double)(kt_next(r) >> 11) * (1.0 / 9007199254740992.0);

	return (float)(lo + (hi - lo) * u);
}

float kt_normal(struct kt_rng *r)
{
	double u1 = ((double)(kt_next(r) >> 11) + 1.0) / 9007199254740993.0;
	double u2 = (double)(kt_next(r) >> 11) / 9007199254740992.0;

	return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void kt_fill(struct kt_rng *r, float *x, size_t n, float scale)
{
	for (size_t i = 0; i < n; i++)
		x[i] = scale * kt_normal(r);
}

double kt_half_value(uint16_t h)
{
	int e = (h >> 10) & 0x1f, m = h & 0x3ff;
	double s = (h & 0x8000) ? -1.0 : 1.0;

	if (e == 0x1f)
		return m ? NAN : s * INFINITY;
	if (e == 0)
		return s * ldexp(m, -24);
	return s * ldexp(1024 + m, e - 25);
}

double kt_bf16_value(uint16_t h)
{
	int e = (h >> 7) & 0xff, m = h & 0x7f;
	double s = (h & 0x8000) ? -1.0 : 1.0;

	if (e == 0xff)
		return m ? NAN : s * INFINITY;
	if (e == 0)
		return s * ldexp(m, -133);
	return s * ldexp(128 + m, e - 134);
}

double kt_weight(int dtype, const void *row, uint64_t i)
{
	const uint8_t *b = row;
	uint16_t h;

	switch (dtype) {
	case EK_F32: {
		float f;

		memcpy(&f, b + i * 4, 4);
		return f;
	}
	case EK_F16:
		memcpy(&h, b + i * 2, 2);
		return kt_half_value(h);
	case EK_BF16:
		memcpy(&h, b + i * 2, 2);
		return kt_bf16_value(h);
	case EK_Q8_0: {
		/* 34-byte blocks: f16 scale, then 32 signed quants */
		const uint8_t *blk = b + (i / 32) * 34;

		memcpy(&h, blk, 2);
		return kt_half_value(h) * (double)(int8_t)blk[2 + i % 32];
	}
	case EK_Q4_0: {
		/* 18-byte blocks: f16 scale, 16 bytes; element j < 16 is the
		 * low nibble of byte j, element 16 + j the high nibble */
		const uint8_t *blk = b + (i / 32) * 18;
		unsigned j = (unsigned)(i % 32);
		int q = j < 16 ? (blk[2 + j] & 15) : (blk[2 + j - 16] >> 4);

		memcpy(&h, blk, 2);
		return kt_half_value(h) * (double)(q - 8);
	}
	default: {
		double s, o;

		kt_block_parts(dtype, row, i, &s, &o);
		return s + o;
	}
	}
}

double kt_weight_mag(int dtype, const void *row, uint64_t i)
{
	double s, o;

	if (dtype == EK_F32 || dtype == EK_F16 || dtype == EK_BF16 ||
	    dtype == EK_Q8_0 || dtype == EK_Q4_0)
		return fabs(kt_weight(dtype, row, i));
	kt_block_parts(dtype, row, i, &s, &o);
	return fabs(s) + fabs(o);
}

void *kt_alloc(size_t bytes)
{
	void *p = NULL;

	if (posix_memalign(&p, 64, bytes ? bytes : 1)) {
		fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
		abort();
	}
	memset(p, 0, bytes);
	return p;
}

void kt_free(void *p)
{
	free(p);
}

void kt_execs_init(struct kt_execs *e)
{
	e->pool[0] = NULL;
	e->ex[0] = ek_exec_serial;
	for (int i = 1; i <= KT_MAX_POOL; i++) {
		e->pool[i] = ek_pool_create(i);
		if (!e->pool[i]) {
			fprintf(stderr, "ek_pool_create(%d) failed\n", i);
			abort();
		}
		e->ex[i] = ek_pool_exec(e->pool[i]);
	}
}

void kt_execs_fini(struct kt_execs *e)
{
	for (int i = 1; i <= KT_MAX_POOL; i++)
		ek_pool_destroy(e->pool[i]);
}
