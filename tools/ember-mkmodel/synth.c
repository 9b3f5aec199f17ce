/* SPDX-License-Identifier: MIT */
#include "synth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ember/kernels.h>

#include "error.h"
#include "gguf.h"
#include "gguf_write.h"
#include "ggml_types.h"
#include "mix.h"

struct preset {
	const char *key;
	struct synth_spec s;
};

static const struct preset presets[] = {
	{ "smollm2-135m", { "llama", "SmolLM2-135M", 49152, 576, 30, 9, 3, 1536, 8192, 0,
			    100000.0f, 1e-5f, true, 0, 0, 0 } },
	{ "tinyllama-1.1b", { "llama", "TinyLlama-1.1B", 32000, 2048, 22, 32, 4, 5632, 2048, 0,
			      10000.0f, 1e-5f, false, 0, 0, 0 } },
	{ "qwen2.5-0.5b", { "qwen2", "Qwen2.5-0.5B", 151936, 896, 24, 14, 2, 4864, 32768, 0,
			    1000000.0f, 1e-6f, true, 0, 0, 0 } },
	/* an LM head of its own (output.weight): Qwen1.5's small models do not
	 * tie it, unlike Qwen2/2.5's; no GQA */
	{ "qwen1.5-0.5b", { "qwen2", "Qwen1.5-0.5B", 151936, 1024, 24, 16, 16, 2816, 32768, 0,
			    1000000.0f, 1e-6f, false, 0, 0, 0 } },
	{ "stories260k", { "llama", "stories260K", 512, 64, 5, 8, 4, 172, 2048, 0,
			   10000.0f, 1e-5f, false, 0, 0, 0 } },
	/* no real model: K-quant blocks fit every row, 8 layers make
	 * use_more_bits() pick some but not all (mix.c) */
	{ "tiny-256", { "llama", "tiny-256", 1024, 256, 8, 4, 2, 768, 512, 0,
			10000.0f, 1e-5f, false, 0, 0, 0 } },
};

bool synth_preset(const char *name, struct synth_spec *s)
{
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
		if (!strcmp(presets[i].key, name)) {
			int dt = s->dtype, edt = s->embd_dtype;
			uint64_t seed = s->seed;

			*s = presets[i].s;
			s->dtype = dt;
			s->embd_dtype = edt;
			s->seed = seed;
			return true;
		}
	}
	return false;
}

void synth_list_presets(void)
{
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
		const struct synth_spec *s = &presets[i].s;

		bool blocks = s->n_embd % EK_QK == 0 && s->n_ff % EK_QK == 0;
		bool k = s->n_embd % EK_QK_K == 0 && s->n_ff % EK_QK_K == 0;

		printf("  %-16s %s: vocab %u, embd %u, layers %u, heads %u/%u, ffn %u%s%s\n",
		       presets[i].key, s->arch, s->n_vocab, s->n_embd, s->n_layer, s->n_head,
		       s->n_head_kv, s->n_ff, s->tied ? ", tied embeddings" : "",
		       !blocks ? " (f32, f16, bf16 only)" :
		       !k ? " (K types fall back where rows are not multiples of 256)" : "");
	}
}

/* xorshift64*: deterministic weights from the seed and the tensor */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

struct gen {
	uint32_t n_in;
	int dtype;
	float scale, offset;	/* values offset + scale * U(-1, 1) */
	uint64_t seed;
};

static int gen_data(void *arg, FILE *f, uint64_t nbytes)
{
	struct gen *g = arg;
	size_t row = ek_row_size(g->dtype, g->n_in);
	float *x = malloc((size_t)g->n_in * sizeof(float));
	void *q = malloc(row);
	uint64_t st = g->seed | 1;
	int ret = 0;

	if (!x || !q) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint64_t done = 0; done < nbytes; done += row) {
		for (uint32_t i = 0; i < g->n_in; i++)
			x[i] = g->offset + g->scale *
			       ((float)(rnd(&st) >> 40) * (2.0f / 16777216.0f) - 1.0f);
		ek_quantize_row(g->dtype, x, q, g->n_in);
		if (fwrite(q, 1, row, f) != row) {
			ret = -EIO;
			break;
		}
	}
out:
	free(x);
	free(q);
	return ret;
}

/* A SentencePiece-style vocabulary: specials, 256 byte tokens, then
 * "▁word" pieces of letters so text tokenizes to plausible ids. */
