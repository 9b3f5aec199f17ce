/* SPDX-License-Identifier: MIT */
/*
 * ember-mkmodel --quantize: a GGUF model with its weights in another type
 * or mix. Each row is dequantized to f32 and quantized to the new type; the
 * written values are dequantized once more to measure what the conversion
 * cost against the input.
 */
#include "synth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ember/kernels.h>

#include "error.h"
#include "ggml_types.h"
#include "gguf.h"
#include "gguf_write.h"
#include "mix.h"

enum fate { COPY, CONVERT, KEEP };

struct requant {
	const struct gguf_tensor *t;
	char name[96];
	bool weight;
	enum fate fate;
	int dtype;		/* the type written */
	double err2, ref2;	/* sums of (written - input)^2 and input^2 */
};

static int requant_data(void *arg, FILE *f, uint64_t nbytes)
{
	struct requant *r = arg;
	uint64_t n = r->t->ne[0], rows = r->t->ne[1] * r->t->ne[2] * r->t->ne[3];
	size_t in_row = ek_row_size((int)r->t->type, n), out_row = ek_row_size(r->dtype, n);
	float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
	void *q = malloc(out_row);
	int ret = 0;

	(void)nbytes;
	if (!x || !y || !q) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint64_t i = 0; i < rows; i++) {
		ek_dequantize_row((int)r->t->type, (const char *)r->t->data + i * in_row, x, n);
		ek_quantize_row(r->dtype, x, q, n);
		ek_dequantize_row(r->dtype, q, y, n);
		for (uint64_t j = 0; j < n; j++) {
			r->err2 += ((double)y[j] - x[j]) * ((double)y[j] - x[j]);
			r->ref2 += (double)x[j] * x[j];
		}
		if (fwrite(q, 1, out_row, f) != out_row) {
			ret = -EIO;
			break;
		}
	}
out:
	free(x);
	free(y);
	free(q);
	return ret;
}

/* {arch}.block_count, else one more than the highest blk.N in the names. */
static uint32_t layer_count(const struct gguf_file *in)
{
	struct gguf_str arch;
	char key[96];
	uint32_t n = 0;

	if (!gguf_get_str(in, "general.architecture", &arch, NULL)) {
		snprintf(key, sizeof(key), "%.*s.block_count", (int)(arch.n < 64 ? arch.n : 64),
			 arch.p);
		if (!gguf_get_u32(in, key, &n, NULL))
			return n;
	}
	for (uint64_t i = 0; i < in->n_tensors; i++) {
		char name[64];
		unsigned l;

		snprintf(name, sizeof(name), "%.*s", (int)(in->tensors[i].name.n < 63 ?
							   in->tensors[i].name.n : 63),
			 in->tensors[i].name.p);
		if (sscanf(name, "blk.%u.", &l) == 1 && l + 1 > n)
			n = l + 1;
	}
	return n;
}

/* ek's name ("q4_K") for the types it knows, ggml's ("IQ4_XS") otherwise. */
static const char *tname(uint32_t t)
{
	const char *n = ggml_type_name(t);

	return ek_dtype_known((int)t) ? ek_dtype_name((int)t) : n ? n : "?";
}

/* Decides what happens to tensor r->t; fails for a weight in a type the
 * kernels cannot read. */
static int plan(const struct mix *mix, uint32_t n_layer, bool tied, struct requant *r,
		const char *path, struct ember_error *err)
{
	const struct gguf_tensor *t = r->t;
	char have[160];

	/* the weights: matrices other than norms (1-D tensors never are) */
	r->weight = t->n_dims == 2 && !strstr(r->name, "_norm");
	r->fate = COPY;
	r->dtype = (int)t->type;
	if (!r->weight)
		return 0;
	r->dtype = mix_type(mix, r->name, t->ne[0], n_layer, tied);
	if (r->dtype < 0) {
		r->fate = KEEP;
		r->dtype = (int)t->type;
		return 0;
	}
	if (r->dtype == (int)t->type)
		return 0;	/* already in its type: no second rounding */
	if (!ek_dtype_known((int)t->type))
		return ember_fail(err, -ENOTSUP,
				  "%s: tensor '%s' has type %s, which ember-mkmodel cannot read (it reads %s); quantize the model from its F16/BF16/F32 file instead",
				  path, r->name, tname(t->type), ggml_types_computed(have, sizeof(have)));
	r->fate = CONVERT;
	return 0;
}

