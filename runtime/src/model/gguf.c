/* SPDX-License-Identifier: MIT */
/*
 * GGUF reader. The layout (all little-endian):
 *   "GGUF" u32 version, u64 n_tensors, u64 n_kv,
 *   n_kv x { string key, u32 type, value },
 *   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset },
 *   padding to general.alignment, tensor data.
 * A string is u64 length + bytes; an array is u32 type, u64 count, values.
 * Everything is checked against the buffer size before it is used.
 */
#include "gguf.h"
#include "ggml_types.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ARRAY_DEPTH 4
#define MAX_NAME 256

static const char *const type_names[GGUF_NTYPES] = {
	"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string",
	"array", "u64", "i64", "f64",
};
static const uint8_t type_sizes[GGUF_NTYPES] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

const char *gguf_type_name(uint32_t type)
{
	return type < GGUF_NTYPES ? type_names[type] : "unknown";
}

bool gguf_str_eq(struct gguf_str s, const char *c)
{
	size_t n = strlen(c);

	return s.n == n && memcmp(s.p, c, n) == 0;
}

/* A printable, bounded copy of a string from the file, for messages. */
static const char *show(struct gguf_str s, char *buf, size_t size)
{
	size_t j = 0;

	for (uint64_t i = 0; i < s.n && j + 4 < size; i++) {
		unsigned char c = (unsigned char)s.p[i];

		buf[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (s.n > j && j + 4 <= size) {
		memcpy(buf + j, "...", 3);
		j += 3;
	}
	buf[j] = '\0';
	return buf;
}

struct reader {
	const uint8_t *buf;
	size_t size, pos;
	const char *name;
	struct ember_error *err;
};

static int truncated(struct reader *r, const char *what)
{
	return ember_fail(r->err, -EINVAL,
			  "%s: truncated GGUF file: %s runs past the end of the file (%zu bytes, at byte %zu); the file is incomplete or corrupt: download or convert it again",
			  r->name, what, r->size, r->pos);
}

static int rd(struct reader *r, void *out, size_t n, const char *what)
{
	if (r->size - r->pos < n)
		return truncated(r, what);
	memcpy(out, r->buf + r->pos, n);
	r->pos += n;
	return 0;
}

static int rd_str(struct reader *r, struct gguf_str *s, const char *what)
{
	uint64_t n = 0;
	int ret = rd(r, &n, 8, what);

	if (ret)
		return ret;
	if (n > r->size - r->pos)
		return truncated(r, what);
	s->p = (const char *)r->buf + r->pos;
	s->n = n;
	r->pos += n;
	return 0;
}

/* Skips a value of type t (validated), with a bounded nesting depth. */
static int skip_value(struct reader *r, uint32_t t, int depth, const char *key)
{
	char what[320];

	snprintf(what, sizeof(what), "the value of metadata key '%s'", key);
	if (t >= GGUF_NTYPES)
		return ember_fail(r->err, -EINVAL,
				  "%s: metadata key '%s' has unknown value type %u (GGUF types are 0..12); the file is corrupt or from a newer GGUF version",
				  r->name, key, t);
	if (t == GGUF_STRING) {
		struct gguf_str s;

		return rd_str(r, &s, what);
	}
	if (t == GGUF_ARRAY) {
		uint32_t et = 0;
		uint64_t n = 0;
		int ret;

		if (depth >= MAX_ARRAY_DEPTH)
			return ember_fail(r->err, -EINVAL,
					  "%s: metadata key '%s' nests arrays more than %d deep; the file is corrupt",
					  r->name, key, MAX_ARRAY_DEPTH);
		ret = rd(r, &et, 4, what);
		if (!ret)
			ret = rd(r, &n, 8, what);
		if (ret)
			return ret;
		if (et >= GGUF_NTYPES)
			return ember_fail(r->err, -EINVAL,
					  "%s: metadata key '%s' is an array of unknown type %u; the file is corrupt",
					  r->name, key, et);
		if (type_sizes[et]) {
			if (n > (r->size - r->pos) / type_sizes[et])
				return truncated(r, what);
			r->pos += n * type_sizes[et];
			return 0;
		}
		/* every string/array element takes at least 8 bytes */
		if (n > (r->size - r->pos) / 8)
			return truncated(r, what);
		for (uint64_t i = 0; i < n; i++) {
			ret = skip_value(r, et, depth + 1, key);
			if (ret)
				return ret;
		}
		return 0;
	}
	if (r->size - r->pos < type_sizes[t])
		return truncated(r, what);
	if (t == GGUF_BOOL && r->buf[r->pos] > 1)
		return ember_fail(r->err, -EINVAL,
				  "%s: metadata key '%s' is a bool with value %u (must be 0 or 1); the file is corrupt",
				  r->name, key, r->buf[r->pos]);
	r->pos += type_sizes[t];
	return 0;
}

static int cmp_str(struct gguf_str a, struct gguf_str b)
{
	int c = memcmp(a.p, b.p, a.n < b.n ? a.n : b.n);

	return c ? c : (a.n < b.n ? -1 : a.n > b.n);
}

static int cmp_kv(const void *a, const void *b)
{
	return cmp_str(((const struct gguf_kv *)a)->key,
		       ((const struct gguf_kv *)b)->key);
}

static int cmp_tensor_name(const void *a, const void *b)
{
	return cmp_str((*(const struct gguf_tensor *const *)a)->name,
		       (*(const struct gguf_tensor *const *)b)->name);
}

static int cmp_tensor_offset(const void *a, const void *b)
{
	uint64_t x = (*(const struct gguf_tensor *const *)a)->offset;
	uint64_t y = (*(const struct gguf_tensor *const *)b)->offset;

	return x < y ? -1 : x > y;
}

static int parse_kvs(struct gguf_file *f, struct reader *r)
{
	char key[96];
	int ret;

	/* each KV takes at least 8 + 4 + 1 bytes */
	if (f->n_kv > (r->size - r->pos) / 13)
		return ember_fail(r->err, -EINVAL,
				  "%s: header claims %llu metadata keys, more than the file can hold; the file is corrupt",
				  r->name, (unsigned long long)f->n_kv);
	f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof(*f->kv));
	if (!f->kv)
		return ember_fail(r->err, -ENOMEM, "%s: out of memory for %llu metadata keys",
				  r->name, (unsigned long long)f->n_kv);
	for (uint64_t i = 0; i < f->n_kv; i++) {
		struct gguf_kv *kv = &f->kv[i];
		char what[64];

		snprintf(what, sizeof(what), "the name of metadata key #%llu",
			 (unsigned long long)i);
		ret = rd_str(r, &kv->key, what);
		if (ret)
			return ret;
		show(kv->key, key, sizeof(key));
		if (kv->key.n == 0 || kv->key.n > MAX_NAME)
			return ember_fail(r->err, -EINVAL,
					  "%s: metadata key #%llu has a name of %llu bytes (must be 1..%d); the file is corrupt",
					  r->name, (unsigned long long)i,
					  (unsigned long long)kv->key.n, MAX_NAME);
		snprintf(what, sizeof(what), "the type of metadata key #%llu",
			 (unsigned long long)i);
		ret = rd(r, &kv->type, 4, what);
		if (ret)
			return ret;
		if (kv->type == GGUF_ARRAY && r->size - r->pos >= 12) {
			memcpy(&kv->arr_type, r->buf + r->pos, 4);
			memcpy(&kv->arr_n, r->buf + r->pos + 4, 8);
			kv->val = r->buf + r->pos + 12;
		} else {
			kv->val = r->buf + r->pos;
		}
		ret = skip_value(r, kv->type, 0, key);
		if (ret)
			return ret;
	}
	return 0;
}

static int check_unique_keys(struct gguf_file *f, struct reader *r)
{
	struct gguf_kv *sorted;
	char key[96];
	int ret = 0;

	if (f->n_kv < 2)
		return 0;
	sorted = malloc(f->n_kv * sizeof(*sorted));
	if (!sorted)
		return ember_fail(r->err, -ENOMEM, "%s: out of memory", r->name);
	memcpy(sorted, f->kv, f->n_kv * sizeof(*sorted));
	qsort(sorted, f->n_kv, sizeof(*sorted), cmp_kv);
	for (uint64_t i = 1; i < f->n_kv && !ret; i++)
		if (!cmp_str(sorted[i - 1].key, sorted[i].key))
			ret = ember_fail(r->err, -EINVAL,
					 "%s: metadata key '%s' appears twice; the file is corrupt",
					 r->name, show(sorted[i].key, key, sizeof(key)));
	free(sorted);
	return ret;
}

static int parse_tensor_info(struct gguf_file *f, struct reader *r, uint64_t i)
{
	struct gguf_tensor *t = &f->tensors[i];
	char what[64], name[96];
	uint64_t nel = 1, rows;
	const struct ggml_type_desc *dt;
	int ret;

	snprintf(what, sizeof(what), "the info of tensor #%llu", (unsigned long long)i);
	ret = rd_str(r, &t->name, what);
	if (ret)
		return ret;
	show(t->name, name, sizeof(name));
	if (t->name.n == 0 || t->name.n > MAX_NAME)
		return ember_fail(r->err, -EINVAL,
				  "%s: tensor #%llu has a name of %llu bytes (must be 1..%d); the file is corrupt",
				  r->name, (unsigned long long)i,
				  (unsigned long long)t->name.n, MAX_NAME);
	ret = rd(r, &t->n_dims, 4, what);
	if (ret)
		return ret;
	if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
		return ember_fail(r->err, -EINVAL,
				  "%s: tensor '%s' has %u dimensions (must be 1..%d); the file is corrupt",
				  r->name, name, t->n_dims, GGUF_MAX_DIMS);
	for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
		t->ne[d] = 1;
		if (d < t->n_dims) {
			ret = rd(r, &t->ne[d], 8, what);
			if (ret)
				return ret;
		}
		if (t->ne[d] == 0 || t->ne[d] > (UINT64_C(1) << 62) / nel)
			return ember_fail(r->err, -EINVAL,
					  "%s: tensor '%s' has invalid size %llu in dimension %u; the file is corrupt",
					  r->name, name, (unsigned long long)t->ne[d], d);
		nel *= t->ne[d];
	}
	ret = rd(r, &t->type, 4, what);
	if (!ret)
		ret = rd(r, &t->offset, 8, what);
	if (ret)
		return ret;
	/* Types ember cannot compute with still parse (the model loader
	 * names them); only a number that is no GGML type at all fails. */
	dt = ggml_type_desc(t->type);
	if (!dt)
		return ember_fail(r->err, -EINVAL,
				  "%s: tensor '%s' has unknown data type %u (no GGML type ember knows: they are 0..%u, without 4, 5, 31..33 and 36..38); the file is corrupt or from a newer llama.cpp",
				  r->name, name, t->type, ggml_type_max());
	if (t->ne[0] % dt->blck)
		return ember_fail(r->err, -EINVAL,
				  "%s: tensor '%s' rows have %llu elements, not a multiple of the %s block size %u; the file is corrupt",
				  r->name, name, (unsigned long long)t->ne[0], dt->name, dt->blck);
	rows = nel / t->ne[0];
	t->nbytes = t->ne[0] / dt->blck * dt->size * rows;
	if (t->offset % f->alignment)
		return ember_fail(r->err, -EINVAL,
				  "%s: tensor '%s' data offset %llu is not a multiple of the alignment %u; the file is corrupt",
				  r->name, name, (unsigned long long)t->offset, f->alignment);
	return 0;
}

