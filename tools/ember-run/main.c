/* SPDX-License-Identifier: MIT */
/*
 * ember-run: generate text with a GGUF model on this machine.
 *   ember-run [-m model.gguf] [-p prompt] [-n N] [--ctx N] [--temp T]
 *             [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R]
 *             [--seed N] [--threads N] [--device auto|cpu|npu]
 *             [--ids] [--top-logits K]
 * Streams the text to stdout, then prints load time, prefill and decode
 * speed and peak memory to stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ember/runtime.h>

#include "bench.h"
#include "model_path.h"
#include "top_logits.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ember-run [options]\n"
		"  -m, --model FILE        GGUF model (default: $EMBER_MODEL or shared/models/stories260K.gguf)\n"
		"  -p, --prompt TEXT       prompt (default \"Once upon a time\")\n"
		"  -n, --n-predict N       tokens to generate (default 128)\n"
		"      --ctx N             context length / KV cache size (default: prompt + n, at least 256)\n"
		"      --temp T            temperature, 0 = greedy (default 0.8)\n"
		"      --top-k K           (default 40, 0 = off)\n"
		"      --top-p P           (default 0.95, 1 = off)\n"
		"      --min-p P           (default 0.05, 0 = off)\n"
		"      --repeat-penalty R  (default 1.0 = off)\n"
		"      --repeat-last-n N   tokens the penalty looks at (default 64)\n"
		"      --seed N            random seed (default: from the clock, printed)\n"
		"      --threads N         worker threads (default: all CPUs)\n"
		"      --device D          auto, cpu or npu (default auto)\n"
		"      --kv-type T         KV cache type: f16 (default), f32 or q8_0 (half of f16's\n"
		"                          bytes; needs a head size that is a multiple of 32)\n"
		"      --ignore-eos        keep generating after end-of-text\n"
		"      --ids               also print the generated token ids (a line 'ids: ...' on stderr)\n"
		"                          and the prompt's ('prompt-ids: ...', BOS included)\n"
		"      --top-logits K      also print, before each generated token, the K (1..64) highest\n"
		"                          raw logits it is picked from: a line on stderr\n"
		"                          'top-logits: POS ID LOGIT ID LOGIT ...', highest first, POS from 0\n"
		"      --bench             measure prefill/decode speed instead of generating text\n"
		"      --prefill N         bench: prompt tokens (default 128); -n sets decode tokens (64)\n"
		"      --reps N            bench: timed rounds (default 3), the fastest reported; its\n"
		"                          bound: the read bandwidth measured before every decode token\n"
		"      --json              bench: one JSON object per line\n"
		"  -h, --help\n");
}

/* What generation reports to: the token ids for --ids (cap 0: not
 * wanted), the logits for --top-logits. */
struct gen_out {
	int32_t *ids;
	int n, cap;
	struct top_logits top;
};

static int on_token(void *user, int32_t tok, const char *text, size_t len)
{
	struct gen_out *g = user;

	if (tok >= 0 && g->n < g->cap)
		g->ids[g->n++] = tok;
	fwrite(text, 1, len, stdout);
	fflush(stdout);
	return 0;
}

