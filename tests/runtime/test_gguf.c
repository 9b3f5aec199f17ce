/* SPDX-License-Identifier: MIT */
/*
 * GGUF loader on good and bad files: every truncation of a valid file and
 * a list of corruptions must fail with a message naming the file and the
 * key or tensor at fault; the real stories260K file must load with its
 * documented hyperparameters.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ember/kernels.h>
#include <ember/runtime.h>

#include "check.h"
#include "gguf.h"
#include "gguf_write.h"

int check_failures, check_count;

static float data_a[64 * 2], data_b[32];

/* A small valid file: a few keys of every kind and two tensors. */
static char *make_file(size_t *size, uint32_t version)
{
	struct gguf_writer *w = gw_new();
	static const char *strs[] = { "x", "yy", "" };
	uint64_t ne_a[2] = { 64, 2 }, ne_b[1] = { 32 };
	char *buf = NULL;
	FILE *f = open_memstream(&buf, size);
	int16_t i16 = -3;
	double f64 = 2.5;

	gw_set_version(w, version);
	gw_str(w, "general.architecture", "llama");
	gw_u32(w, "test.u32", 7);
	gw_i32(w, "test.i32", -7);
	gw_f32(w, "test.f32", 1.5f);
	gw_bool(w, "test.bool", true);
	gw_raw(w, "test.i16", GGUF_I16, &i16, 2);
	gw_raw(w, "test.f64", GGUF_F64, &f64, 8);
	gw_arr_str(w, "test.strs", strs, 3);
	gw_arr_f32(w, "test.f32s", data_b, 4);
	gw_tensor(w, "a.weight", 2, ne_a, EK_F32, data_a, NULL, NULL);
	gw_tensor(w, "b.weight", 1, ne_b, EK_F32, data_b, NULL, NULL);
	CHECK(gw_write(w, f) == 0, "write");
	fclose(f);
	gw_free(w);
	return buf;
}

/* Expects parsing to fail with a message containing every string given. */
static void expect_fail(const char *what, const void *buf, size_t size, const char *s1,
			const char *s2)
{
	struct gguf_file f;
	struct ember_error err = { 0 };
	int ret = gguf_parse(&f, buf, size, "bad.gguf", &err);

	CHECK(ret < 0, "%s: parsed a bad file", what);
	if (ret >= 0) {
		gguf_close(&f);
		return;
	}
	CHECK(strstr(err.msg, "bad.gguf") != NULL, "%s: message does not name the file: %s", what,
	      err.msg);
	CHECK(!s1 || strstr(err.msg, s1), "%s: message lacks '%s': %s", what, s1, err.msg);
	CHECK(!s2 || strstr(err.msg, s2), "%s: message lacks '%s': %s", what, s2, err.msg);
}

static size_t find(const char *buf, size_t size, const char *s)
{
	const char *p = memmem(buf, size, s, strlen(s));

	return p ? (size_t)(p - buf) : 0;
}

