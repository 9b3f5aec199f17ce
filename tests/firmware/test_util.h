/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the firmware host tests: checks that say what
 * went wrong, a seeded PRNG, and independent f16/bf16 decoders for the
 * references (the tests must not trust the kernels' own converters). */
#ifndef EMBER_TEST_UTIL_H
#define EMBER_TEST_UTIL_H

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int test_failures;

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			test_failures++;                                    \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__,       \
				__LINE__, #cond);                           \
			fprintf(stderr, __VA_ARGS__);                       \
			fputc('\n', stderr);                                \
		}                                                           \
	} while (0)

#define CHECK_EQ_U64(got, want, what)                                       \
	CHECK((uint64_t)(got) == (uint64_t)(want),                          \
	      "%s: got %" PRIu64 " (0x%" PRIx64 "), want %" PRIu64          \
	      " (0x%" PRIx64 ")", what, (uint64_t)(got), (uint64_t)(got),   \
	      (uint64_t)(want), (uint64_t)(want))

static inline int test_finish(const char *name)
{
	if (test_failures) {
		fprintf(stderr, "%s: %d check(s) FAILED\n", name, test_failures);
		return 1;
	}
	printf("%s: all checks passed\n", name);
	return 0;
}

/* xorshift64*: deterministic, seedable. */
struct rng {
	uint64_t s;
};

static inline uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(rng_next(r) % n);
}

/* Uniform in [-1, 1). */
static inline float rng_unit(struct rng *r)
{
	return (float)((double)(rng_next(r) >> 11) / 4503599627370496.0 - 1.0);
}

/* IEEE half -> double, written from the format definition. */
static inline double ref_f16(uint16_t h)
{
	int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
	double v;

	if (exp == 0)
		v = ldexp(man, -24);
	else if (exp == 31)
		v = man ? NAN : INFINITY;
	else
		v = ldexp(man + 1024, exp - 25);
	return sign ? -v : v;
}

static inline double ref_bf16(uint16_t h)
{
	uint32_t bits = (uint32_t)h << 16;
	float f;

	memcpy(&f, &bits, sizeof(f));
	return f;
}

/* A random finite half with |v| in about [2^-(lo), 2^(hi)). */
static inline uint16_t rng_f16(struct rng *r, int exp_lo, int exp_hi)
{
	uint16_t sign = (uint16_t)(rng_below(r, 2) << 15);
	uint16_t exp = (uint16_t)(15 + exp_lo + (int)rng_below(r, (uint32_t)(exp_hi - exp_lo)));

	return (uint16_t)(sign | exp << 10 | rng_below(r, 1024));
}

static inline uint16_t rng_bf16(struct rng *r, int exp_lo, int exp_hi)
{
	uint16_t sign = (uint16_t)(rng_below(r, 2) << 15);
	uint16_t exp = (uint16_t)(127 + exp_lo + (int)rng_below(r, (uint32_t)(exp_hi - exp_lo)));

	return (uint16_t)(sign | exp << 7 | rng_below(r, 128));
}

#endif /* EMBER_TEST_UTIL_H */
