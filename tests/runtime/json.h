/* SPDX-License-Identifier: MIT */
/* A minimal JSON reader for test reference files (objects, arrays,
 * strings with escapes, numbers, true/false/null). */
#ifndef EMBER_TEST_JSON_H
#define EMBER_TEST_JSON_H

#include <stddef.h>

enum json_kind { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ };

struct json {
	enum json_kind kind;
	double num;		/* NUM, BOOL */
	char *str;		/* STR (NUL-terminated, may hold NULs: see len) */
	size_t len;
	struct json *items;	/* ARR, OBJ values */
	char **keys;		/* OBJ */
	size_t n;
};

/* Parses text; NULL on a syntax error. */
struct json *json_parse(const char *text, size_t len);
struct json *json_parse_file(const char *path);
void json_free(struct json *j);
const struct json *json_get(const struct json *obj, const char *key);

#endif
