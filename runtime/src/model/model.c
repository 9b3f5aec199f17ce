/* SPDX-License-Identifier: MIT */
/* Model loading: hyperparameters from {arch}.* keys, tensors bound by name
 * and checked against them. */
#include "model.h"

#include "ggml_types.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MAX_LAYERS 1024

static int get_hp(struct ember_model *m, const char *suffix, uint32_t *out,
		  bool required, struct ember_error *err)
{
	char key[96];
	int ret;

	snprintf(key, sizeof(key), "%s.%s", m->arch, suffix);
	ret = gguf_get_u32(&m->gguf, key, out, err);
	if (ret == -ENOENT && required)
		return ember_fail(err, -EINVAL,
				  "%s: metadata key '%s' is missing; the file is not a complete %s model: convert it again",
				  m->path, key, m->arch);
	return ret == -ENOENT ? 0 : ret;
}

static int get_hpf(struct ember_model *m, const char *suffix, float *out,
		   struct ember_error *err)
{
	char key[96];
	int ret;

	snprintf(key, sizeof(key), "%s.%s", m->arch, suffix);
	ret = gguf_get_f32(&m->gguf, key, out, err);
	return ret == -ENOENT ? 0 : ret;
}

static int find_tensor(struct ember_model *m, const char *name, bool required,
		       const struct gguf_tensor **out, struct ember_error *err)
{
	*out = gguf_tensor(&m->gguf, name);
	if (!*out && required)
		return ember_fail(err, -EINVAL,
				  "%s: tensor '%s' is missing; the file is not a complete %s model",
				  m->path, name, m->arch);
	return 0;
}

static int shape_error(struct ember_model *m, const char *name,
		       const struct gguf_tensor *t, uint64_t a, uint64_t b,
		       struct ember_error *err)
{
	return ember_fail(err, -EINVAL,
			  "%s: tensor '%s' has shape [%llu, %llu, %llu, %llu], expected [%llu, %llu] from the metadata; the file is inconsistent",
			  m->path, name, (unsigned long long)t->ne[0],
			  (unsigned long long)t->ne[1], (unsigned long long)t->ne[2],
			  (unsigned long long)t->ne[3], (unsigned long long)a,
			  (unsigned long long)b);
}

/* A tensor in a GGML type the kernels do not compute with (the parser knew
 * its layout, so the file is fine): name the type and the way out. */
static int type_error(struct ember_model *m, const char *name,
		      const struct gguf_tensor *t, struct ember_error *err)
{
	char have[160];

	return ember_fail(err, -ENOTSUP,
			  "%s: tensor '%s' has type %s, which ember does not support yet (it computes %s); requantize it: ember-mkmodel --quantize q4_k_m MODEL-f16.gguf OUT.gguf from the F16/BF16/F32 model (or llama-quantize to one of those types)",
			  m->path, name, ggml_type_name(t->type),
			  ggml_types_computed(have, sizeof(have)));
}

/* A matrix weight with ne = {n_in, n_out}, in a type the kernels handle. */
static int bind_weight(struct ember_model *m, const char *name, uint32_t n_in,
		       uint32_t n_out, bool required, struct weight *w,
		       struct ember_error *err)
{
	const struct gguf_tensor *t;
	int ret = find_tensor(m, name, required, &t, err);

	memset(w, 0, sizeof(*w));
	if (ret || !t)
		return ret;
	if (t->ne[0] != n_in || t->ne[1] != n_out || t->ne[2] != 1 || t->ne[3] != 1)
		return shape_error(m, name, t, n_in, n_out, err);
	if (!ek_dtype_known((int)t->type))
		return type_error(m, name, t, err);
	w->data = t->data;
	w->rows = t->data;
	w->dtype = (int)t->type;
	w->n_in = n_in;
	w->n_out = n_out;
	w->stride = ek_row_size(w->dtype, n_in);
	w->name = name;
	if (!w->stride || ((uintptr_t)w->data % ek_dtype_align(w->dtype)))
		return ember_fail(err, -EINVAL, "%s: tensor '%s' is misaligned or has invalid rows; the file is corrupt",
				  m->path, name);
	return 0;
}

