/* SPDX-License-Identifier: MIT */
/*
 * ember-mkmodel --info: lists a GGUF file's tensors through the runtime's
 * own GGUF reader (the one ember-run loads models with), so a test can hold
 * the types ember sees against what the writer (llama-quantize) says it
 * wrote; against a reference file (the F16 model both quantizers started
 * from), each weight's relative RMS error, computed the same way for any
 * writer's output.
 */
#include "info.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include <ember/kernels.h>

#include "error.h"
#include "ggml_types.h"
#include "gguf.h"

/* ek's name ("q4_K") for the types it knows, ggml's ("IQ4_XS") otherwise. */
static const char *tname(uint32_t t)
{
	const char *n = ggml_type_name(t);

	return ek_dtype_known((int)t) ? ek_dtype_name((int)t) : n ? n : "?";
}

static bool same_shape(const struct gguf_tensor *a, const struct gguf_tensor *b)
{
	for (int d = 0; d < GGUF_MAX_DIMS; d++)
		if (a->ne[d] != b->ne[d])
			return false;
	return true;
}

/* sqrt(sum (t - r)^2 / sum r^2) over every value; -1 when either type is
 * not one ember reads, -2 when out of memory. */
static double rel_rms(const struct gguf_tensor *t, const struct gguf_tensor *r)
{
	uint64_t n = t->ne[0], rows = t->ne[1] * t->ne[2] * t->ne[3];
	size_t trow = ek_row_size((int)t->type, n), rrow = ek_row_size((int)r->type, n);
	float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
	double err2 = 0, ref2 = 0, ret = -1;

	if (!x || !y) {
		ret = -2;
		goto out;
	}
	if (!ek_dtype_known((int)t->type) || !ek_dtype_known((int)r->type) || !trow || !rrow)
		goto out;
	for (uint64_t i = 0; i < rows; i++) {
		ek_dequantize_row((int)t->type, (const char *)t->data + i * trow, x, n);
		ek_dequantize_row((int)r->type, (const char *)r->data + i * rrow, y, n);
		for (uint64_t j = 0; j < n; j++) {
			err2 += ((double)x[j] - y[j]) * ((double)x[j] - y[j]);
			ref2 += (double)y[j] * y[j];
		}
	}
	ret = ref2 > 0 ? sqrt(err2 / ref2) : err2 > 0 ? INFINITY : 0.0;
out:
	free(x);
	free(y);
	return ret;
}

int synth_info(const char *path, const char *ref_path, FILE *out, struct ember_error *err)
{
	struct gguf_file f, ref;
	int ret = gguf_open(&f, path, err);

	if (ret)
		return ret;
	if (ref_path && (ret = gguf_open(&ref, ref_path, err))) {
		gguf_close(&f);
		return ret;
	}
	fprintf(out, "%s: GGUF v%u, %llu tensors%s%s\n", path, f.version,
		(unsigned long long)f.n_tensors,
		ref_path ? "; relative RMS error against " : "", ref_path ? ref_path : "");
	for (uint64_t i = 0; i < f.n_tensors && !ret; i++) {
		const struct gguf_tensor *t = &f.tensors[i];
		char dims[96], name[128];
		size_t o = 0;

		snprintf(name, sizeof(name), "%.*s", (int)(t->name.n < 127 ? t->name.n : 127),
			 t->name.p);
		for (uint32_t d = 0; d < t->n_dims && o < sizeof(dims); d++)
			o += (size_t)snprintf(dims + o, sizeof(dims) - o, "%s%llu", d ? "x" : "",
					      (unsigned long long)t->ne[d]);
		fprintf(out, "  %-32s %-6s %-12s", name, tname(t->type), dims);
		if (ref_path) {
			const struct gguf_tensor *r = gguf_tensor(&ref, name);
			double e = r && same_shape(t, r) ? rel_rms(t, r) : -1;

			if (e == -2)
				ret = ember_fail(err, -ENOMEM, "out of memory");
			else if (e < 0)
				fprintf(out, " -");
			else
				fprintf(out, " %.4e", e);
		}
		fprintf(out, "\n");
	}
	if (ref_path)
		gguf_close(&ref);
	gguf_close(&f);
	return ret;
}
