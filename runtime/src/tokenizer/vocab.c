/* SPDX-License-Identifier: MIT */
/* Vocabulary loading, special-token splitting and token -> bytes. */
#include "vocab.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe_bytes.h"

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

int32_t vocab_find(const struct vocab *v, const char *s, size_t n)
{
	uint64_t i;

	if (!v->ht)
		return -1;
	for (i = hash_bytes(s, n) & v->ht_mask; v->ht[i]; i = (i + 1) & v->ht_mask) {
		const struct gguf_str *t = &v->text[v->ht[i] - 1];

		if (t->n == n && !memcmp(t->p, s, n))
			return (int32_t)v->ht[i] - 1;
	}
	return -1;
}

int64_t vocab_merge_rank(const struct vocab *v, int32_t a, int32_t b, int32_t *result)
{
	uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;

	if (!v->merge_key)
		return -1;
	for (uint64_t i = mix64(key) & v->merge_mask; v->merge_key[i];
	     i = (i + 1) & v->merge_mask)
		if (v->merge_key[i] == key) {
			*result = v->merge_result[i];
			return v->merge_rank[i];
		}
	return -1;
}

void tokvec_push(struct tokvec *tv, int32_t t)
{
	if (tv->n == tv->cap) {
		uint32_t cap = tv->cap ? tv->cap * 2 : 64;
		int32_t *nv = realloc(tv->v, cap * sizeof(*nv));

		if (!nv) {
			tv->oom = true;
			return;
		}
		tv->v = nv;
		tv->cap = cap;
	}
	tv->v[tv->n++] = t;
}

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t p = 16;

	while (p < n)
		p <<= 1;
	return p;
}

static int load_special_id(const struct gguf_file *f, struct vocab *v,
			   const char *key, int32_t *out, struct ember_error *err)
{
	uint32_t id;
	int ret = gguf_get_u32(f, key, &id, err);

	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	if (id >= v->n)
		return ember_fail(err, -EINVAL,
				  "%s: metadata key '%s' is %u but the vocabulary has %u tokens; the file is corrupt",
				  f->name, key, id, v->n);
	*out = (int32_t)id;
	return 0;
}

static int cmp_special_len(const void *a, const void *b, void *arg)
{
	const struct vocab *v = arg;
	uint64_t x = v->text[*(const int32_t *)a].n, y = v->text[*(const int32_t *)b].n;

	if (x != y)
		return x > y ? -1 : 1;
	return *(const int32_t *)a - *(const int32_t *)b;
}

static int load_merges(struct vocab *v, const struct gguf_file *f,
		       struct ember_error *err)
{
	const struct gguf_kv *kv;
	const uint8_t *p;
	int ret = gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_STRING, &kv, err);

	if (ret == -ENOENT)
		return ember_fail(err, -EINVAL,
				  "%s: GPT-2 style tokenizer without tokenizer.ggml.merges; the file is incomplete: convert the model again",
				  f->name);
	if (ret)
		return ret;
	v->merge_mask = pow2_at_least(kv->arr_n * 2 + 1) - 1;
	v->merge_key = calloc((size_t)v->merge_mask + 1, sizeof(*v->merge_key));
	v->merge_rank = calloc((size_t)v->merge_mask + 1, sizeof(*v->merge_rank));
	v->merge_result = calloc((size_t)v->merge_mask + 1, sizeof(*v->merge_result));
	if (!v->merge_key || !v->merge_rank || !v->merge_result)
		return ember_fail(err, -ENOMEM, "%s: out of memory for the merges", f->name);
	p = kv->val;
	for (uint64_t r = 0; r < kv->arr_n; r++) {
		struct gguf_str m = gguf_next_str(&p);
		const char *sp = memchr(m.p, ' ', m.n);
		int32_t a, b, res;
		uint64_t key, i;

		/* "left right"; the first space separates (tokens have no spaces) */
		if (!sp || sp == m.p)
			goto bad;
		a = vocab_find(v, m.p, (size_t)(sp - m.p));
		b = vocab_find(v, sp + 1, m.n - (size_t)(sp - m.p) - 1);
		if (a < 0 || b < 0)
			goto bad;
		/* the merged string, e.g. "Ġ" + "t": the pair text without the space */
		{
			char *cat = malloc(m.n);

			if (!cat)
				return ember_fail(err, -ENOMEM, "%s: out of memory", f->name);
			memcpy(cat, m.p, (size_t)(sp - m.p));
			memcpy(cat + (sp - m.p), sp + 1, m.n - (size_t)(sp - m.p) - 1);
			res = vocab_find(v, cat, m.n - 1);
			free(cat);
		}
		if (res < 0)	/* a merge whose result is not a token never applies */
			continue;
		key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
		for (i = mix64(key) & v->merge_mask; v->merge_key[i] && v->merge_key[i] != key;
		     i = (i + 1) & v->merge_mask)
			;
		if (!v->merge_key[i]) {	/* the first (best) rank wins */
			v->merge_key[i] = key;
			v->merge_rank[i] = (uint32_t)r;
			v->merge_result[i] = res;
		}
		continue;
bad:
		return ember_fail(err, -EINVAL,
				  "%s: tokenizer.ggml.merges entry %llu is not two vocabulary tokens separated by a space; the file is corrupt",
				  f->name, (unsigned long long)r);
	}
	return 0;
}