static void on_logits(void *user, int pos, const float *logits, uint32_t n_vocab)
{
	const struct gen_out *g = user;

	top_logits_print(&g->top, pos, logits, n_vocab);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int parse_int(const char *opt, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "ember-run: %s expects an integer in %ld..%ld, got '%s'\n", opt, lo,
			hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_float(const char *opt, const char *s, float *out)
{
	char *end;

	errno = 0;
	*out = strtof(s, &end);
	if (errno || *end || end == s) {
		fprintf(stderr, "ember-run: %s expects a number, got '%s'\n", opt, s);
		return -1;
	}
	return 0;
}

/* A KV cache type by its name; -1 if not one the session takes. */
static int parse_kv_type(const char *s)
{
	static const int types[] = { EMBER_TYPE_F16, EMBER_TYPE_F32, EMBER_TYPE_Q8_0 };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(s, ember_type_name(types[i])))
			return types[i];
	return -1;
}

enum { O_CTX = 256, O_TEMP, O_TOPK, O_TOPP, O_MINP, O_REP, O_REPN, O_SEED, O_THREADS,
	O_DEVICE, O_KVTYPE, O_IGNORE_EOS, O_BENCH, O_PREFILL, O_REPS, O_JSON, O_IDS, O_TOP_LOGITS };

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "model", required_argument, 0, 'm' },
		{ "prompt", required_argument, 0, 'p' },
		{ "n-predict", required_argument, 0, 'n' },
		{ "ctx", required_argument, 0, O_CTX },
		{ "temp", required_argument, 0, O_TEMP },
		{ "top-k", required_argument, 0, O_TOPK },
		{ "top-p", required_argument, 0, O_TOPP },
		{ "min-p", required_argument, 0, O_MINP },
		{ "repeat-penalty", required_argument, 0, O_REP },
		{ "repeat-last-n", required_argument, 0, O_REPN },
		{ "seed", required_argument, 0, O_SEED },
		{ "threads", required_argument, 0, O_THREADS },
		{ "device", required_argument, 0, O_DEVICE },
		{ "kv-type", required_argument, 0, O_KVTYPE },
		{ "ignore-eos", no_argument, 0, O_IGNORE_EOS },
		{ "bench", no_argument, 0, O_BENCH },
		{ "prefill", required_argument, 0, O_PREFILL },
		{ "reps", required_argument, 0, O_REPS },
		{ "json", no_argument, 0, O_JSON },
		{ "ids", no_argument, 0, O_IDS },
		{ "top-logits", required_argument, 0, O_TOP_LOGITS },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	char model_buf[4096];
	const char *model_path = NULL, *prompt = "Once upon a time";
	struct ember_session_opts so;
	struct ember_generate_opts go;
	struct ember_model *m = NULL;
	struct ember_session *s = NULL;
	struct ember_model_info info;
	struct ember_error err;
	struct ember_stats st;
	int32_t *toks = NULL;
	long v, n_ctx = 0;
	bool seed_set = false, bench = false, n_set = false, want_ids = false;
	struct gen_out gen = { .top = { .out = stderr } };
	struct bench_opts bo = { .n_prefill = 128, .n_decode = 64, .reps = 3 };
	double t0, t_load;
	int c, n, ret = 1;

	ember_session_opts_default(&so);
	ember_generate_opts_default(&go);
	go.n_predict = 128;
	go.sampler.temperature = 0.8f;
	go.sampler.top_k = 40;
	go.sampler.top_p = 0.95f;
	go.sampler.min_p = 0.05f;
	while ((c = getopt_long(argc, argv, "m:p:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': model_path = optarg; break;
		case 'p': prompt = optarg; break;
		case 'n':
			if (parse_int("-n", optarg, 0, 1 << 24, &v))
				return 2;
			go.n_predict = (int)v;
			n_set = true;
			break;
		case O_CTX:
			if (parse_int("--ctx", optarg, 1, 1 << 24, &n_ctx))
				return 2;
			break;
		case O_TEMP:
			if (parse_float("--temp", optarg, &go.sampler.temperature))
				return 2;
			break;
		case O_TOPK:
			if (parse_int("--top-k", optarg, 0, 1 << 24, &v))
				return 2;
			go.sampler.top_k = (int)v;
			break;
		case O_TOPP:
			if (parse_float("--top-p", optarg, &go.sampler.top_p))
				return 2;
			break;
		case O_MINP:
			if (parse_float("--min-p", optarg, &go.sampler.min_p))
				return 2;
			break;
		case O_REP:
			if (parse_float("--repeat-penalty", optarg, &go.sampler.repeat_penalty))
				return 2;
			break;
		case O_REPN:
			if (parse_int("--repeat-last-n", optarg, 0, 1 << 20, &v))
				return 2;
			go.sampler.repeat_last_n = (int)v;
			break;
		case O_SEED: {
			char *end;

			errno = 0;
			go.sampler.seed = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg) {
				fprintf(stderr, "ember-run: --seed expects a non-negative integer\n");
				return 2;
			}
			seed_set = true;
			break;
		}
		case O_THREADS:
			if (parse_int("--threads", optarg, 1, 256, &v))
				return 2;
			so.n_threads = (int)v;
			break;
		case O_DEVICE:
			if (!strcmp(optarg, "auto"))
				so.device = EMBER_DEVICE_AUTO;
			else if (!strcmp(optarg, "cpu"))
				so.device = EMBER_DEVICE_CPU;
			else if (!strcmp(optarg, "npu"))
				so.device = EMBER_DEVICE_NPU;
			else {
				fprintf(stderr, "ember-run: --device must be auto, cpu or npu\n");
				return 2;
			}
			break;
		case O_KVTYPE:
			if ((so.kv_dtype = parse_kv_type(optarg)) < 0) {
				fprintf(stderr, "ember-run: --kv-type must be f16, f32 or q8_0\n");
				return 2;
			}
			break;
		case O_IGNORE_EOS: go.stop_at_eog = false; break;
		case O_BENCH: bench = true; break;
		case O_PREFILL:
			if (parse_int("--prefill", optarg, 0, 1 << 20, &v))
				return 2;
			bo.n_prefill = (int)v;
			break;
		case O_REPS:
			if (parse_int("--reps", optarg, 1, 1000, &v))
				return 2;
			bo.reps = (int)v;
			break;
		case O_JSON: bo.json = true; break;
		case O_IDS: want_ids = true; break;
		case O_TOP_LOGITS:
			if (parse_int("--top-logits", optarg, 1, TOP_LOGITS_MAX, &v))
				return 2;
			gen.top.k = (int)v;
			go.on_logits = on_logits;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ember-run: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!model_path) {
		bool from_env;

		if (default_model_path(model_buf, sizeof(model_buf), &from_env)) {
			fprintf(stderr,
				"ember-run: no model given and the default model was not found.\n"
				"  Pass one with -m model.gguf, set EMBER_MODEL=/path/to/model.gguf, or put\n"
				"  stories260K.gguf (llama.cpp's test model, from Karpathy's llama2.c stories260K)\n"
				"  in shared/models/ next to the repository. ember-mkmodel writes models with\n"
				"  real shapes and generated weights for benchmarks.\n");
			return 1;
		}
		model_path = model_buf;
		if (from_env && access(model_path, R_OK)) {
			fprintf(stderr, "ember-run: EMBER_MODEL=%s: %s; point it at a GGUF model or unset it\n",
				model_path, strerror(errno));
			return 1;
		}
	}
	if (bench) {
		long np = sysconf(_SC_NPROCESSORS_ONLN);

		bo.model_path = model_path;
		bo.n_decode = n_set ? go.n_predict : 64;
		bo.n_threads = so.n_threads ? so.n_threads : (np > 0 ? (int)np : 1);
		bo.kv_dtype = so.kv_dtype;
		bo.device = so.device;
		return run_bench(&bo) ? 1 : 0;
	}
	if (!seed_set)
		go.sampler.seed = (uint64_t)time(NULL);

	t0 = now();
	if (ember_model_load(model_path, &m, &err) < 0) {
		fprintf(stderr, "ember-run: %s\n", err.msg);
		return 1;
	}
	t_load = now() - t0;
	ember_model_get_info(m, &info);
	n = ember_tokenize(m, prompt, -1, true, true, NULL, 0, &err);
	if (n < 0) {
		fprintf(stderr, "ember-run: %s\n", err.msg);
		goto out;
	}
	toks = malloc(((size_t)n + 1) * sizeof(*toks));
	if (!toks || ember_tokenize(m, prompt, -1, true, true, toks, n, &err) != n) {
		fprintf(stderr, "ember-run: tokenizing the prompt failed\n");
		goto out;
	}
	if (n == 0) {
		fprintf(stderr, "ember-run: the prompt is empty and the model adds no BOS token; give a prompt with -p\n");
		goto out;
	}
	so.n_ctx = (uint32_t)(n_ctx ? n_ctx : (n + go.n_predict > 256 ? n + go.n_predict : 256));
	if ((uint64_t)n + (uint64_t)go.n_predict > so.n_ctx) {
		fprintf(stderr, "ember-run: the prompt (%d tokens) plus -n %d does not fit in --ctx %u; raise --ctx\n",
			n, go.n_predict, so.n_ctx);
		goto out;
	}
	if (ember_session_create(m, &so, &s, &err) < 0) {
		fprintf(stderr, "ember-run: %s\n", err.msg);
		goto out;
	}
	fputs(prompt, stdout);
	fflush(stdout);
	if (want_ids) {
		gen.cap = go.n_predict;
		gen.ids = malloc(((size_t)gen.cap + 1) * sizeof(*gen.ids));
		if (!gen.ids) {
			fprintf(stderr, "ember-run: out of memory for --ids\n");
			goto out;
		}
	}
	if (ember_generate(s, toks, n, &go, on_token, &gen, &st, &err) < 0) {
		fprintf(stderr, "\nember-run: %s\n", err.msg);
		goto out;
	}
	printf("\n");
	fprintf(stderr, "\n--- %s (%s, %s weights%s), ctx %u, seed %llu\n",
		info.name[0] ? info.name : info.path, info.arch, ember_type_name(info.weight_dtype),
		info.generated ? ", GENERATED weights" : "", ember_session_n_ctx(s),
		(unsigned long long)go.sampler.seed);
	{
		char where[256];

		ember_session_placement(s, where, sizeof(where));
		fprintf(stderr, "device:  %s%s%s%s\n",
			ember_session_device(s) == EMBER_DEVICE_NPU ? "npu" : "cpu",
			ember_session_device_note(s)[0] ? " (" : "", ember_session_device_note(s),
			ember_session_device_note(s)[0] ? ")" : "");
		fprintf(stderr, "placement: %s\n", where);
	}
	{
		const char *log;
		int nrec = ember_session_recoveries(s, &log);

		if (nrec)
			fprintf(stderr, "recovered: %d failed device pass%s\n%s", nrec,
				nrec == 1 ? "" : "es", log);
	}
	if (want_ids) {
		fprintf(stderr, "ids:");
		for (int i = 0; i < gen.n; i++)
			fprintf(stderr, " %d", gen.ids[i]);
		fprintf(stderr, "\nprompt-ids:");
		for (int i = 0; i < n; i++)
			fprintf(stderr, " %d", toks[i]);
		fprintf(stderr, "\n");
	}
	fprintf(stderr, "load:    %8.1f ms\n", t_load * 1e3);
	fprintf(stderr, "prefill: %8.1f ms for %4d tokens = %8.1f tok/s\n", st.prefill_s * 1e3,
		st.n_prompt, st.prefill_s > 0 ? st.n_prompt / st.prefill_s : 0);
	fprintf(stderr, "decode:  %8.1f ms for %4d tokens = %8.1f tok/s\n", st.decode_s * 1e3,
		st.n_decode_evals, st.decode_s > 0 ? st.n_decode_evals / st.decode_s : 0);
	fprintf(stderr, "cpu time: %.2f ms per decoded token (this process, all threads)\n",
		st.n_decode_evals ? st.decode_cpu_s * 1e3 / st.n_decode_evals : 0);
	if (st.have_device_counters && st.n_decode_evals)
		fprintf(stderr, "device copied: %.0f bytes per token (bounce buffers; 0 = all in place)\n",
			(double)st.decode_device_copied / st.n_decode_evals);
	fprintf(stderr, "peak memory (RSS): %.1f MiB\n", (double)st.peak_rss_bytes / (1 << 20));
	ret = 0;
out:
	free(gen.ids);
	free(toks);
	ember_session_free(s);
	ember_model_free(m);
	return ret;
}