static void print_log(FILE *log, const struct requant *rq, uint64_t n, const struct mix *mix)
{
	char mname[16];

	for (uint64_t i = 0; i < n; i++) {
		const struct requant *r = &rq[i];

		if (!r->weight)
			continue;
		fprintf(log, "  %-32s %-6s -> ", r->name, tname(r->t->type));
		if (r->fate == CONVERT)
			fprintf(log, "%-6s relative RMS error %.3e\n", tname((uint32_t)r->dtype),
				r->ref2 > 0 ? sqrt(r->err2 / r->ref2) : r->err2 > 0 ? INFINITY : 0.0);
		else if (r->fate == COPY)
			fprintf(log, "%-6s copied: already in that type\n", tname((uint32_t)r->dtype));
		else
			fprintf(log, "%-6s kept: rows of %llu values fit no block of %s\n",
				tname((uint32_t)r->dtype), (unsigned long long)r->t->ne[0],
				mix_name(mix, mname, sizeof(mname)));
	}
}

int synth_requantize(const char *in_path, const char *out_path, const struct mix *mix,
		     FILE *log, struct synth_quant_report *rep, struct ember_error *err)
{
	struct synth_quant_report r = { 0 };
	struct gguf_file in;
	struct gguf_writer *w;
	struct requant *rq;
	uint32_t n_layer;
	bool tied;
	FILE *f;
	int ret = gguf_open(&in, in_path, err);

	if (ret)
		return ret;
	n_layer = layer_count(&in);
	tied = !gguf_tensor(&in, "output.weight");
	w = gw_new();
	rq = calloc(in.n_tensors ? in.n_tensors : 1, sizeof(*rq));
	if (!w || !rq) {
		ret = ember_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	gw_copy_kvs(w, &in);
	for (uint64_t i = 0; i < in.n_tensors && !ret; i++) {
		const struct gguf_tensor *t = &in.tensors[i];
		struct requant *q = &rq[i];

		q->t = t;
		snprintf(q->name, sizeof(q->name), "%.*s", (int)(t->name.n < 95 ? t->name.n : 95),
			 t->name.p);
		ret = plan(mix, n_layer, tied, q, in_path, err);
		if (ret)
			break;
		if (q->weight && q->fate != KEEP) {
			r.converted++;
			if (q->dtype >= 0 && q->dtype < 64)
				r.by_type[q->dtype]++;
		} else if (q->fate == KEEP && !r.kept_rows++) {
			snprintf(r.first_kept, sizeof(r.first_kept), "%s", q->name);
		}
		if (q->fate == CONVERT)
			gw_tensor(w, q->name, t->n_dims, t->ne, (uint32_t)q->dtype, NULL,
				  requant_data, q);
		else
			gw_tensor(w, q->name, t->n_dims, t->ne, t->type, t->data, NULL, NULL);
	}
	if (ret)
		goto out;
	f = fopen(out_path, "wb");
	if (!f) {
		ret = ember_fail(err, -errno, "%s: cannot create: %s", out_path, strerror(errno));
		goto out;
	}
	ret = gw_write(w, f);
	if (fclose(f) && !ret)
		ret = -EIO;
	if (ret)
		ret = ember_fail(err, ret, "%s: writing failed: %s", out_path, strerror(-ret));
	else if (log)
		print_log(log, rq, in.n_tensors, mix);
out:
	if (rep)
		*rep = r;
	free(rq);
	gw_free(w);
	gguf_close(&in);
	return ret;
}

int synth_quantize(const char *in_path, const char *out_path, int dtype,
		   struct synth_quant_report *rep, struct ember_error *err)
{
	struct mix m = { dtype, MIX_PURE };

	return synth_requantize(in_path, out_path, &m, NULL, rep, err);
}
