/* SPDX-License-Identifier: MIT */
/* Writes the fuzzer's seed inputs: small GGUF files with an SPM and a
 * GPT-2 vocabulary, arrays of every type, and tensors; and tiny whole
 * models (llama and qwen2, f32 / Q8_0 / Q4_0) for the model loader. */
#include <stdio.h>
#include <string.h>

#include <ember/kernels.h>

#include "gguf_write.h"
#include "synth.h"

static void write(const char *dir, const char *name, struct gguf_writer *w)
{
	char p[4096];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "wb");
	if (f) {
		gw_write(w, f);
		fclose(f);
	}
	gw_free(w);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	static const char *spm[] = { "<unk>", "<s>", "</s>", "<0x41>", "<0xE6>", "\xe2\x96\x81",
				     "\xe2\x96\x81H", "e", "l", "o", "\xe2\x96\x81Hello", "w" };
	static const float sc[] = { 0, 0, 0, 0, 0, -1, -2, -3, -4, -5, -1, -6 };
	static const int32_t ty[] = { 2, 3, 3, 6, 6, 1, 1, 1, 1, 1, 1, 1 };
	static const char *bpe[] = { "H", "e", "l", "o", "\xc4\xa0", "He", "ll", "llo", "Hello",
				     "\xc4\xa0w", "<|endoftext|>", "1", "2" };
	static const int32_t bty[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 1 };
	static const char *merges[] = { "H e", "l l", "ll o", "He llo", "\xc4\xa0 w" };
	static float data[64];
	uint64_t ne[2] = { 32, 2 };
	struct gguf_writer *w;

	w = gw_new();
	gw_str(w, "general.architecture", "llama");
	gw_str(w, "tokenizer.ggml.model", "llama");
	gw_arr_str(w, "tokenizer.ggml.tokens", spm, 12);
	gw_arr_f32(w, "tokenizer.ggml.scores", sc, 12);
	gw_arr_i32(w, "tokenizer.ggml.token_type", ty, 12);
	gw_u32(w, "tokenizer.ggml.bos_token_id", 1);
	gw_u32(w, "tokenizer.ggml.eos_token_id", 2);
	gw_tensor(w, "t.weight", 2, ne, EK_F32, data, NULL, NULL);
	write(dir, "spm.gguf", w);

	w = gw_new();
	gw_set_version(w, 2);
	gw_str(w, "tokenizer.ggml.model", "gpt2");
	gw_str(w, "tokenizer.ggml.pre", "llama3");
	gw_arr_str(w, "tokenizer.ggml.tokens", bpe, 13);
	gw_arr_i32(w, "tokenizer.ggml.token_type", bty, 13);
	gw_arr_str(w, "tokenizer.ggml.merges", merges, 5);
	gw_u32(w, "tokenizer.ggml.eos_token_id", 10);
	gw_bool(w, "tokenizer.ggml.add_bos_token", false);
	write(dir, "bpe.gguf", w);

	w = gw_new();
	{
		uint8_t nested[12 + 12 + 8 + 12 + 4];
		uint32_t t = 9, et = 5;	/* array of arrays of i32 */
		uint64_t n = 2, n1 = 2, n2 = 1;
		int32_t a[3] = { 1, 2, 3 };
		size_t o = 0;

		memcpy(nested + o, &t, 4), o += 4;
		memcpy(nested + o, &n, 8), o += 8;
		memcpy(nested + o, &et, 4), o += 4;
		memcpy(nested + o, &n1, 8), o += 8;
		memcpy(nested + o, a, 8), o += 8;
		memcpy(nested + o, &et, 4), o += 4;
		memcpy(nested + o, &n2, 8), o += 8;
		memcpy(nested + o, a + 2, 4), o += 4;
		gw_raw(w, "nested", 9, nested, o);
	}
	gw_set_alignment(w, 64);
	gw_tensor(w, "q", 2, ne, EK_Q8_0, data, NULL, NULL);
	write(dir, "nested.gguf", w);

	/* vocab, embd, layers, heads, kv heads, ff, ctx, rope dim, base, eps,
	 * tied, dtype, embd dtype, seed */
	struct synth_spec models[] = {
		{ "llama", "fuzz-llama", 20, 16, 1, 2, 1, 16, 8, 0, 10000.0f, 1e-5f,
		  false, EK_F32, EK_F32, 1 },
		{ "qwen2", "fuzz-qwen2", 20, 32, 1, 2, 1, 32, 8, 0, 10000.0f, 1e-6f,
		  true, EK_Q8_0, EK_Q8_0, 2 },
		{ "llama", "fuzz-llama-q4", 20, 64, 1, 4, 2, 32, 8, 8, 10000.0f, 1e-5f,
		  false, EK_Q4_0, EK_F16, 3 },
		/* head size 32: also runs over a Q8_0 KV cache */
		{ "llama", "fuzz-llama-h32", 20, 64, 1, 2, 1, 32, 8, 0, 10000.0f, 1e-5f,
		  false, EK_Q8_0, EK_Q8_0, 4 },
	};
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		char path[512];
		struct ember_error err;

		snprintf(path, sizeof(path), "%s/model-%s.gguf", dir, models[i].name + 5);
		if (synth_write(&models[i], path, &err)) {
			fprintf(stderr, "%s: %s\n", path, err.msg);
			return 1;
		}
	}
	return 0;
}
