/* SPDX-License-Identifier: MIT */
/*
 * GGUF loader on good and bad files: every truncation of a valid file and
 * a list of corruptions must fail with a message naming the file and the
 * key or tensor at fault; tensors of GGML types ember does not compute
 * must parse, and a model holding one must fail to load with a message that
 * names the type and the way out; the real stories260K file must load with
 * its documented hyperparameters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ember/kernels.h>
#include <ember/runtime.h>

#include "check.h"
#include "ggml_types.h"
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

/* Tensors in types ember cannot compute with (IQ4_XS, TQ1_0, ...) parse,
 * sized by their GGML block layout; only numbers that are no GGML type at
 * all (never assigned, or removed from GGUF: 4, 31) are unknown. */
static void test_other_types(void)
{
	static const struct { uint32_t type; uint64_t ne0, ne1, nbytes; } ok[] = {
		{ 23, 256, 2, 2 * 136 },	/* IQ4_XS */
		{ 34, 512, 1, 2 * 54 },		/* TQ1_0 */
		{ 10, 256, 3, 3 * 84 },		/* Q2_K */
		{ 39, 64, 1, 2 * 17 },		/* MXFP4 */
		{ 15, 256, 1, 292 },		/* Q8_K */
		{ 29, 256, 1, 56 },		/* IQ1_M */
	};
	static uint8_t zeros[4096];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct gguf_writer *w = gw_new();
		uint64_t ne[2] = { ok[i].ne0, ok[i].ne1 };
		char *buf = NULL;
		size_t n;
		FILE *f = open_memstream(&buf, &n);
		struct gguf_file g;
		struct ember_error err = { 0 };

		gw_tensor(w, "t.weight", 2, ne, ok[i].type, zeros, NULL, NULL);
		CHECK(gw_write(w, f) == 0, "write type %u", ok[i].type);
		fclose(f);
		gw_free(w);
		CHECK(gguf_parse(&g, buf, n, "types.gguf", &err) == 0, "type %u: %s", ok[i].type,
		      err.msg);
		if (!err.code) {
			CHECK(g.tensors[0].nbytes == ok[i].nbytes, "type %u: %llu bytes, want %llu",
			      ok[i].type, (unsigned long long)g.tensors[0].nbytes,
			      (unsigned long long)ok[i].nbytes);
			gguf_close(&g);
		}
		free(buf);
	}
	CHECK(!strcmp(ggml_type_name(23), "IQ4_XS") && !strcmp(ggml_type_name(34), "TQ1_0") &&
	      !strcmp(ggml_type_name(14), "Q6_K") && !strcmp(ggml_type_name(39), "MXFP4") &&
	      !ggml_type_name(4) && !ggml_type_name(31) && !ggml_type_name(38) &&
	      !ggml_type_name(ggml_type_max() + 1), "type names");

	size_t size, at;
	char *b = make_file(&size, 3);
	uint32_t u32;

	at = find(b, size, "b.weight") + 8 + 4 + 8;	/* b.weight's type */
	for (uint32_t t = 4; t <= 31; t += 27) {
		char want[48];

		u32 = t;
		memcpy(b + at, &u32, 4);
		snprintf(want, sizeof(want), "unknown data type %u", t);
		expect_fail("removed type", b, size, "'b.weight'", want);
	}
	free(b);
}

/* A llama model small enough to write here (no tokenizer), its
 * blk.0.ffn_down.weight of ffn_type and its output.weight of out_type. */