static char **make_vocab(uint32_t n, float **scores, int32_t **types)
{
	char **t = calloc(n, sizeof(*t));
	uint32_t i = 0;

	*scores = calloc(n, sizeof(float));
	*types = calloc(n, sizeof(int32_t));
	if (!t || !*scores || !*types)
		return NULL;
	t[i] = strdup("<unk>"), (*types)[i++] = 2;
	t[i] = strdup("<s>"), (*types)[i++] = 3;
	t[i] = strdup("</s>"), (*types)[i++] = 3;
	for (int b = 0; b < 256 && i < n; b++) {
		char s[8];

		snprintf(s, sizeof(s), "<0x%02X>", b);
		t[i] = strdup(s);
		(*types)[i++] = 6;
	}
	for (uint32_t k = 0; i < n; k++) {
		char s[16];
		uint32_t v = k;
		size_t l = 0;

		memcpy(s, "\xe2\x96\x81", 3);	/* U+2581 */
		l = 3;
		do {
			s[l++] = (char)('a' + v % 26);
			v /= 26;
		} while (v && l < 12);
		s[l] = '\0';
		(*scores)[i] = -(float)k;
		(*types)[i] = 1;
		t[i++] = strdup(s);
	}
	for (uint32_t k = 0; k < n; k++)
		if (!t[k])
			return NULL;
	return t;
}

/* add_tensor's dt for a 2-D weight: the type the mix gives it; for
 * token_embd / output: embd_dtype when set, else the mix's. */
#define T_WEIGHT (-1)
#define T_EMBD (-2)

struct build {
	struct gguf_writer *w;
	const struct synth_spec *s;
	const struct mix *mix;
	struct gen *gens;
	uint32_t n_gen;
	int bad_dtype;		/* the type whose blocks the first misfit
				 * tensor's rows do not fill; -1: none */
};

static int tensor_type(const struct build *b, const char *nm, uint32_t nin, int dt,
		       int *want)
{
	const struct synth_spec *s = b->s;

	if (dt == T_EMBD && s->embd_dtype >= 0) {
		struct mix e = { s->embd_dtype, MIX_PURE };

		*want = s->embd_dtype;
		return mix_type(&e, nm, nin, s->n_layer, s->tied);
	}
	*want = dt < 0 ? b->mix->dtype : dt;
	return dt < 0 ? mix_type(b->mix, nm, nin, s->n_layer, s->tied) : dt;
}

static void add_tensor(struct build *b, const char *nm, uint32_t nin, uint32_t nout,
		       int dt, float sc, float off)
{
	uint64_t ne[2] = { nin, nout };
	struct gen *g = &b->gens[b->n_gen++];
	int want, t = tensor_type(b, nm, nin, dt, &want);

	if (t < 0) {
		if (b->bad_dtype < 0)
			b->bad_dtype = want;
		return;
	}
	g->n_in = nin;
	g->dtype = t;
	g->scale = sc;
	g->offset = off;
	g->seed = b->s->seed * 0x9e3779b97f4a7c15ull + b->n_gen * 0x632be59bd9b4e019ull;
	gw_tensor(b->w, nm, nout > 1 ? 2 : 1, ne, (uint32_t)t, NULL, gen_data, g);
}

/* Why the shape does not fit the types asked for. */
static int misfit(const struct synth_spec *s, int dtype, struct ember_error *err)
{
	const struct ggml_type_desc *d = ggml_type_desc((uint32_t)dtype);
	const struct ggml_type_desc *fd = ggml_type_desc((uint32_t)mix_fallback(dtype));
	char fb[64] = "";

	if (mix_fallback(dtype) >= 0 && fd)
		snprintf(fb, sizeof(fb), " (%u where they fall back to %s)", fd->blck,
			 ek_dtype_name(mix_fallback(dtype)));
	return ember_fail(err, -EINVAL,
			  "%s: %s weights come in blocks of %u%s, and the embedding (%u) and feed-forward (%u) sizes must be multiples of that; use f32, f16 or bf16 weights",
			  s->name, ek_dtype_name(dtype), d ? d->blck : 0, fb, s->n_embd, s->n_ff);
}

int synth_write(const struct synth_spec *s, const char *path, struct ember_error *err)
{
	struct mix m = { s->dtype, MIX_PURE };

	return synth_write_mix(s, &m, path, err);
}

int synth_write_mix(const struct synth_spec *s, const struct mix *mix, const char *path,
		    struct ember_error *err)
{
	struct gguf_writer *w = gw_new();
	uint32_t hd = s->n_head ? s->n_embd / s->n_head : 0, kvd = hd * s->n_head_kv;
	uint32_t cap = 16 + s->n_layer * 16;
	struct gen *gens = calloc(cap, sizeof(*gens));
	struct build b = { w, s, mix, gens, 0, -1 };
	char key[128], name[96], mname[16], **vocab = NULL;
	float *scores = NULL;
	int32_t *types = NULL;
	bool qwen = !strcmp(s->arch, "qwen2");
	FILE *f = NULL;
	int ret;

