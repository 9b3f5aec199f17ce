/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: arbitrary bytes as a GGUF file through the parser, every
 * typed getter, the vocabulary loader, tokenization and detokenization;
 * then as a model file through ember_model_load (hyperparameters, tensors
 * bound and shape-checked, repacked) and, when it loads, two forward
 * passes over an f16 and over a Q8_0 KV cache. Built with libFuzzer by
 * run-fuzz.sh; standalone.c replays the corpus as a regression test.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ember/runtime.h>

#include "gguf.h"
#include "vocab.h"

/* The bytes as a model file (a memfd, so nothing touches the disk). */
static void fuzz_model(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz.gguf", MFD_CLOEXEC);
	char path[64];
	struct ember_model *m = NULL;
	struct ember_session *s = NULL;
	struct ember_session_opts so;
	struct ember_error err;

	if (fd < 0)
		return;
	if (write(fd, data, size) != (ssize_t)size)
		goto out;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (ember_model_load(path, &m, &err))
		goto out;
	ember_session_opts_default(&so);
	so.n_ctx = 8;
	so.n_batch = 4;
	so.n_threads = 2;	/* the decode team too */
	/* an f16 KV cache, then a Q8_0 one (refused unless 32 | head size) */
	for (int kv = 0; kv < 2; kv++) {
		int32_t toks[3] = { 0, 1, 2 };
		const float *logits;
		struct ember_model_info in;

		so.kv_dtype = kv ? EMBER_TYPE_Q8_0 : EMBER_TYPE_F16;
		if (ember_session_create(m, &so, &s, &err))
			continue;
		ember_model_get_info(m, &in);
		for (int i = 0; i < 3; i++)
			toks[i] = in.n_vocab ? (int32_t)(i % in.n_vocab) : 0;
		if (!ember_eval(s, toks, 2, &logits, &err))
			ember_eval(s, toks + 2, 1, &logits, &err);
		ember_session_free(s);
		s = NULL;
	}
	ember_model_free(m);
out:
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gguf_file f;
	struct ember_error err;
	struct vocab v;
	/* an exact-size copy so the sanitizer sees any over-read */
	uint8_t *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (gguf_parse(&f, buf, size, "fuzz.gguf", &err) == 0) {
		for (uint64_t i = 0; i < f.n_kv; i++) {
			char key[300];
			const struct gguf_kv *kv;
			struct gguf_str s;
			uint32_t u;
			int64_t i64;
			float x;
			bool b;

			snprintf(key, sizeof(key), "%.*s", (int)f.kv[i].key.n, f.kv[i].key.p);
			gguf_get_u32(&f, key, &u, &err);
			gguf_get_i64(&f, key, &i64, &err);
			gguf_get_f32(&f, key, &x, &err);
			gguf_get_bool(&f, key, &b, &err);
			gguf_get_str(&f, key, &s, &err);
			if (!gguf_get_arr(&f, key, GGUF_STRING, &kv, &err)) {
				const uint8_t *p = kv->val;

				for (uint64_t k = 0; k < kv->arr_n; k++)
					gguf_next_str(&p);
			}
			if (f.kv[i].type == GGUF_ARRAY)
				for (uint64_t k = 0; k < f.kv[i].arr_n && k < 64; k++)
					gguf_arr_int(&f.kv[i], k);
		}
		if (vocab_load(&v, &f, &err) == 0 && v.kind != VOCAB_NONE) {
			static const char *texts[] = { "Hello world <s> 123", "\xe6\x97\xa5 \xff\xfe x",
						       "" };
			for (size_t t = 0; t < 3; t++) {
				struct tokvec tv = { 0 };

				if (!vocab_tokenize(&v, texts[t], strlen(texts[t]), true, true, &tv))
					for (uint32_t k = 0; k < tv.n; k++) {
						char piece[64];

						vocab_piece(&v, tv.v[k], true, piece, sizeof(piece));
					}
				free(tv.v);
			}
		}
		vocab_free(&v);
		gguf_close(&f);
		fuzz_model(data, size);
	}
	free(buf);
	return 0;
}