static void add_eog(struct vocab *v, int32_t id)
{
	if (id < 0 || v->n_eog == sizeof(v->eog) / sizeof(v->eog[0]))
		return;
	for (uint32_t i = 0; i < v->n_eog; i++)
		if (v->eog[i] == id)
			return;
	v->eog[v->n_eog++] = id;
}

int vocab_load(struct vocab *v, const struct gguf_file *f, struct ember_error *err)
{
	const struct gguf_kv *toks, *scores = NULL, *types = NULL;
	struct gguf_str model, pre;
	const uint8_t *p;
	int ret;

	memset(v, 0, sizeof(*v));
	v->bos = v->eos = v->unk = v->eot = v->eom = -1;
	for (int i = 0; i < 256; i++)
		v->byte_tok[i] = -1;
	ret = gguf_get_str(f, "tokenizer.ggml.model", &model, err);
	if (ret == -ENOENT || (!ret && gguf_str_eq(model, "none")))
		return 0;	/* no tokenizer: token ids only */
	if (ret)
		return ret;
	if (gguf_str_eq(model, "llama")) {
		v->kind = VOCAB_SPM;
	} else if (gguf_str_eq(model, "gpt2")) {
		v->kind = VOCAB_BPE;
	} else {
		char m[64];

		snprintf(m, sizeof(m), "%.*s", (int)(model.n < 40 ? model.n : 40), model.p);
		return ember_fail(err, -ENOTSUP,
				  "%s: tokenizer.ggml.model '%s' is not supported (ember knows 'llama' and 'gpt2')",
				  f->name, m);
	}
	ret = gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_STRING, &toks, err);
	if (ret == -ENOENT)
		return ember_fail(err, -EINVAL, "%s: tokenizer.ggml.tokens is missing; convert the model again",
				  f->name);
	if (ret)
		return ret;
	if (toks->arr_n == 0 || toks->arr_n > INT32_MAX / 4)
		return ember_fail(err, -EINVAL, "%s: tokenizer.ggml.tokens has %llu entries; the file is corrupt",
				  f->name, (unsigned long long)toks->arr_n);
	v->n = (uint32_t)toks->arr_n;
	ret = gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_F32, &scores, err);
	if (ret && ret != -ENOENT)
		return ret;
	ret = gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_I32, &types, err);
	if (ret && ret != -ENOENT)
		return ret;
	if ((scores && scores->arr_n != v->n) || (types && types->arr_n != v->n))
		return ember_fail(err, -EINVAL,
				  "%s: tokenizer.ggml.scores/token_type do not have one entry per token (%u); the file is corrupt",
				  f->name, v->n);
	v->text = calloc(v->n, sizeof(*v->text));
	v->score = calloc(v->n, sizeof(*v->score));
	v->type = calloc(v->n, 1);
	v->ht_mask = pow2_at_least((uint64_t)v->n * 2) - 1;
	v->ht = calloc((size_t)v->ht_mask + 1, sizeof(*v->ht));
	v->special = calloc(v->n, sizeof(*v->special));
	if (!v->text || !v->score || !v->type || !v->ht || !v->special)
		return ember_fail(err, -ENOMEM, "%s: out of memory for the vocabulary", f->name);
	p = toks->val;
	for (uint32_t i = 0; i < v->n; i++) {
		int64_t t = types ? gguf_arr_int(types, i) : TT_NORMAL;
		uint64_t h;

		v->text[i] = gguf_next_str(&p);
		if (scores)
			memcpy(&v->score[i], scores->val + 4 * (size_t)i, 4);
		v->type[i] = (t >= TT_UNDEFINED && t <= TT_BYTE) ? (uint8_t)t : TT_UNDEFINED;
		/* a later duplicate string replaces an earlier one */
		for (h = hash_bytes(v->text[i].p, v->text[i].n) & v->ht_mask; v->ht[h];
		     h = (h + 1) & v->ht_mask) {
			const struct gguf_str *o = &v->text[v->ht[h] - 1];

			if (o->n == v->text[i].n && !memcmp(o->p, v->text[i].p, o->n))
				break;
		}
		v->ht[h] = i + 1;
		if (v->type[i] == TT_CONTROL || v->type[i] == TT_USER_DEFINED ||
		    v->type[i] == TT_UNKNOWN) {
			if (v->text[i].n)
				v->special[v->n_special++] = (int32_t)i;
		}
	}
	qsort_r(v->special, v->n_special, sizeof(*v->special), cmp_special_len, v);

	if (v->kind == VOCAB_SPM) {
		v->add_bos = true;
		v->add_space_prefix = true;
		for (int b = 0; b < 256; b++) {
			char s[8];

			snprintf(s, sizeof(s), "<0x%02X>", b);
			v->byte_tok[b] = vocab_find(v, s, 6);
		}
	} else {
		v->pre = PRE_GPT2;
		if (!gguf_get_str(f, "tokenizer.ggml.pre", &pre, NULL)) {
			if (gguf_str_eq(pre, "llama3") || gguf_str_eq(pre, "llama-bpe") ||
			    gguf_str_eq(pre, "llama-v3"))
				v->pre = PRE_LLAMA3;
			else if (gguf_str_eq(pre, "smollm"))
				v->pre = PRE_SMOLLM;
			else if (gguf_str_eq(pre, "qwen2"))
				v->pre = PRE_QWEN2;
		}
		for (int b = 0; b < 256; b++) {
			char s[4];
			size_t n = bpe_byte_to_utf8((uint8_t)b, s);

			v->byte_tok[b] = vocab_find(v, s, n);
		}
		ret = load_merges(v, f, err);
		if (ret)
			return ret;
	}
	ret = load_special_id(f, v, "tokenizer.ggml.bos_token_id", &v->bos, err);
	if (!ret)
		ret = load_special_id(f, v, "tokenizer.ggml.eos_token_id", &v->eos, err);
	if (!ret)
		ret = load_special_id(f, v, "tokenizer.ggml.unknown_token_id", &v->unk, err);
	if (!ret)
		ret = load_special_id(f, v, "tokenizer.ggml.eot_token_id", &v->eot, err);
	if (!ret)
		ret = load_special_id(f, v, "tokenizer.ggml.eom_token_id", &v->eom, err);
	if (ret)
		return ret;
	ret = gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &v->add_bos, err);
	if (ret && ret != -ENOENT)
		return ret;
	ret = gguf_get_bool(f, "tokenizer.ggml.add_eos_token", &v->add_eos, err);
	if (ret && ret != -ENOENT)
		return ret;
	ret = gguf_get_bool(f, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix, err);
	if (ret && ret != -ENOENT)
		return ret;
	add_eog(v, v->eos);
	add_eog(v, v->eot);
	add_eog(v, v->eom);
	/* chat templates end turns with these even when the metadata names
	 * only the eos token */
	for (uint32_t i = 0; i < v->n_special; i++) {
		static const char *const ends[] = { "<|eot_id|>", "<|im_end|>", "<|end|>",
						    "<|endoftext|>", "<end_of_turn>", "<|eom_id|>" };
		int32_t id = v->special[i];

		for (size_t k = 0; k < sizeof(ends) / sizeof(ends[0]); k++)
			if (v->type[id] == TT_CONTROL && gguf_str_eq(v->text[id], ends[k]))
				add_eog(v, id);
	}
	if (v->add_bos && v->bos < 0)
		v->add_bos = false;
	if (v->add_eos && v->eos < 0)
		v->add_eos = false;
	return 0;
}