static int parse_tensors(struct gguf_file *f, struct reader *r)
{
	const struct gguf_tensor **idx;
	char a[96], b[96];
	uint64_t avail;
	int ret = 0;

	/* each tensor info takes at least 8 + 1 + 4 + 8 + 4 + 8 bytes */
	if (f->n_tensors > (r->size - r->pos) / 33)
		return ember_fail(r->err, -EINVAL,
				  "%s: header claims %llu tensors, more than the file can hold; the file is corrupt",
				  r->name, (unsigned long long)f->n_tensors);
	f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof(*f->tensors));
	if (!f->tensors)
		return ember_fail(r->err, -ENOMEM, "%s: out of memory for %llu tensors",
				  r->name, (unsigned long long)f->n_tensors);
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		ret = parse_tensor_info(f, r, i);
		if (ret)
			return ret;
	}
	f->data_offset = r->pos + (f->alignment - r->pos % f->alignment) % f->alignment;
	if (f->n_tensors == 0)
		return 0;
	if (f->data_offset > r->size)
		return ember_fail(r->err, -EINVAL,
				  "%s: truncated GGUF file: the tensor data section (at byte %zu) is missing; download or convert the file again",
				  r->name, f->data_offset);
	avail = r->size - f->data_offset;
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		struct gguf_tensor *t = &f->tensors[i];

		if (t->offset > avail || t->nbytes > avail - t->offset)
			return ember_fail(r->err, -EINVAL,
					  "%s: tensor '%s' (%llu bytes at data offset %llu) runs past the end of the file; the file is truncated or corrupt: download or convert it again",
					  r->name, show(t->name, a, sizeof(a)),
					  (unsigned long long)t->nbytes,
					  (unsigned long long)t->offset);
		t->data = r->buf + f->data_offset + t->offset;
	}

	idx = malloc(f->n_tensors * sizeof(*idx));
	if (!idx)
		return ember_fail(r->err, -ENOMEM, "%s: out of memory", r->name);
	for (uint64_t i = 0; i < f->n_tensors; i++)
		idx[i] = &f->tensors[i];
	qsort(idx, f->n_tensors, sizeof(*idx), cmp_tensor_name);
	for (uint64_t i = 1; i < f->n_tensors && !ret; i++)
		if (!cmp_str(idx[i - 1]->name, idx[i]->name))
			ret = ember_fail(r->err, -EINVAL,
					 "%s: tensor '%s' appears twice; the file is corrupt",
					 r->name, show(idx[i]->name, a, sizeof(a)));
	qsort(idx, f->n_tensors, sizeof(*idx), cmp_tensor_offset);
	for (uint64_t i = 1; i < f->n_tensors && !ret; i++)
		if (idx[i - 1]->offset + idx[i - 1]->nbytes > idx[i]->offset)
			ret = ember_fail(r->err, -EINVAL,
					 "%s: tensors '%s' and '%s' overlap in the data section; the file is corrupt",
					 r->name, show(idx[i - 1]->name, a, sizeof(a)),
					 show(idx[i]->name, b, sizeof(b)));
	free(idx);
	return ret;
}