static void test_good(void)
{
	for (uint32_t v = 2; v <= 3; v++) {
		size_t size;
		char *buf = make_file(&size, v);
		struct gguf_file f;
		struct ember_error err;
		const struct gguf_kv *kv;
		struct gguf_str s;
		uint32_t u;
		int64_t i;
		float x;
		bool b;

		CHECK(gguf_parse(&f, buf, size, "good.gguf", &err) == 0, "v%u: %s", v, err.msg);
		CHECK(f.version == v && f.n_tensors == 2 && f.n_kv == 9, "header");
		CHECK(!gguf_get_u32(&f, "test.u32", &u, &err) && u == 7, "u32");
		CHECK(!gguf_get_i64(&f, "test.i32", &i, &err) && i == -7, "i32");
		CHECK(!gguf_get_i64(&f, "test.i16", &i, &err) && i == -3, "i16");
		CHECK(gguf_get_u32(&f, "test.i32", &u, &err) == -EINVAL &&
		      strstr(err.msg, "test.i32"), "negative into u32: %s", err.msg);
		CHECK(!gguf_get_f32(&f, "test.f32", &x, &err) && x == 1.5f, "f32");
		CHECK(!gguf_get_f32(&f, "test.f64", &x, &err) && x == 2.5f, "f64");
		CHECK(!gguf_get_bool(&f, "test.bool", &b, &err) && b, "bool");
		CHECK(!gguf_get_str(&f, "general.architecture", &s, &err) && gguf_str_eq(s, "llama"),
		      "str");
		CHECK(gguf_get_str(&f, "test.u32", &s, &err) == -EINVAL &&
		      strstr(err.msg, "'test.u32' has type u32, expected string"), "%s", err.msg);
		CHECK(gguf_get_u32(&f, "missing", &u, &err) == -ENOENT, "missing key");
		CHECK(!gguf_get_arr(&f, "test.strs", GGUF_STRING, &kv, &err) && kv->arr_n == 3, "arr");
		if (kv) {
			const uint8_t *p = kv->val;

			CHECK(gguf_str_eq(gguf_next_str(&p), "x") && gguf_str_eq(gguf_next_str(&p), "yy") &&
			      gguf_str_eq(gguf_next_str(&p), ""), "string array contents");
		}
		CHECK(gguf_tensor(&f, "a.weight") && gguf_tensor(&f, "a.weight")->nbytes == 512 &&
		      gguf_tensor(&f, "b.weight")->ne[0] == 32, "tensors");
		CHECK(gguf_tensor(&f, "a.weight")->data == buf + f.data_offset, "tensor data");
		gguf_close(&f);
		free(buf);
	}
}

static void test_truncations(void)
{
	size_t size;
	char *buf = make_file(&size, 3);
	int failed_ok = 0;

	for (size_t n = 0; n < size; n++) {
		struct gguf_file f;
		struct ember_error err = { 0 };
		char *copy = malloc(n ? n : 1);	/* exact size: ASan sees over-reads */

		memcpy(copy, buf, n);
		if (gguf_parse(&f, copy, n, "cut.gguf", &err) < 0 && strstr(err.msg, "cut.gguf"))
			failed_ok++;
		else if (err.code == 0)
			gguf_close(&f);
		free(copy);
	}
	CHECK(failed_ok == (int)size, "%d of %zu truncations failed cleanly", failed_ok, size);
	free(buf);
}

