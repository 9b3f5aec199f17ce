/* SPDX-License-Identifier: MIT */
/* Writing GGUF v3 files (ember-mkmodel, tests). Metadata is appended in
 * call order; tensor data comes from a pointer or, for big generated
 * tensors, from a callback that produces it while the file is written. */
#ifndef EMBER_RT_GGUF_WRITE_H
#define EMBER_RT_GGUF_WRITE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gguf.h"

struct gguf_writer;

/* Writes the tensor's nbytes of data to f; returns 0 or -errno. */
typedef int (*gw_data_fn)(void *arg, FILE *f, uint64_t nbytes);

struct gguf_writer *gw_new(void);
void gw_free(struct gguf_writer *w);
void gw_set_version(struct gguf_writer *w, uint32_t version);
void gw_set_alignment(struct gguf_writer *w, uint32_t alignment); /* also writes the key */

void gw_str(struct gguf_writer *w, const char *key, const char *val);
void gw_u32(struct gguf_writer *w, const char *key, uint32_t val);
void gw_i32(struct gguf_writer *w, const char *key, int32_t val);
void gw_f32(struct gguf_writer *w, const char *key, float val);
void gw_bool(struct gguf_writer *w, const char *key, bool val);
void gw_arr_str(struct gguf_writer *w, const char *key, const char *const *v, uint64_t n);
void gw_arr_f32(struct gguf_writer *w, const char *key, const float *v, uint64_t n);
void gw_arr_i32(struct gguf_writer *w, const char *key, const int32_t *v, uint64_t n);
/* Any value: type and raw little-endian bytes (arrays: the full encoding). */
void gw_raw(struct gguf_writer *w, const char *key, uint32_t type, const void *val,
	    size_t size);
/* Copies every key/value of f (except general.alignment). */
void gw_copy_kvs(struct gguf_writer *w, const struct gguf_file *f);

/* A tensor with ne[0..n_dims) of dtype; data (kept, not copied) or fn. */
void gw_tensor(struct gguf_writer *w, const char *name, uint32_t n_dims,
	       const uint64_t *ne, uint32_t dtype, const void *data,
	       gw_data_fn fn, void *arg);

/* Writes the file; 0 or -errno (also -ENOMEM if any call above failed). */
int gw_write(struct gguf_writer *w, FILE *f);
/* Size of one tensor's data, 0 if the type/shape is invalid. */
uint64_t gw_tensor_nbytes(uint32_t dtype, uint32_t n_dims, const uint64_t *ne);

#endif