	if (!w || !gens) {
		ret = ember_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (!s->n_head || s->n_embd % s->n_head || !s->n_head_kv || s->n_head % s->n_head_kv) {
		ret = ember_fail(err, -EINVAL,
				 "%s: %u heads must divide the embedding (%u) and %u KV heads the heads",
				 s->name, s->n_head, s->n_embd, s->n_head_kv);
		goto out;
	}
	vocab = make_vocab(s->n_vocab, &scores, &types);
	if (!vocab) {
		ret = ember_fail(err, -ENOMEM, "out of memory for the vocabulary");
		goto out;
	}
	gw_str(w, "general.architecture", s->arch);
	snprintf(name, sizeof(name), "%s-shaped (GENERATED weights, %s)", s->name,
		 mix_name(mix, mname, sizeof(mname)));
	gw_str(w, "general.name", name);
	gw_bool(w, "ember.generated_weights", true);
	gw_str(w, "general.description",
	       "Generated by ember-mkmodel: real model shapes, pseudo-random weights. Not a trained model; for benchmarks and tests only.");
#define TENSOR(nm, nin, nout, dt, sc, off) add_tensor(&b, nm, nin, nout, dt, sc, off)
#define HP(suffix, v) (snprintf(key, sizeof(key), "%s." suffix, s->arch), gw_u32(w, key, v))
	HP("context_length", s->n_ctx);
	HP("embedding_length", s->n_embd);
	HP("block_count", s->n_layer);
	HP("feed_forward_length", s->n_ff);
	HP("attention.head_count", s->n_head);
	HP("attention.head_count_kv", s->n_head_kv);
	HP("rope.dimension_count", s->rope_dim ? s->rope_dim : hd);
#undef HP
	snprintf(key, sizeof(key), "%s.attention.layer_norm_rms_epsilon", s->arch);
	gw_f32(w, key, s->rms_eps);
	snprintf(key, sizeof(key), "%s.rope.freq_base", s->arch);
	gw_f32(w, key, s->rope_base);
	gw_str(w, "tokenizer.ggml.model", "llama");
	gw_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)vocab, s->n_vocab);
	gw_arr_f32(w, "tokenizer.ggml.scores", scores, s->n_vocab);
	gw_arr_i32(w, "tokenizer.ggml.token_type", types, s->n_vocab);
	gw_u32(w, "tokenizer.ggml.bos_token_id", 1);
	gw_u32(w, "tokenizer.ggml.eos_token_id", 2);
	gw_u32(w, "tokenizer.ggml.unknown_token_id", 0);

	{
		float ws = 1.0f / sqrtf((float)s->n_embd), fs = 1.0f / sqrtf((float)s->n_ff);

		TENSOR("token_embd.weight", s->n_embd, s->n_vocab, T_EMBD, 1.0f, 0.0f);
		TENSOR("output_norm.weight", s->n_embd, 1, EK_F32, 0.1f, 1.0f);
		if (!s->tied)
			TENSOR("output.weight", s->n_embd, s->n_vocab, T_EMBD, ws, 0.0f);
		for (uint32_t l = 0; l < s->n_layer; l++) {
			char tn[64];

#define LT(suffix, nin, nout, dt, sc, off)                                             \
	do {                                                                          \
		snprintf(tn, sizeof(tn), "blk.%u." suffix, l);                        \
		TENSOR(tn, nin, nout, dt, sc, off);                                   \
	} while (0)
			LT("attn_norm.weight", s->n_embd, 1, EK_F32, 0.1f, 1.0f);
			LT("attn_q.weight", s->n_embd, s->n_embd, T_WEIGHT, ws, 0.0f);
			LT("attn_k.weight", s->n_embd, kvd, T_WEIGHT, ws, 0.0f);
			LT("attn_v.weight", s->n_embd, kvd, T_WEIGHT, ws, 0.0f);
			if (qwen) {
				LT("attn_q.bias", s->n_embd, 1, EK_F32, 0.1f, 0.0f);
				LT("attn_k.bias", kvd, 1, EK_F32, 0.1f, 0.0f);
				LT("attn_v.bias", kvd, 1, EK_F32, 0.1f, 0.0f);
			}
			LT("attn_output.weight", s->n_embd, s->n_embd, T_WEIGHT, ws, 0.0f);
			LT("ffn_norm.weight", s->n_embd, 1, EK_F32, 0.1f, 1.0f);
			LT("ffn_gate.weight", s->n_embd, s->n_ff, T_WEIGHT, ws, 0.0f);
			LT("ffn_up.weight", s->n_embd, s->n_ff, T_WEIGHT, ws, 0.0f);
			LT("ffn_down.weight", s->n_ff, s->n_embd, T_WEIGHT, fs, 0.0f);
#undef LT
		}
	}
	if (b.bad_dtype >= 0) {
		ret = misfit(s, b.bad_dtype, err);
		goto out;
	}
	f = fopen(path, "wb");
	if (!f) {
		ret = ember_fail(err, -errno, "%s: cannot create: %s", path, strerror(errno));
		goto out;
	}
	ret = gw_write(w, f);
	if (fclose(f) && !ret)
		ret = -EIO;
	if (ret)
		ret = ember_fail(err, ret, "%s: writing failed: %s (disk full?)", path,
				 strerror(-ret));
out:
	if (vocab)
		for (uint32_t i = 0; i < s->n_vocab; i++)
			free(vocab[i]);
	free(vocab);
	free(scores);
	free(types);
	free(gens);
	gw_free(w);
	return ret;
}
