/* SPDX-License-Identifier: MIT */
#include "gguf_write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ggml_types.h"

struct gw_tensor {
	char *name;
	uint32_t n_dims, dtype;
	uint64_t ne[GGUF_MAX_DIMS], nbytes, offset;
	const void *data;
	gw_data_fn fn;
	void *arg;
};

struct gguf_writer {
	uint8_t *kv;
	size_t kv_len, kv_cap;
	uint64_t n_kv;
	struct gw_tensor *t;
	uint64_t n_t;
	uint32_t version, alignment;
	bool oom;
};

struct gguf_writer *gw_new(void)
{
	struct gguf_writer *w = calloc(1, sizeof(*w));

	if (w) {
		w->version = 3;
		w->alignment = GGUF_DEFAULT_ALIGNMENT;
	}
	return w;
}

void gw_free(struct gguf_writer *w)
{
	if (!w)
		return;
	for (uint64_t i = 0; i < w->n_t; i++)
		free(w->t[i].name);
	free(w->t);
	free(w->kv);
	free(w);
}

static void put(struct gguf_writer *w, const void *p, size_t n)
{
	if (w->kv_len + n > w->kv_cap) {
		size_t cap = w->kv_cap ? w->kv_cap : 4096;
		uint8_t *nb;

		while (cap < w->kv_len + n)
			cap *= 2;
		nb = realloc(w->kv, cap);
		if (!nb) {
			w->oom = true;
			return;
		}
		w->kv = nb;
		w->kv_cap = cap;
	}
	memcpy(w->kv + w->kv_len, p, n);
	w->kv_len += n;
}

static void put_str(struct gguf_writer *w, const char *s)
{
	uint64_t n = strlen(s);

	put(w, &n, 8);
	put(w, s, n);
}

static void head(struct gguf_writer *w, const char *key, uint32_t type)
{
	put_str(w, key);
	put(w, &type, 4);
	w->n_kv++;
}

void gw_set_version(struct gguf_writer *w, uint32_t version)
{
	w->version = version;
}

void gw_set_alignment(struct gguf_writer *w, uint32_t a)
{
	w->alignment = a;
	gw_u32(w, "general.alignment", a);
}

void gw_str(struct gguf_writer *w, const char *key, const char *val)
{
	head(w, key, GGUF_STRING);
	put_str(w, val);
}

void gw_u32(struct gguf_writer *w, const char *key, uint32_t val)
{
	head(w, key, GGUF_U32);
	put(w, &val, 4);
}

void gw_i32(struct gguf_writer *w, const char *key, int32_t val)
{
	head(w, key, GGUF_I32);
	put(w, &val, 4);
}

void gw_f32(struct gguf_writer *w, const char *key, float val)
{
	head(w, key, GGUF_F32);
	put(w, &val, 4);
}

void gw_bool(struct gguf_writer *w, const char *key, bool val)
{
	uint8_t b = val;

	head(w, key, GGUF_BOOL);
	put(w, &b, 1);
}

static void arr_head(struct gguf_writer *w, const char *key, uint32_t et, uint64_t n)
{
	head(w, key, GGUF_ARRAY);
	put(w, &et, 4);
	put(w, &n, 8);
}

void gw_arr_str(struct gguf_writer *w, const char *key, const char *const *v, uint64_t n)
{
	arr_head(w, key, GGUF_STRING, n);
	for (uint64_t i = 0; i < n; i++)
		put_str(w, v[i]);
}

void gw_arr_f32(struct gguf_writer *w, const char *key, const float *v, uint64_t n)
{
	arr_head(w, key, GGUF_F32, n);
	put(w, v, n * 4);
}

void gw_arr_i32(struct gguf_writer *w, const char *key, const int32_t *v, uint64_t n)
{
	arr_head(w, key, GGUF_I32, n);
	put(w, v, n * 4);
}

void gw_raw(struct gguf_writer *w, const char *key, uint32_t type, const void *val,
	    size_t size)
{
	head(w, key, type);
	put(w, val, size);
}

void gw_copy_kvs(struct gguf_writer *w, const struct gguf_file *f)
{
	for (uint64_t i = 0; i < f->n_kv; i++) {
		const struct gguf_kv *kv = &f->kv[i];
		const uint8_t *start = kv->type == GGUF_ARRAY ? kv->val - 12 : kv->val;
		const uint8_t *end = i + 1 < f->n_kv ? (const uint8_t *)f->kv[i + 1].key.p - 8 : NULL;
		uint64_t n = kv->key.n;

		if (gguf_str_eq(kv->key, "general.alignment"))
			continue;
		if (!end) {	/* the last KV ends where the tensor infos start */
			end = f->n_tensors ? (const uint8_t *)f->tensors[0].name.p - 8 : NULL;
			if (!end) {
				w->oom = true;	/* cannot tell its end: refuse */
				return;
			}
		}
		put(w, &n, 8);
		put(w, kv->key.p, n);
		put(w, &kv->type, 4);
		put(w, start, (size_t)(end - start));
		w->n_kv++;
	}
}