int gguf_parse(struct gguf_file *f, const void *buf, size_t size,
	       const char *name, struct ember_error *err)
{
	struct reader r = { buf, size, 0, name, err };
	char magic[4];
	const struct gguf_kv *kv;
	int ret;

	memset(f, 0, sizeof(*f));
	f->name = name;
	f->buf = buf;
	f->size = size;
	f->alignment = GGUF_DEFAULT_ALIGNMENT;
	if (size < 4 || (memcpy(magic, buf, 4), memcmp(magic, "GGUF", 4)))
		return ember_fail(err, -EINVAL,
				  "%s: not a GGUF file (it does not start with \"GGUF\"); pass a .gguf model file",
				  name);
	r.pos = 4;
	ret = rd(&r, &f->version, 4, "the header");
	if (ret)
		return ret;
	if (f->version == 1)
		return ember_fail(err, -EINVAL,
				  "%s: GGUF version 1 is not supported (only 2 and 3); convert the model again with a current converter",
				  name);
	if (f->version != 2 && f->version != 3) {
		if ((f->version & 0xffff) == 0 && f->version)
			return ember_fail(err, -EINVAL,
					  "%s: this is a big-endian GGUF file; ember reads little-endian files only: convert the model without --bigendian",
					  name);
		return ember_fail(err, -EINVAL,
				  "%s: unsupported GGUF version %u (ember reads versions 2 and 3)",
				  name, f->version);
	}
	ret = rd(&r, &f->n_tensors, 8, "the header");
	if (!ret)
		ret = rd(&r, &f->n_kv, 8, "the header");
	if (!ret)
		ret = parse_kvs(f, &r);
	if (!ret)
		ret = check_unique_keys(f, &r);
	if (ret)
		goto fail;
	kv = gguf_find(f, "general.alignment");
	if (kv) {
		uint32_t a;

		if (kv->type != GGUF_U32) {
			ret = ember_fail(err, -EINVAL,
					 "%s: metadata key 'general.alignment' has type %s, expected u32; the file is corrupt",
					 name, gguf_type_name(kv->type));
			goto fail;
		}
		memcpy(&a, kv->val, 4);
		if (a == 0 || (a & (a - 1)) || a > (1u << 20)) {
			ret = ember_fail(err, -EINVAL,
					 "%s: general.alignment is %u, not a power of two up to 1 MiB; the file is corrupt",
					 name, a);
			goto fail;
		}
		f->alignment = a;
	}
	ret = parse_tensors(f, &r);
	if (ret)
		goto fail;
	return 0;
fail:
	free(f->kv);
	free(f->tensors);
	f->kv = NULL;
	f->tensors = NULL;
	return ret;
}

