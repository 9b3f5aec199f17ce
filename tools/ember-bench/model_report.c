/* SPDX-License-Identifier: MIT */
/*
 * ember-bench model's output, in llama-bench's formats: md (a table with
 * both engines and their ratio per test), and csv, json, jsonl with one
 * record per engine and test (the fields llama-bench uses where they mean
 * the same, plus "engine" and, on Ember's records, the ratio). JSON is
 * written by jansson, so every string is escaped; CSV quotes every string.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include <ember/runtime.h>

#include "model.h"

void mb_test_name(const struct mb_test *t, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s%d", t->n_prompt ? "pp" : "tg",
			 t->n_prompt ? t->n_prompt : t->n_gen);

	if (t->n_depth && n > 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, " @ d%d", t->n_depth);
}

void mb_mean_sd(const double *v, int n, double *mean, double *sd)
{
	double s = 0, q = 0;

	for (int i = 0; i < n; i++)
		s += v[i];
	*mean = n ? s / n : 0;
	for (int i = 0; i < n; i++)
		q += (v[i] - *mean) * (v[i] - *mean);
	*sd = n > 1 ? sqrt(q / (n - 1)) : 0;
}

void mb_ratio(const struct mb_row *r, double *mean, double *sd)
{
	double q[MB_MAX_REPS];
	int n = r->ember.n < r->llama.n ? r->ember.n : r->llama.n;

	for (int i = 0; i < n; i++)
		q[i] = r->ember.ts[i] / r->llama.ts[i];
	mb_mean_sd(q, n, mean, sd);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* ---- md ---- */

static void md_cell(char *buf, size_t size, const struct mb_samples *s)
{
	double m, sd;

	if (!s->n) {
		snprintf(buf, size, "-");
		return;
	}
	mb_mean_sd(s->ts, s->n, &m, &sd);
	snprintf(buf, size, "%.2f ± %.2f", m, sd);
}

static void report_md(FILE *f, const struct mb_opts *o, const struct mb_row *rows,
		      int n_rows, const struct mb_engine *ember,
		      const struct mb_engine *llama)
{
	fprintf(f, "| model | type | size | params | threads | test | ember t/s | llama.cpp t/s | ember / llama.cpp |\n");
	fprintf(f, "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |\n");
	for (int i = 0; i < n_rows; i++) {
		const struct mb_row *r = &rows[i];
		char name[32], e[48], l[48], q[48] = "-";
		double m, sd;

		mb_test_name(&r->test, name, sizeof(name));
		md_cell(e, sizeof(e), &r->ember);
		md_cell(l, sizeof(l), &r->llama);
		if (r->ember.n && r->llama.n) {
			mb_ratio(r, &m, &sd);
			snprintf(q, sizeof(q), "%.2f ± %.2f", m, sd);
		}
		fprintf(f, "| %s | %s | %.2f MiB | %.2f M | %d | %s | %s | %s | %s |\n",
		       base_name(r->model_path), r->model_type,
		       (double)r->model_size / (1 << 20),
		       (double)r->model_n_params / 1e6, r->threads, name, e, l, q);
	}
	fprintf(f, "\nember %s (%s); ", ember->build_commit, ember->build_info);
	if (llama->name[0])
		fprintf(f, "llama.cpp %s (llama-bench, %s); ", llama->build_commit,
		       llama->build_info);
	else
		fprintf(f, "llama.cpp not measured (--llama-bench PATH; scripts/bench-model.sh builds one); ");
	fprintf(f, "CPU %s; %d round%s each, interleaved; KV cache %s; ratio: mean ± stddev of the per-round ratios\n",
	       ember->cpu_info, o->reps, o->reps == 1 ? "" : "s",
	       ember_type_name(o->kv_dtype));
}

/* ---- records: csv, json, jsonl ---- */

/* Every record has the same members (the ratio on both engines' records),
 * so that CSV has one header. */
