/* SPDX-License-Identifier: MIT */
/*
 * ember-bench model -m FILE [-m FILE]... [-t N,..] [-p N,..] [-n N,..]
 *                   [-d N,..] [-r N] [-o md|csv|json|jsonl]
 *                   [--llama-bench PATH] [--kv-type f16|f32|q8_0] [--progress]
 *
 * Ember's tokens/s and llama.cpp's (its llama-bench) on the same file,
 * threads and tests, round by round: each round runs one engine then the
 * other (the order alternates, so a drift in the machine's speed falls on
 * both), and the ratio of each round is taken before averaging, so the
 * figure holds on a host whose memory bandwidth moves during the run.
 * Tests as llama-bench makes them: pp<p> and tg<n> for every -p and -n
 * (0 leaves one out), each at every depth -d. Defaults as llama-bench's:
 * -p 512 -n 128 -d 0 -r 5, threads: every CPU. --tests names the tests
 * one by one instead (pp512,tg128@d2048: a long prefill need not be
 * measured at every depth).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ember/runtime.h>

#include "model.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ember-bench model -m FILE [options]\n"
		"  -m, --model FILE      a GGUF model (repeat for several)\n"
		"  -t, --threads N,..    thread counts (default: every CPU)\n"
		"  -p, --n-prompt N,..   prefill tests pp<N> (default 512; 0: none)\n"
		"  -n, --n-gen N,..      decode tests tg<N> (default 128; 0: none)\n"
		"  -d, --n-depth N,..    tokens already in the context (default 0)\n"
		"  -r, --repetitions N   rounds per test, each engine once a round (default 5)\n"
		"  -o, --output FMT      md (default), csv, json or jsonl\n"
		"  -oe, --output-err FMT the same table in another format on stderr\n"
		"      --tests LIST      instead of crossing -p/-n with -d: these tests,\n"
		"                        e.g. pp512,tg128,tg128@d512,tg128@d2048\n"
		"      --llama-bench PATH  llama.cpp's llama-bench to compare with (default:\n"
		"                        $EMBER_LLAMA_BENCH; none: Ember alone;\n"
		"                        scripts/bench-model.sh builds one and passes it)\n"
		"      --kv-type T       KV cache type of both engines: f16 (default), f32, q8_0\n"
		"      --progress        a line on stderr per round\n");
}

/* "1,2,4" into v (at most 16 values in [lo, hi]). */
static int parse_list(const char *opt, const char *s, int lo, int hi, int *v,
		      int *n)
{
	*n = 0;
	while (*s) {
		char *end;
		long x;

		errno = 0;
		x = strtol(s, &end, 10);
		if (end == s || errno || x < lo || x > hi || *n == 16 ||
		    (*end && *end != ',')) {
			fprintf(stderr, "ember-bench model: %s wants up to 16 comma-separated integers in %d..%d, not '%s'\n",
				opt, lo, hi, s);
			return -1;
		}
		v[(*n)++] = (int)x;
		s = *end ? end + 1 : end;
	}
	if (!*n) {
		fprintf(stderr, "ember-bench model: %s wants a value\n", opt);
		return -1;
	}
	return 0;
}