int gguf_open(struct gguf_file *f, const char *path, struct ember_error *err)
{
	struct stat st;
	void *map;
	int fd, ret;

	memset(f, 0, sizeof(*f));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		return ember_fail(err, ret, "%s: cannot open model file: %s%s", path,
				  strerror(-ret),
				  ret == -ENOENT ? "; check the path" : "");
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		close(fd);
		return ember_fail(err, ret, "%s: cannot stat: %s", path, strerror(-ret));
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return ember_fail(err, -EINVAL, "%s: not a regular, non-empty file; pass a .gguf model file",
				  path);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	ret = -errno;
	close(fd);
	if (map == MAP_FAILED)
		return ember_fail(err, ret, "%s: cannot mmap %lld bytes: %s", path,
				  (long long)st.st_size, strerror(-ret));
	ret = gguf_parse(f, map, (size_t)st.st_size, path, err);
	if (ret) {
		munmap(map, (size_t)st.st_size);
		return ret;
	}
	f->map = map;
	return 0;
}

void gguf_close(struct gguf_file *f)
{
	free(f->kv);
	free(f->tensors);
	if (f->map)
		munmap(f->map, f->size);
	memset(f, 0, sizeof(*f));
}

const struct gguf_kv *gguf_find(const struct gguf_file *f, const char *key)
{
	for (uint64_t i = 0; i < f->n_kv; i++)
		if (gguf_str_eq(f->kv[i].key, key))
			return &f->kv[i];
	return NULL;
}

