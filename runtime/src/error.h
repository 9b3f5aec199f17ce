/* SPDX-License-Identifier: MIT */
/* Filling struct ember_error: every failure is -errno plus a sentence. */
#ifndef EMBER_RT_ERROR_H
#define EMBER_RT_ERROR_H

#include <ember/runtime.h>

/* Sets err (if not NULL) and returns code (a negative errno). */
int ember_fail(struct ember_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