static int write_model(const char *path, uint32_t ffn_type, uint32_t out_type)
{
	static float zeros[32 * 256];
	struct gguf_writer *w = gw_new();
	uint64_t vec[1] = { 32 }, emb[2] = { 32, 8 }, sq[2] = { 32, 32 }, up[2] = { 32, 256 },
		 down[2] = { 256, 32 };
	FILE *f = fopen(path, "wb");
	int ret;

	gw_str(w, "general.architecture", "llama");
	gw_u32(w, "llama.embedding_length", 32);
	gw_u32(w, "llama.block_count", 1);
	gw_u32(w, "llama.feed_forward_length", 256);
	gw_u32(w, "llama.attention.head_count", 2);
	gw_u32(w, "llama.context_length", 64);
	gw_tensor(w, "token_embd.weight", 2, emb, EK_F32, zeros, NULL, NULL);
	gw_tensor(w, "output_norm.weight", 1, vec, EK_F32, zeros, NULL, NULL);
	gw_tensor(w, "output.weight", 2, emb, out_type, zeros, NULL, NULL);
	gw_tensor(w, "blk.0.attn_norm.weight", 1, vec, EK_F32, zeros, NULL, NULL);
	gw_tensor(w, "blk.0.ffn_norm.weight", 1, vec, EK_F32, zeros, NULL, NULL);
	gw_tensor(w, "blk.0.attn_q.weight", 2, sq, EK_F32, zeros, NULL, NULL);
	gw_tensor(w, "blk.0.attn_k.weight", 2, sq, EK_F32, zeros, NULL, NULL);
	gw_tensor(w, "blk.0.attn_v.weight", 2, sq, EK_F32, zeros, NULL, NULL);
	gw_tensor(w, "blk.0.attn_output.weight", 2, sq, EK_F32, zeros, NULL, NULL);
	gw_tensor(w, "blk.0.ffn_gate.weight", 2, up, EK_F32, zeros, NULL, NULL);
	gw_tensor(w, "blk.0.ffn_up.weight", 2, up, EK_F32, zeros, NULL, NULL);
	gw_tensor(w, "blk.0.ffn_down.weight", 2, down, ffn_type, zeros, NULL, NULL);
	ret = f ? gw_write(w, f) : -errno;
	if (f && fclose(f) && !ret)
		ret = -EIO;
	gw_free(w);
	return ret;
}

/* Loading such a model names the tensor, its type, what ember computes and
 * the way out; it never calls the file corrupt. */
static void test_unsupported_type_load(void)
{
	static const struct { uint32_t ffn, out; const char *tensor, *type; } cases[] = {
		{ 23, EK_F32, "'blk.0.ffn_down.weight'", "type IQ4_XS," },
		{ 34, EK_F32, "'blk.0.ffn_down.weight'", "type TQ1_0," },
		{ 10, EK_F32, "'blk.0.ffn_down.weight'", "type Q2_K," },
		{ EK_F32, 39, "'output.weight'", "type MXFP4," },	/* blocks of 32 */
	};
	char path[] = "/tmp/ember-test-types-XXXXXX";
	struct ember_model *m = NULL;
	struct ember_error err;
	char have[160];

	close(mkstemp(path));
	CHECK(write_model(path, EK_F32, EK_F32) == 0, "write");
	CHECK(ember_model_load(path, &m, &err) == 0, "the all-f32 model loads: %s", err.msg);
	ember_model_free(m);
	ggml_types_computed(have, sizeof(have));
	CHECK(!strcmp(have, "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K"),
	      "computed types: %s", have);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t out = cases[i].out;

		CHECK(write_model(path, cases[i].ffn, out) == 0, "write");
		m = NULL;
		CHECK(ember_model_load(path, &m, &err) == -ENOTSUP, "case %zu loaded", i);
		CHECK(strstr(err.msg, path) && strstr(err.msg, cases[i].tensor) &&
		      strstr(err.msg, cases[i].type) &&
		      strstr(err.msg, "which ember does not support yet (it computes ") &&
		      strstr(err.msg, have) && strstr(err.msg, "ember-mkmodel --quantize") &&
		      !strstr(err.msg, "corrupt"), "message: %s", err.msg);
		ember_model_free(m);
	}
	unlink(path);
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
	test_other_types();
	test_unsupported_type_load();
	test_real_model(argc > 1 ? argv[1] : "../shared/models");
	return CHECK_DONE("gguf");
}