void weight_row(const struct weight *w, uint64_t r, float *dst)
{
	if (w->layout == EK_LAYOUT_X16)
		ek_x16_dequantize_row(w->dtype, w->data, w->n_out, w->n_in, r, dst);
	else
		ek_dequantize_row(w->dtype, (const char *)w->data + r * w->stride, dst,
				  w->n_in);
}

/* Frees p with the model; on failure frees it now and fails with ENOMEM. */
static int model_own(struct ember_model *m, void *p, struct ember_error *err)
{
	void **owned = p ? realloc(m->owned, (m->n_owned + 1) * sizeof(*owned)) : NULL;

	if (!owned) {
		free(p);
		return ember_fail(err, -ENOMEM, "%s: out of memory", m->path);
	}
	m->owned = owned;
	m->owned[m->n_owned++] = p;
	return 0;
}

/* A vector of n elements, returned as f32 (copied if stored otherwise). */
static int bind_vector(struct ember_model *m, const char *name, uint32_t n,
		       bool required, const float **out, struct ember_error *err)
{
	const struct gguf_tensor *t;
	float *copy;
	int ret = find_tensor(m, name, required, &t, err);

	*out = NULL;
	if (ret || !t)
		return ret;
	if (t->ne[0] != n || t->ne[1] != 1 || t->ne[2] != 1 || t->ne[3] != 1)
		return shape_error(m, name, t, n, 1, err);
	if (t->type == EK_F32 && (uintptr_t)t->data % 4 == 0) {
		*out = t->data;
		return 0;
	}
	if (!ek_dtype_known((int)t->type))
		return type_error(m, name, t, err);
	copy = malloc((size_t)n * sizeof(float));
	if ((ret = model_own(m, copy, err)))
		return ret;
	ek_dequantize_row((int)t->type, t->data, copy, n);
	*out = copy;
	return 0;
}

static int load_hparams(struct ember_model *m, struct ember_error *err)
{
	struct ember_model_info *in = &m->info;
	uint32_t v;
	int ret;

	in->n_head_kv = 0;
	in->rms_eps = 1e-5f;
	in->rope_base = 10000.0f;
	if ((ret = get_hp(m, "embedding_length", &in->n_embd, true, err)) ||
	    (ret = get_hp(m, "block_count", &in->n_layer, true, err)) ||
	    (ret = get_hp(m, "feed_forward_length", &in->n_ff, true, err)) ||
	    (ret = get_hp(m, "attention.head_count", &in->n_head, true, err)) ||
	    (ret = get_hp(m, "attention.head_count_kv", &in->n_head_kv, false, err)) ||
	    (ret = get_hp(m, "context_length", &in->n_ctx_train, false, err)) ||
	    (ret = get_hpf(m, "attention.layer_norm_rms_epsilon", &in->rms_eps, err)) ||
	    (ret = get_hpf(m, "rope.freq_base", &in->rope_base, err)))
		return ret;
	if (!in->n_head_kv)
		in->n_head_kv = in->n_head;
	if (!in->n_embd || !in->n_layer || !in->n_ff || !in->n_head ||
	    in->n_layer > MAX_LAYERS || in->n_embd % in->n_head ||
	    in->n_head % in->n_head_kv)
		return ember_fail(err, -EINVAL,
				  "%s: inconsistent hyperparameters (embedding %u, layers %u, ffn %u, heads %u, kv heads %u): heads must divide the embedding and kv heads must divide heads",
				  m->path, in->n_embd, in->n_layer, in->n_ff, in->n_head,
				  in->n_head_kv);
	in->head_dim = in->n_embd / in->n_head;
	v = 0;
	if ((ret = get_hp(m, "attention.key_length", &v, false, err)))
		return ret;
	if (v && v != in->head_dim)
		return ember_fail(err, -ENOTSUP,
				  "%s: attention.key_length %u differs from embedding/heads %u; ember does not support such models yet",
				  m->path, v, in->head_dim);
	if (in->head_dim > EK_MAX_HEAD_DIM || in->head_dim % 2)
		return ember_fail(err, -ENOTSUP, "%s: head dimension %u is not supported (even, at most %d)",
				  m->path, in->head_dim, EK_MAX_HEAD_DIM);
	in->rope_dim = in->head_dim;
	if ((ret = get_hp(m, "rope.dimension_count", &in->rope_dim, false, err)))
		return ret;
	if (!in->rope_dim || in->rope_dim > in->head_dim || in->rope_dim % 2)
		return ember_fail(err, -EINVAL,
				  "%s: %s.rope.dimension_count %u must be even and at most the head dimension %u",
				  m->path, m->arch, in->rope_dim, in->head_dim);
	if (!(in->rms_eps > 0) || !(in->rope_base > 0))
		return ember_fail(err, -EINVAL, "%s: rms epsilon and rope base must be positive",
				  m->path);
	return 0;
}