uint64_t gw_tensor_nbytes(uint32_t dtype, uint32_t n_dims, const uint64_t *ne)
{
	const struct ggml_type_desc *d = ggml_type_desc(dtype);
	uint64_t n;

	/* any GGML type, so tools can copy tensors they do not compute with */
	if (!d || !ne[0] || ne[0] % d->blck)
		return 0;
	n = ne[0] / d->blck * d->size;
	for (uint32_t d = 1; d < n_dims; d++)
		n *= ne[d];
	return n;
}

void gw_tensor(struct gguf_writer *w, const char *name, uint32_t n_dims,
	       const uint64_t *ne, uint32_t dtype, const void *data,
	       gw_data_fn fn, void *arg)
{
	struct gw_tensor *nt = realloc(w->t, (w->n_t + 1) * sizeof(*nt)), *t;

	if (!nt) {
		w->oom = true;
		return;
	}
	w->t = nt;
	t = &w->t[w->n_t];
	memset(t, 0, sizeof(*t));
	t->name = strdup(name);
	if (!t->name || n_dims < 1 || n_dims > GGUF_MAX_DIMS) {
		free(t->name);
		w->oom = true;
		return;
	}
	w->n_t++;
	t->n_dims = n_dims;
	for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
		t->ne[d] = d < n_dims ? ne[d] : 1;
	t->dtype = dtype;
	t->nbytes = gw_tensor_nbytes(dtype, n_dims, ne);
	t->data = data;
	t->fn = fn;
	t->arg = arg;
}

static int pad(FILE *f, uint64_t pos, uint32_t a)
{
	static const char zeros[64];
	uint64_t n = (a - pos % a) % a;

	while (n) {
		size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);

		if (fwrite(zeros, 1, k, f) != k)
			return -EIO;
		n -= k;
	}
	return 0;
}

int gw_write(struct gguf_writer *w, FILE *f)
{
	uint64_t pos, off = 0;
	int ret;

	if (w->oom)
		return -ENOMEM;
	for (uint64_t i = 0; i < w->n_t; i++) {
		if (!w->t[i].nbytes)
			return -EINVAL;
		w->t[i].offset = off;
		off += w->t[i].nbytes;
		off += (w->alignment - off % w->alignment) % w->alignment;
	}
	if (fwrite("GGUF", 1, 4, f) != 4 || fwrite(&w->version, 4, 1, f) != 1 ||
	    fwrite(&w->n_t, 8, 1, f) != 1 || fwrite(&w->n_kv, 8, 1, f) != 1 ||
	    (w->kv_len && fwrite(w->kv, 1, w->kv_len, f) != w->kv_len))
		return -EIO;
	pos = 24 + w->kv_len;
	for (uint64_t i = 0; i < w->n_t; i++) {
		struct gw_tensor *t = &w->t[i];
		uint64_t n = strlen(t->name);

		if (fwrite(&n, 8, 1, f) != 1 || fwrite(t->name, 1, n, f) != n ||
		    fwrite(&t->n_dims, 4, 1, f) != 1 || fwrite(t->ne, 8, t->n_dims, f) != t->n_dims ||
		    fwrite(&t->dtype, 4, 1, f) != 1 || fwrite(&t->offset, 8, 1, f) != 1)
			return -EIO;
		pos += 8 + n + 4 + 8 * t->n_dims + 4 + 8;
	}
	if (w->n_t && (ret = pad(f, pos, w->alignment)))
		return ret;
	pos = 0;
	for (uint64_t i = 0; i < w->n_t; i++) {
		struct gw_tensor *t = &w->t[i];

		if (t->data) {
			if (fwrite(t->data, 1, t->nbytes, f) != t->nbytes)
				return -EIO;
		} else if (t->fn) {
			ret = t->fn(t->arg, f, t->nbytes);
			if (ret)
				return ret;
		} else {
			return -EINVAL;
		}
		pos += t->nbytes;
		if ((ret = pad(f, pos, w->alignment)))
			return ret;
		pos += (w->alignment - pos % w->alignment) % w->alignment;
	}
	return fflush(f) ? -EIO : 0;
}