void vocab_free(struct vocab *v)
{
	free(v->text);
	free(v->score);
	free(v->type);
	free(v->ht);
	free(v->special);
	free(v->merge_key);
	free(v->merge_rank);
	free(v->merge_result);
	memset(v, 0, sizeof(*v));
}

/* A piece of input: raw text, or an already identified special token. */
struct frag {
	int32_t tok;		/* -1: raw text */
	size_t off, len;
};

struct fragvec {
	struct frag *v;
	size_t n, cap;
};

static int frag_insert(struct fragvec *fv, size_t at, struct frag f)
{
	if (fv->n == fv->cap) {
		size_t cap = fv->cap ? fv->cap * 2 : 16;
		struct frag *nv = realloc(fv->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		fv->v = nv;
		fv->cap = cap;
	}
	memmove(fv->v + at + 1, fv->v + at, (fv->n - at) * sizeof(*fv->v));
	fv->v[at] = f;
	fv->n++;
	return 0;
}

/* Splits every raw fragment at each occurrence of each special token,
 * longest tokens first (so "<|im_start|>" wins over "<"). */
static int split_specials(const struct vocab *v, const char *text,
			  bool parse_special, struct fragvec *fv)
{
	for (uint32_t s = 0; s < v->n_special; s++) {
		int32_t id = v->special[s];
		const struct gguf_str *t = &v->text[id];

		if (!parse_special && v->type[id] != TT_USER_DEFINED)
			continue;
		for (size_t i = 0; i < fv->n; i++) {
			struct frag *f = &fv->v[i];
			const char *hit;
			size_t pos, rest;

			if (f->tok >= 0 || f->len < t->n)
				continue;
			hit = memmem(text + f->off, f->len, t->p, t->n);
			if (!hit)
				continue;
			pos = (size_t)(hit - text);
			rest = f->off + f->len - pos - t->n;
			/* [before][token][after]; "after" is scanned next */
			if (pos > f->off) {
				struct frag before = { -1, f->off, pos - f->off };

				if (frag_insert(fv, i, before))
					return -ENOMEM;
				i++;
				f = &fv->v[i];
			}
			f->tok = id;
			f->off = pos;
			f->len = t->n;
			if (rest) {
				struct frag after = { -1, pos + t->n, rest };

				if (frag_insert(fv, i + 1, after))
					return -ENOMEM;
			}
		}
	}
	return 0;
}

int vocab_tokenize(const struct vocab *v, const char *text, size_t len,
		   bool add_special, bool parse_special, struct tokvec *out)
{
	struct fragvec fv = { 0 };
	struct frag all = { -1, 0, len };
	bool prev_special = true;	/* the text start counts as "after a special" */
	char *buf = NULL;
	int ret = 0;

	if (len && (ret = frag_insert(&fv, 0, all)))
		return ret;
	ret = split_specials(v, text, parse_special, &fv);
	if (ret)
		goto out;
	/* BOS unless the text already starts with it (no double BOS) */
	if (add_special && v->add_bos && !(fv.n && fv.v[0].tok == v->bos))
		tokvec_push(out, v->bos);
	for (size_t i = 0; i < fv.n; i++) {
		const struct frag *f = &fv.v[i];

		if (f->tok >= 0) {
			tokvec_push(out, f->tok);
			prev_special = true;
			continue;
		}
		if (v->kind == VOCAB_SPM) {
			/* " " prefix (after a special token or at the start),
			 * then every space becomes U+2581 */
			size_t n = 0, extra = v->add_space_prefix && prev_special;

			buf = realloc(buf, (f->len + extra) * 3 + 1);
			if (!buf) {
				ret = -ENOMEM;
				goto out;
			}
			for (size_t j = 0; j < f->len + extra; j++) {
				char c = j < extra ? ' ' : text[f->off + j - extra];

				if (c == ' ') {
					memcpy(buf + n, "\xe2\x96\x81", 3);
					n += 3;
				} else {
					buf[n++] = c;
				}
			}
			spm_tokenize(v, buf, n, out);
		} else {
			bpe_tokenize(v, text + f->off, f->len, out);
		}
		prev_special = false;
	}
	if (add_special && v->add_eos)
		tokvec_push(out, v->eos);
	if (out->oom)
		ret = -ENOMEM;
out:
	free(buf);
	free(fv.v);
	return ret;
}

static int put(char *buf, size_t size, const char *s, size_t n)
{
	memcpy(buf, s, n < size ? n : size);
	return (int)n;
}

int vocab_piece(const struct vocab *v, int32_t tok, bool special, char *buf,
		size_t size)
{
	const struct gguf_str *t;
	uint8_t type;

	if (tok < 0 || (uint32_t)tok >= v->n)
		return -EINVAL;
	t = &v->text[tok];
	type = v->type[tok];
	if (type == TT_CONTROL)
		return special ? put(buf, size, t->p, t->n) : 0;
	if (type == TT_UNKNOWN)
		return put(buf, size, "\xe2\x96\x85", 3);
	if (type == TT_USER_DEFINED && v->kind == VOCAB_BPE)
		return put(buf, size, t->p, t->n);
	if (v->kind == VOCAB_SPM) {
		size_t n = 0;

		if (type == TT_BYTE && t->n == 6) {
			char hex[3] = { t->p[3], t->p[4], 0 };
			char b = (char)strtol(hex, NULL, 16);

			return put(buf, size, &b, 1);
		}
		for (uint64_t i = 0; i < t->n; i++) {
			if (i + 2 < t->n && !memcmp(t->p + i, "\xe2\x96\x81", 3)) {
				if (n < size)
					buf[n] = ' ';
				n++;
				i += 2;
			} else {
				if (n < size)
					buf[n] = t->p[i];
				n++;
			}
		}
		return (int)n;
	}
	/* GPT-2: every character maps back to one byte */
	{
		size_t n = 0;

		for (uint64_t i = 0; i < t->n;) {
			int b;
			size_t l = bpe_utf8_to_byte(t->p + i, t->n - i, &b);

			if (b < 0) {	/* not byte-mapped: pass through */
				for (size_t j = 0; j < l; j++, n++)
					if (n < size)
						buf[n] = t->p[i + j];
			} else {
				if (n < size)
					buf[n] = (char)b;
				n++;
			}
			i += l;
		}
		return (int)n;
	}
}