/* The type of most of the layers' matmul weights (by elements): in a mix
 * such as llama-quantize's Q4_K_M, the one it is named after. */
static int main_dtype(const struct ember_model *m)
{
	uint64_t n[64] = { 0 };
	int best = m->layers[0].wq.dtype;

	for (uint32_t i = 0; i < m->info.n_layer; i++) {
		const struct layer *l = &m->layers[i];
		const struct weight *ws[] = { &l->wq, &l->wk, &l->wv, &l->wo, &l->gate,
					      &l->up, &l->down };

		for (size_t j = 0; j < sizeof(ws) / sizeof(ws[0]); j++)
			if (ws[j]->dtype >= 0 && ws[j]->dtype < 64)
				n[ws[j]->dtype] += (uint64_t)ws[j]->n_in * ws[j]->n_out;
	}
	for (int t = 0; t < 64; t++)
		if (n[t] > n[best])
			best = t;
	return best;
}

static int load_tensors(struct ember_model *m, struct ember_error *err)
{
	struct ember_model_info *in = &m->info;
	uint32_t d = in->n_embd, kv = in->n_head_kv * in->head_dim, ff = in->n_ff;
	const struct gguf_tensor *te;
	bool qwen = !strcmp(m->arch, "qwen2");
	int ret;

	ret = find_tensor(m, "token_embd.weight", true, &te, err);
	if (ret)
		return ret;
	if (te->ne[1] > INT32_MAX)
		return ember_fail(err, -EINVAL, "%s: token_embd.weight has too many rows", m->path);
	in->n_vocab = (uint32_t)te->ne[1];
	if (m->vocab.kind != VOCAB_NONE && m->vocab.n != in->n_vocab)
		return ember_fail(err, -EINVAL,
				  "%s: the tokenizer has %u tokens but token_embd.weight has %u rows; the file is inconsistent",
				  m->path, m->vocab.n, in->n_vocab);
	if ((ret = bind_weight(m, "token_embd.weight", d, in->n_vocab, true, &m->tok_embd, err)) ||
	    (ret = bind_weight(m, "output.weight", d, in->n_vocab, false, &m->output, err)) ||
	    (ret = bind_vector(m, "output_norm.weight", d, true, &m->output_norm, err)))
		return ret;
	in->tied_embeddings = !m->output.data;
	if (in->tied_embeddings)
		m->output = m->tok_embd;
	m->layers = calloc(in->n_layer, sizeof(*m->layers));
	if (!m->layers)
		return ember_fail(err, -ENOMEM, "%s: out of memory", m->path);
	for (uint32_t i = 0; i < in->n_layer; i++) {
		struct layer *l = &m->layers[i];
		char n[14][48];

		snprintf(n[0], 48, "blk.%u.attn_norm.weight", i);
		snprintf(n[1], 48, "blk.%u.ffn_norm.weight", i);
		snprintf(n[2], 48, "blk.%u.attn_q.weight", i);
		snprintf(n[3], 48, "blk.%u.attn_k.weight", i);
		snprintf(n[4], 48, "blk.%u.attn_v.weight", i);
		snprintf(n[5], 48, "blk.%u.attn_output.weight", i);
		snprintf(n[6], 48, "blk.%u.ffn_gate.weight", i);
		snprintf(n[7], 48, "blk.%u.ffn_up.weight", i);
		snprintf(n[8], 48, "blk.%u.ffn_down.weight", i);
		snprintf(n[9], 48, "blk.%u.attn_q.bias", i);
		snprintf(n[10], 48, "blk.%u.attn_k.bias", i);
		snprintf(n[11], 48, "blk.%u.attn_v.bias", i);
		if ((ret = bind_vector(m, n[0], d, true, &l->attn_norm, err)) ||
		    (ret = bind_vector(m, n[1], d, true, &l->ffn_norm, err)) ||
		    (ret = bind_weight(m, n[2], d, d, true, &l->wq, err)) ||
		    (ret = bind_weight(m, n[3], d, kv, true, &l->wk, err)) ||
		    (ret = bind_weight(m, n[4], d, kv, true, &l->wv, err)) ||
		    (ret = bind_weight(m, n[5], d, d, true, &l->wo, err)) ||
		    (ret = bind_weight(m, n[6], d, ff, true, &l->gate, err)) ||
		    (ret = bind_weight(m, n[7], d, ff, true, &l->up, err)) ||
		    (ret = bind_weight(m, n[8], ff, d, true, &l->down, err)) ||
		    (ret = bind_vector(m, n[9], d, qwen, &l->bq, err)) ||
		    (ret = bind_vector(m, n[10], kv, qwen, &l->bk, err)) ||
		    (ret = bind_vector(m, n[11], kv, qwen, &l->bv, err)))
			return ret;
		/* names point at stack buffers: keep only for errors above */
		l->wq.name = l->wk.name = l->wv.name = l->wo.name = NULL;
		l->gate.name = l->up.name = l->down.name = NULL;
		in->matmul_bytes += l->wq.stride * d + l->wk.stride * kv + l->wv.stride * kv +
				    l->wo.stride * d + l->gate.stride * ff + l->up.stride * ff +
				    l->down.stride * d;
	}
	in->matmul_bytes += m->output.stride * in->n_vocab;
	in->weight_dtype = main_dtype(m);
	for (uint64_t i = 0; i < m->gguf.n_tensors; i++) {
		const struct gguf_tensor *t = &m->gguf.tensors[i];

		in->n_params += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
	}
	return 0;
}

