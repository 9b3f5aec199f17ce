/* SPDX-License-Identifier: MIT */
/*
 * GGUF v2/v3 reader: parses and validates a whole file held in memory
 * (normally an mmap). After gguf_parse() succeeds every string, array and
 * tensor it describes lies inside the buffer, so readers need no checks.
 */
#ifndef EMBER_RT_GGUF_H
#define EMBER_RT_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum gguf_type {
	GGUF_U8 = 0, GGUF_I8, GGUF_U16, GGUF_I16, GGUF_U32, GGUF_I32,
	GGUF_F32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY, GGUF_U64, GGUF_I64,
	GGUF_F64, GGUF_NTYPES
};

#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGNMENT 32

struct gguf_str {
	const char *p;		/* not NUL-terminated */
	uint64_t n;
};

struct gguf_kv {
	struct gguf_str key;
	uint32_t type;
	uint32_t arr_type;	/* GGUF_ARRAY only */
	uint64_t arr_n;		/* GGUF_ARRAY only */
	const uint8_t *val;	/* the value (for arrays: the first element) */
};

struct gguf_tensor {
	struct gguf_str name;
	uint32_t n_dims;
	uint64_t ne[GGUF_MAX_DIMS];	/* unused dims are 1 */
	uint32_t type;
	uint64_t offset;	/* from the data section */
	uint64_t nbytes;
	const void *data;
};

struct gguf_file {
	const char *name;	/* for messages (path) */
	const uint8_t *buf;
	size_t size;
	uint32_t version;
	uint32_t alignment;
	uint64_t n_kv, n_tensors;
	struct gguf_kv *kv;
	struct gguf_tensor *tensors;
	size_t data_offset;
	void *map;		/* gguf_open only */
};

/* Parses buf (kept, not copied). name is used in messages. */
int gguf_parse(struct gguf_file *f, const void *buf, size_t size,
	       const char *name, struct ember_error *err);
/* mmaps path and parses it. */
int gguf_open(struct gguf_file *f, const char *path, struct ember_error *err);
void gguf_close(struct gguf_file *f);

const char *gguf_type_name(uint32_t type);	/* of a metadata value */

const struct gguf_kv *gguf_find(const struct gguf_file *f, const char *key);
const struct gguf_tensor *gguf_tensor(const struct gguf_file *f,
				      const char *name);
bool gguf_str_eq(struct gguf_str s, const char *c);

/* Typed getters: -ENOENT if absent (err untouched, so callers can default),
 * -EINVAL with a message naming the key if present with another type.
 * Integer getters accept any integer type whose value fits. */
int gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *out,
		 struct ember_error *err);
int gguf_get_i64(const struct gguf_file *f, const char *key, int64_t *out,
		 struct ember_error *err);
int gguf_get_f32(const struct gguf_file *f, const char *key, float *out,
		 struct ember_error *err);
int gguf_get_bool(const struct gguf_file *f, const char *key, bool *out,
		  struct ember_error *err);
int gguf_get_str(const struct gguf_file *f, const char *key,
		 struct gguf_str *out, struct ember_error *err);
/* An array of elem_type (GGUF_STRING ok): -EINVAL if another type. */
int gguf_get_arr(const struct gguf_file *f, const char *key, uint32_t elem_type,
		 const struct gguf_kv **out, struct ember_error *err);

/* Iterates the strings of a validated string array: *p starts at kv->val. */
struct gguf_str gguf_next_str(const uint8_t **p);

/* Integer value of element i of an integer array, as int64. */
int64_t gguf_arr_int(const struct gguf_kv *kv, uint64_t i);

#endif
