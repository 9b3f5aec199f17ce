/* SPDX-License-Identifier: MIT */
/* The checks of the small libember host tests: each failed CHECK is counted
 * and said on stdout; check_summary() ends the test. */
#ifndef EMBER_LIB_TESTS_CHECK_H
#define EMBER_LIB_TESTS_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		failures++; \
		printf("not ok: %s: ", #cond); \
		printf(__VA_ARGS__); \
		printf("\n"); \
	} \
} while (0)

/* The last line of the test and its exit status. */
static inline int check_summary(void)
{
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}

#endif /* EMBER_LIB_TESTS_CHECK_H */