/* "pp512,tg128@d2048" into o->tests */
static int parse_tests(const char *s, struct mb_opts *o)
{
	o->n_tests = 0;
	while (*s) {
		struct mb_test t = { 0, 0, 0 };
		char kind[3] = { 0 };
		int n = 0, d = 0, used = 0;

		if (sscanf(s, "%2[pgt]%d%n@d%d%n", kind, &n, &used, &d, &used) < 2 ||
		    (strcmp(kind, "pp") && strcmp(kind, "tg")) || n < 1 ||
		    n > 65536 || d < 0 || d > 65536 ||
		    (s[used] && s[used] != ',') || o->n_tests == MB_MAX_TESTS) {
			fprintf(stderr, "ember-bench model: --tests wants up to %d comma-separated ppN or tgN, each optionally @dDEPTH (tg128@d512), not '%s'\n",
				MB_MAX_TESTS, s);
			return -1;
		}
		if (kind[0] == 'p')
			t.n_prompt = n;
		else
			t.n_gen = n;
		t.n_depth = d;
		o->tests[o->n_tests++] = t;
		s += used + (s[used] == ',');
	}
	if (!o->n_tests) {
		fprintf(stderr, "ember-bench model: --tests wants a value\n");
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct mb_opts *o)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	*o = (struct mb_opts){ .prompts = { 512 }, .n_prompts = 1,
			       .gens = { 128 }, .n_gens = 1, .depths = { 0 },
			       .n_depths = 1, .reps = 5, .output = "md",
			       .kv_dtype = EMBER_TYPE_F16,
			       .threads = { n > 0 ? (int)n : 1 }, .n_threads = 1 };
	o->llama_bench = getenv("EMBER_LLAMA_BENCH");
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int r = 0, one;

#define IS(s, l) (!strcmp(a, s) || !strcmp(a, l))
		if (IS("-h", "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!strcmp(a, "--progress")) {
			o->progress = true;
			continue;
		}
		if (!v) {
			fprintf(stderr, "ember-bench model: unknown option or missing value: '%s'\n", a);
			usage(stderr);
			return -1;
		}
		i++;
		if (IS("-m", "--model")) {
			if (o->n_models == 16) {
				fprintf(stderr, "ember-bench model: at most 16 models\n");
				return -1;
			}
			o->models[o->n_models++] = v;
		} else if (IS("-t", "--threads")) {
			r = parse_list(a, v, 1, 1024, o->threads, &o->n_threads);
		} else if (IS("-p", "--n-prompt")) {
			r = parse_list(a, v, 0, 65536, o->prompts, &o->n_prompts);
		} else if (IS("-n", "--n-gen")) {
			r = parse_list(a, v, 0, 65536, o->gens, &o->n_gens);
		} else if (IS("-d", "--n-depth")) {
			r = parse_list(a, v, 0, 65536, o->depths, &o->n_depths);
		} else if (IS("-r", "--repetitions")) {
			int reps[16];

			r = parse_list(a, v, 1, MB_MAX_REPS, reps, &one);
			if (!r && one != 1) {
				fprintf(stderr, "ember-bench model: -r wants one count\n");
				r = -1;
			}
			o->reps = reps[0];
		} else if (IS("-o", "--output") || IS("-oe", "--output-err")) {
			if (IS("-oe", "--output-err"))
				o->output_err = v;
			else
				o->output = v;
			if (strcmp(v, "md") && strcmp(v, "csv") &&
			    strcmp(v, "json") && strcmp(v, "jsonl")) {
				fprintf(stderr, "ember-bench model: %s wants md, csv, json or jsonl, not '%s'\n", a, v);
				return -1;
			}
		} else if (!strcmp(a, "--tests")) {
			r = parse_tests(v, o);
		} else if (!strcmp(a, "--llama-bench")) {
			o->llama_bench = strcmp(v, "none") ? v : NULL;
		} else if (!strcmp(a, "--kv-type")) {
			if (!strcmp(v, "f16")) {
				o->kv_dtype = EMBER_TYPE_F16;
			} else if (!strcmp(v, "f32")) {
				o->kv_dtype = EMBER_TYPE_F32;
			} else if (!strcmp(v, "q8_0")) {
				o->kv_dtype = EMBER_TYPE_Q8_0;
			} else {
				fprintf(stderr, "ember-bench model: --kv-type wants f16, f32 or q8_0, not '%s'\n", v);
				return -1;
			}
		} else {
			fprintf(stderr, "ember-bench model: unknown option '%s'\n", a);
			usage(stderr);
			return -1;
		}
		if (r)
			return -1;
#undef IS
	}
	if (!o->n_models) {
		fprintf(stderr, "ember-bench model: which model? Give one with -m FILE\n");
		return -1;
	}
	if (o->llama_bench && !o->llama_bench[0])
		o->llama_bench = NULL;
	if (o->llama_bench && access(o->llama_bench, X_OK)) {
		fprintf(stderr, "ember-bench model: cannot run llama-bench at '%s' (%s): build it with scripts/build-llama-cpp.sh, or pass --llama-bench none\n",
			o->llama_bench, strerror(errno));
		return -1;
	}
	return 0;
}

/* The tests of the sweep, in llama-bench's order: every pp, then every
 * tg, each at every depth. */