const struct gguf_tensor *gguf_tensor(const struct gguf_file *f, const char *name)
{
	for (uint64_t i = 0; i < f->n_tensors; i++)
		if (gguf_str_eq(f->tensors[i].name, name))
			return &f->tensors[i];
	return NULL;
}

static int wrong_type(const struct gguf_file *f, const char *key,
		      const struct gguf_kv *kv, const char *want,
		      struct ember_error *err)
{
	return ember_fail(err, -EINVAL,
			  "%s: metadata key '%s' has type %s%s%s, expected %s; the file is corrupt or was written by an incompatible converter",
			  f->name, key, gguf_type_name(kv->type),
			  kv->type == GGUF_ARRAY ? " of " : "",
			  kv->type == GGUF_ARRAY ? gguf_type_name(kv->arr_type) : "", want);
}

/* Reads an integer scalar of any width as int64 (u64 above INT64_MAX fails). */
static bool int_value(uint32_t type, const uint8_t *p, int64_t *out)
{
	union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32;
		int32_t i32; uint64_t u64; int64_t i64; } v;

	switch (type) {
	case GGUF_U8: memcpy(&v.u8, p, 1); *out = v.u8; return true;
	case GGUF_I8: memcpy(&v.i8, p, 1); *out = v.i8; return true;
	case GGUF_U16: memcpy(&v.u16, p, 2); *out = v.u16; return true;
	case GGUF_I16: memcpy(&v.i16, p, 2); *out = v.i16; return true;
	case GGUF_U32: memcpy(&v.u32, p, 4); *out = v.u32; return true;
	case GGUF_I32: memcpy(&v.i32, p, 4); *out = v.i32; return true;
	case GGUF_I64: memcpy(&v.i64, p, 8); *out = v.i64; return true;
	case GGUF_U64:
		memcpy(&v.u64, p, 8);
		if (v.u64 > INT64_MAX)
			return false;
		*out = (int64_t)v.u64;
		return true;
	}
	return false;
}