static json_t *record(const struct mb_row *r, const struct mb_engine *eng,
		      const struct mb_samples *s)
{
	json_t *obj = json_object(), *samples = json_array();
	double m, sd;
	char name[32];
	bool have;

	mb_test_name(&r->test, name, sizeof(name));
	mb_mean_sd(s->ts, s->n, &m, &sd);
	for (int i = 0; i < s->n; i++)
		json_array_append_new(samples, json_real(s->ts[i]));
	json_object_set_new(obj, "engine", json_string(eng->name));
	json_object_set_new(obj, "build_commit", json_string(eng->build_commit));
	json_object_set_new(obj, "build_info", json_string(eng->build_info));
	json_object_set_new(obj, "cpu_info", json_string(eng->cpu_info));
	json_object_set_new(obj, "model_filename", json_string(r->model_path));
	json_object_set_new(obj, "model_type", json_string(r->model_type));
	json_object_set_new(obj, "model_size", json_integer((json_int_t)r->model_size));
	json_object_set_new(obj, "model_n_params", json_integer((json_int_t)r->model_n_params));
	json_object_set_new(obj, "n_threads", json_integer(r->threads));
	json_object_set_new(obj, "n_prompt", json_integer(r->test.n_prompt));
	json_object_set_new(obj, "n_gen", json_integer(r->test.n_gen));
	json_object_set_new(obj, "n_depth", json_integer(r->test.n_depth));
	json_object_set_new(obj, "test", json_string(name));
	json_object_set_new(obj, "avg_ts", json_real(m));
	json_object_set_new(obj, "stddev_ts", json_real(sd));
	json_object_set_new(obj, "samples_ts", samples);
	have = r->ember.n && r->llama.n;
	if (have)
		mb_ratio(r, &m, &sd);
	json_object_set_new(obj, "ratio_vs_llama_cpp", have ? json_real(m) : json_null());
	json_object_set_new(obj, "ratio_stddev", have ? json_real(sd) : json_null());
	return obj;
}

/* One CSV field: numbers as they are, strings quoted with "" inside. */
static void csv_field(FILE *f, json_t *v, bool last)
{
	if (json_is_string(v)) {
		fputc('"', f);
		for (const char *c = json_string_value(v); *c; c++) {
			if (*c == '"')
				fputc('"', f);
			fputc(*c, f);
		}
		fputc('"', f);
	} else if (json_is_integer(v)) {
		fprintf(f, "%lld", (long long)json_integer_value(v));
	} else if (json_is_real(v)) {
		fprintf(f, "%.6g", json_real_value(v));
	} else if (json_is_null(v)) {
		/* an empty field */
	} else if (json_is_array(v)) {	/* samples: ';'-separated */
		size_t i;
		json_t *x;

		fputc('"', f);
		json_array_foreach(v, i, x)
			fprintf(f, "%s%.6g", i ? ";" : "", json_number_value(x));
		fputc('"', f);
	}
	fputc(last ? '\n' : ',', f);
}

static void report_records(FILE *f, const char *fmt, const struct mb_row *rows,
			   int n_rows, const struct mb_engine *ember,
			   const struct mb_engine *llama)
{
	const size_t fl = JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9);
	bool csv = !strcmp(fmt, "csv"), jsonl = !strcmp(fmt, "jsonl");
	json_t *all = json_array();
	size_t i;
	json_t *rec;

	for (int r = 0; r < n_rows; r++) {
		json_array_append_new(all, record(&rows[r], ember, &rows[r].ember));
		if (rows[r].llama.n)
			json_array_append_new(all, record(&rows[r], llama, &rows[r].llama));
	}
	if (!csv && !jsonl) {
		char *s = json_dumps(all, fl | JSON_INDENT(2));

		if (s)
			fprintf(f, "%s\n", s);
		free(s);
	}
	json_array_foreach(all, i, rec) {
		void *it, *next;

		if (jsonl) {
			char *s = json_dumps(rec, fl | JSON_COMPACT);

			if (s)
				fprintf(f, "%s\n", s);
			free(s);
			continue;
		}
		if (!csv)
			break;
		for (it = json_object_iter(rec); it && !i; it = next) {
			next = json_object_iter_next(rec, it);
			fprintf(f, "%s%c", json_object_iter_key(it), next ? ',' : '\n');
		}
		for (it = json_object_iter(rec); it; it = next) {
			next = json_object_iter_next(rec, it);
			csv_field(f, json_object_iter_value(it), !next);
		}
	}
	json_decref(all);
}

int mb_report(FILE *f, const char *fmt, const struct mb_opts *o,
	      const struct mb_row *rows, int n_rows,
	      const struct mb_engine *ember, const struct mb_engine *llama)
{
	if (!strcmp(fmt, "md"))
		report_md(f, o, rows, n_rows, ember, llama);
	else
		report_records(f, fmt, rows, n_rows, ember, llama);
	return fflush(f) ? -1 : 0;
}
