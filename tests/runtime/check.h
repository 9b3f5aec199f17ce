/* SPDX-License-Identifier: MIT */
/* Minimal test helpers: CHECK records a failure and goes on; the test's
 * exit status is the failure count (77 = skipped, for meson). */
#ifndef EMBER_TEST_CHECK_H
#define EMBER_TEST_CHECK_H

#include <stdio.h>

extern int check_failures;
extern int check_count;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		check_count++;                                                \
		if (!(cond)) {                                                \
			check_failures++;                                     \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                         \
			fputc('\n', stderr);                                  \
		}                                                             \
	} while (0)

#define CHECK_DONE(name)                                                      \
	(printf("%s: %d checks, %d failed\n", name, check_count, check_failures), \
	 check_failures ? 1 : 0)

#define SKIP_EXIT 77

#endif