static void test_corruptions(void)
{
	size_t size, at;
	char *good = make_file(&size, 3), *b = malloc(size);
	uint32_t u32;
	uint64_t u64;

#define RESET() memcpy(b, good, size)
	RESET();
	memcpy(b, "GGUX", 4);
	expect_fail("magic", b, size, "not a GGUF file", NULL);
	RESET();
	u32 = 1;
	memcpy(b + 4, &u32, 4);
	expect_fail("v1", b, size, "version 1", NULL);
	RESET();
	u32 = 0x03000000;
	memcpy(b + 4, &u32, 4);
	expect_fail("big-endian", b, size, "big-endian", NULL);
	RESET();
	u64 = UINT64_MAX / 2;
	memcpy(b + 16, &u64, 8);
	expect_fail("n_kv", b, size, "metadata keys", NULL);
	RESET();
	memcpy(b + 8, &u64, 8);
	expect_fail("n_tensors", b, size, "tensors", NULL);

	RESET();	/* rename test.i32 -> test.u32: duplicate key */
	at = find(b, size, "test.i32");
	memcpy(b + at, "test.u32", 8);
	expect_fail("dup key", b, size, "'test.u32' appears twice", NULL);

	RESET();	/* bool value 2 */
	at = find(b, size, "test.bool") + 9 + 4;
	b[at] = 2;
	expect_fail("bool", b, size, "test.bool", "bool");

	RESET();	/* unknown KV type */
	at = find(b, size, "test.u32") + 8;
	u32 = 13;
	memcpy(b + at, &u32, 4);
	expect_fail("kv type", b, size, "test.u32", "unknown value type");

	RESET();	/* string array with a huge length */
	at = find(b, size, "test.strs") + 9 + 4 + 4;
	u64 = UINT64_MAX;
	memcpy(b + at, &u64, 8);
	expect_fail("array count", b, size, "test.strs", "runs past the end");

	/* tensor info of b.weight: name, n_dims, ne[0], type, offset */
	at = find(b, size, "b.weight") + 8;
	RESET();
	u32 = 5;
	memcpy(b + at, &u32, 4);
	expect_fail("n_dims", b, size, "'b.weight'", "dimensions");
	RESET();
	u64 = 0;
	memcpy(b + at + 4, &u64, 8);
	expect_fail("ne 0", b, size, "'b.weight'", "invalid size");
	RESET();
	u32 = 99;
	memcpy(b + at + 12, &u32, 4);
	expect_fail("dtype", b, size, "'b.weight'", "unknown data type 99");
	RESET();
	u32 = EK_Q8_0;
	u64 = 33;
	memcpy(b + at + 12, &u32, 4);
	memcpy(b + at + 4, &u64, 8);
	expect_fail("block", b, size, "'b.weight'", "block size");
	RESET();
	memcpy(&u64, b + at + 16, 8);
	u64 += 4;
	memcpy(b + at + 16, &u64, 8);
	expect_fail("misaligned", b, size, "'b.weight'", "alignment");
	RESET();
	u64 = 0;	/* same offset as a.weight */
	memcpy(b + at + 16, &u64, 8);
	expect_fail("overlap", b, size, "overlap", "'a.weight'");
	RESET();
	u64 = 1 << 20;
	memcpy(b + at + 16, &u64, 8);
	expect_fail("past end", b, size, "'b.weight'", "runs past the end");
	RESET();
	at = find(b, size, "b.weight");
	b[at] = 'a';
	expect_fail("dup tensor", b, size, "'a.weight' appears twice", NULL);
	free(b);
	free(good);

	{	/* bad general.alignment */
		struct gguf_writer *w = gw_new();
		uint64_t ne[1] = { 32 };
		char *buf = NULL;
		size_t n;
		FILE *f = open_memstream(&buf, &n);

		gw_set_alignment(w, 24);
		gw_tensor(w, "t", 1, ne, EK_F32, data_b, NULL, NULL);
		gw_write(w, f);
		fclose(f);
		gw_free(w);
		expect_fail("alignment", buf, n, "general.alignment", "power of two");
		free(buf);
	}
}

static void test_real_model(const char *dir)
{
	char path[4096];
	struct ember_model *m = NULL;
	struct ember_model_info in;
	struct ember_error err;

	snprintf(path, sizeof(path), "%s/stories260K.gguf", dir);
	if (access(path, R_OK)) {
		printf("SKIP real-model checks: %s missing\n", path);
		return;
	}
	CHECK(ember_model_load(path, &m, &err) == 0, "%s", err.msg);
	if (!m)
		return;
	ember_model_get_info(m, &in);
	CHECK(!strcmp(in.arch, "llama") && in.n_embd == 64 && in.n_ff == 172 && in.n_layer == 5 &&
	      in.n_head == 8 && in.n_head_kv == 4 && in.rope_dim == 8 && in.n_vocab == 512 &&
	      in.n_ctx_train == 2048 && in.bos == 1 && in.eos == 2 && !in.tied_embeddings,
	      "stories260K hyperparameters");
	ember_model_free(m);

	CHECK(ember_model_load("/nonexistent/x.gguf", &m, &err) == -ENOENT &&
	      strstr(err.msg, "/nonexistent/x.gguf"), "missing file: %s", err.msg);
}

int main(int argc, char **argv)
{
	for (int i = 0; i < 128; i++)
		data_a[i] = (float)i;
	test_good();
	test_truncations();
	test_corruptions();
	test_real_model(argc > 1 ? argv[1] : "../shared/models");
	return CHECK_DONE("gguf");
}