int ember_model_load(const char *path, struct ember_model **out,
		     struct ember_error *err)
{
	struct ember_model *m;
	struct gguf_str s;
	int ret;

	if (err)
		err->code = 0, err->msg[0] = '\0';
	*out = NULL;
	if (!path)
		return ember_fail(err, -EINVAL, "no model path given");
	m = calloc(1, sizeof(*m));
	if (!m || !(m->path = strdup(path))) {
		free(m);
		return ember_fail(err, -ENOMEM, "out of memory loading %s", path);
	}
	ret = gguf_open(&m->gguf, m->path, err);
	if (ret) {
		free(m->path);
		free(m);
		return ret;
	}
	ret = gguf_get_str(&m->gguf, "general.architecture", &s, err);
	if (ret == -ENOENT)
		ret = ember_fail(err, -EINVAL,
				 "%s: general.architecture is missing; this GGUF file is not a language model",
				 path);
	if (ret)
		goto fail;
	snprintf(m->arch, sizeof(m->arch), "%.*s", (int)(s.n < 31 ? s.n : 31), s.p);
	if (strcmp(m->arch, "llama") && strcmp(m->arch, "qwen2")) {
		ret = ember_fail(err, -ENOTSUP,
				 "%s: architecture '%s' is not supported (ember runs llama and qwen2 models)",
				 path, m->arch);
		goto fail;
	}
	if (!gguf_get_str(&m->gguf, "general.name", &s, NULL))
		snprintf(m->name, sizeof(m->name), "%.*s", (int)(s.n < 127 ? s.n : 127), s.p);
	m->info.arch = m->arch;
	m->info.name = m->name;
	m->info.path = m->path;
	m->info.rope_neox = !strcmp(m->arch, "qwen2");
	m->info.file_bytes = m->gguf.size;
	{
		bool gen = false;

		gguf_get_bool(&m->gguf, "ember.generated_weights", &gen, NULL);
		m->info.generated = gen;
	}
	if ((ret = load_hparams(m, err)) || (ret = vocab_load(&m->vocab, &m->gguf, err)) ||
	    (ret = load_tensors(m, err)))
		goto fail;
	model_repack(m);
	m->info.bos = m->vocab.bos;
	m->info.eos = m->vocab.eos;
	*out = m;
	return 0;
fail:
	ember_model_free(m);
	return ret;
}