int gguf_get_i64(const struct gguf_file *f, const char *key, int64_t *out,
		 struct ember_error *err)
{
	const struct gguf_kv *kv = gguf_find(f, key);

	if (!kv)
		return -ENOENT;
	if (!int_value(kv->type, kv->val, out))
		return wrong_type(f, key, kv, "an integer", err);
	return 0;
}

int gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *out,
		 struct ember_error *err)
{
	int64_t v;
	int ret = gguf_get_i64(f, key, &v, err);

	if (ret)
		return ret;
	if (v < 0 || v > UINT32_MAX)
		return ember_fail(err, -EINVAL,
				  "%s: metadata key '%s' has value %lld, outside 0..%u; the file is corrupt",
				  f->name, key, (long long)v, UINT32_MAX);
	*out = (uint32_t)v;
	return 0;
}

int gguf_get_f32(const struct gguf_file *f, const char *key, float *out,
		 struct ember_error *err)
{
	const struct gguf_kv *kv = gguf_find(f, key);
	double d;

	if (!kv)
		return -ENOENT;
	if (kv->type == GGUF_F32) {
		memcpy(out, kv->val, 4);
	} else if (kv->type == GGUF_F64) {
		memcpy(&d, kv->val, 8);
		*out = (float)d;
	} else {
		return wrong_type(f, key, kv, "f32", err);
	}
	return 0;
}

int gguf_get_bool(const struct gguf_file *f, const char *key, bool *out,
		  struct ember_error *err)
{
	const struct gguf_kv *kv = gguf_find(f, key);

	if (!kv)
		return -ENOENT;
	if (kv->type != GGUF_BOOL)
		return wrong_type(f, key, kv, "bool", err);
	*out = kv->val[0] != 0;
	return 0;
}

int gguf_get_str(const struct gguf_file *f, const char *key,
		 struct gguf_str *out, struct ember_error *err)
{
	const struct gguf_kv *kv = gguf_find(f, key);
	const uint8_t *p;

	if (!kv)
		return -ENOENT;
	if (kv->type != GGUF_STRING)
		return wrong_type(f, key, kv, "string", err);
	p = kv->val;
	*out = gguf_next_str(&p);
	return 0;
}

int gguf_get_arr(const struct gguf_file *f, const char *key, uint32_t elem_type,
		 const struct gguf_kv **out, struct ember_error *err)
{
	const struct gguf_kv *kv = gguf_find(f, key);
	char want[32];

	if (!kv)
		return -ENOENT;
	if (kv->type != GGUF_ARRAY || kv->arr_type != elem_type) {
		snprintf(want, sizeof(want), "array of %s", gguf_type_name(elem_type));
		return wrong_type(f, key, kv, want, err);
	}
	*out = kv;
	return 0;
}

struct gguf_str gguf_next_str(const uint8_t **p)
{
	struct gguf_str s;

	memcpy(&s.n, *p, 8);
	s.p = (const char *)*p + 8;
	*p += 8 + s.n;
	return s;
}

int64_t gguf_arr_int(const struct gguf_kv *kv, uint64_t i)
{
	int64_t v = 0;
	uint32_t sz = kv->arr_type < GGUF_NTYPES ? type_sizes[kv->arr_type] : 0;

	if (sz && i < kv->arr_n)
		int_value(kv->arr_type, kv->val + i * sz, &v);
	return v;
}