static int make_tests(const struct mb_opts *o, struct mb_test *t)
{
	int n = 0;

	if (o->n_tests) {
		memcpy(t, o->tests, sizeof(*t) * (size_t)o->n_tests);
		return o->n_tests;
	}
	for (int i = 0; i < o->n_prompts; i++)
		for (int d = 0; d < o->n_depths && o->prompts[i]; d++)
			t[n++] = (struct mb_test){ o->prompts[i], 0, o->depths[d] };
	for (int i = 0; i < o->n_gens; i++)
		for (int d = 0; d < o->n_depths && o->gens[i]; d++)
			t[n++] = (struct mb_test){ 0, o->gens[i], o->depths[d] };
	return n;
}

/* The variant scripts/build-llama-cpp.sh wrote beside its llama-bench. */
static void llama_build_info(const char *llama_bench, struct mb_engine *eng)
{
	char path[PATH_MAX], line[256];
	const char *slash = strrchr(llama_bench, '/');
	FILE *f;

	snprintf(path, sizeof(path), "%.*sbuild-info",
		 slash ? (int)(slash - llama_bench + 1) : 0, llama_bench);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		size_t n = strlen(eng->build_info);

		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "build ", 6))
			snprintf(eng->build_info + n, sizeof(eng->build_info) - n,
				 ", %s", line + 6);
	}
	if (f)
		fclose(f);
}

/* One round of row r: one sample of each engine, in the round's order. */
static int round_run(const struct mb_opts *o, struct mb_ember *e,
		     struct mb_row *r, int round, struct mb_engine *llama)
{
	for (int k = 0; k < 2; k++) {
		bool ember_now = (k == 0) == (round % 2 == 0);
		char type[96];
		double ts;

		if (ember_now) {
			ts = mb_ember_run(e, &r->test);
			if (ts < 0)
				return -1;
			r->ember.ts[r->ember.n++] = ts;
		} else if (o->llama_bench) {
			bool first = !llama->name[0];

			ts = mb_llama_run(o->llama_bench, r->model_path, r->threads,
					  o->kv_dtype, &r->test, llama, type,
					  sizeof(type));
			if (ts < 0)
				return -1;
			if (first)
				llama_build_info(o->llama_bench, llama);
			r->llama.ts[r->llama.n++] = ts;
		}
	}
	return 0;
}

int bench_model_main(int argc, char **argv)
{
	struct mb_engine ember = { 0 }, llama = { 0 };
	struct mb_test tests[16 * 16 * 2 > MB_MAX_TESTS ? 16 * 16 * 2 : MB_MAX_TESTS];
	struct mb_row *rows = NULL;
	int n_tests, n_rows = 0, ret = 1;
	struct mb_opts o;

	if (parse_args(argc, argv, &o))
		return 2;
	n_tests = make_tests(&o, tests);
	if (!n_tests) {
		fprintf(stderr, "ember-bench model: -p and -n are both 0: nothing to measure\n");
		return 2;
	}
	rows = calloc((size_t)o.n_models * o.n_threads * n_tests, sizeof(*rows));
	if (!rows)
		return 1;
	mb_ember_engine(&ember);
	for (int m = 0; m < o.n_models; m++) {
		for (int th = 0; th < o.n_threads; th++) {
			struct mb_ember *e = mb_ember_open(o.models[m], o.threads[th],
							   o.kv_dtype, tests, n_tests);

			if (!e)
				goto out;
			for (int t = 0; t < n_tests; t++) {
				struct mb_row *r = &rows[n_rows++];
				char name[32];

				r->model_path = o.models[m];
				r->threads = o.threads[th];
				r->test = tests[t];
				mb_ember_describe(e, r);
				mb_test_name(&r->test, name, sizeof(name));
				/* warm-up, untimed: pages in the weights, sizes
				 * the work buffers (llama-bench warms itself) */
				if (mb_ember_run(e, &r->test) < 0) {
					mb_ember_close(e);
					goto out;
				}
				for (int k = 0; k < o.reps; k++) {
					if (o.progress)
						fprintf(stderr, "ember-bench model: %s, %d threads, %s: round %d of %d\n",
							o.models[m], r->threads, name, k + 1, o.reps);
					if (round_run(&o, e, r, k, &llama)) {
						mb_ember_close(e);
						goto out;
					}
				}
			}
			mb_ember_close(e);
		}
	}
	ret = mb_report(stdout, o.output, &o, rows, n_rows, &ember, &llama) ? 1 : 0;
	if (o.output_err && mb_report(stderr, o.output_err, &o, rows, n_rows,
				      &ember, &llama))
		ret = 1;
out:
	free(rows);
	return ret;
}