void ember_model_free(struct ember_model *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; i < m->n_owned; i++)
		free(m->owned[i]);
	free(m->owned);
	if (m->arena)
		munmap(m->arena, m->arena_size);
	free(m->layers);
	vocab_free(&m->vocab);
	gguf_close(&m->gguf);
	free(m->path);
	free(m);
}

_Static_assert((int)EMBER_TYPE_F32 == EK_F32 && (int)EMBER_TYPE_F16 == EK_F16 &&
	       (int)EMBER_TYPE_Q4_0 == EK_Q4_0 && (int)EMBER_TYPE_Q4_1 == EK_Q4_1 &&
	       (int)EMBER_TYPE_Q5_0 == EK_Q5_0 && (int)EMBER_TYPE_Q5_1 == EK_Q5_1 &&
	       (int)EMBER_TYPE_Q8_0 == EK_Q8_0 && (int)EMBER_TYPE_Q4_K == EK_Q4_K &&
	       (int)EMBER_TYPE_Q5_K == EK_Q5_K && (int)EMBER_TYPE_Q6_K == EK_Q6_K &&
	       (int)EMBER_TYPE_BF16 == EK_BF16, "ember_type numbers are ek_dtype's (GGUF's)");

const char *ember_type_name(int type)
{
	return ek_dtype_name(type);
}

void ember_model_get_info(const struct ember_model *m, struct ember_model_info *info)
{
	*info = m->info;
}

uint32_t ember_n_vocab(const struct ember_model *m)
{
	return m->info.n_vocab;
}

int ember_tokenize(const struct ember_model *m, const char *text, long len,
		   bool add_bos, bool parse_special, int32_t *out, int max,
		   struct ember_error *err)
{
	struct tokvec tv = { 0 };
	size_t n = len < 0 ? strlen(text) : (size_t)len;
	int ret;

	if (m->vocab.kind == VOCAB_NONE)
		return ember_fail(err, -ENOTSUP, "%s: the model has no tokenizer metadata; pass token ids instead",
				  m->path);
	ret = vocab_tokenize(&m->vocab, text, n, add_bos, parse_special, &tv);
	if (ret) {
		free(tv.v);
		return ember_fail(err, ret, "tokenizing %zu bytes: %s", n, strerror(-ret));
	}
	if (tv.n > INT32_MAX / 2) {
		free(tv.v);
		return ember_fail(err, -E2BIG, "text too long to tokenize");
	}
	if (out && max > 0 && tv.n)
		memcpy(out, tv.v, (tv.n < (uint32_t)max ? tv.n : (uint32_t)max) * sizeof(*out));
	free(tv.v);
	return (int)tv.n;
}

int ember_token_to_piece(const struct ember_model *m, int32_t tok, bool special,
			 char *buf, size_t size)
{
	return vocab_piece(&m->vocab, tok, special, buf, size);
}

bool ember_token_is_eog(const struct ember_model *m, int32_t tok)
{
	const struct vocab *v = &m->vocab;

	for (uint32_t i = 0; i < v->n_eog; i++)
		if (v->eog[i] == tok)
			return true;
	return false;
}
