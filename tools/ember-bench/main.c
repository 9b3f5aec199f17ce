/* SPDX-License-Identifier: MIT */
/*
 * ember-bench MODE [options]
 *   kernels   per-op throughput of the ek_* kernels against OpenBLAS and
 *             the machine's measured read bandwidth
 *   states    decode matmuls against the read bandwidth of their own
 *             moment, in each bandwidth state the machine shows
 *   device    the Ember NPU (in the guest): jobs/s through io_uring and
 *             the ioctl, per-op device throughput, and the per-token
 *             overhead of a model's forward pass on it
 *   model     a model's prefill and decode tokens/s beside llama.cpp's
 *             llama-bench on the same file, interleaved (model.c: its own
 *             options, llama-bench's)
 * Options: --json (one JSON object per line), --threads N (default: one
 * per CPU), --time S (kernels: seconds per timed batch, default 0.2;
 * states: seconds in all, default 20; device: seconds per row, default
 * 0.5), --filter STR (only ops whose name contains STR), --model FILE
 * (device: the forward pass's model, default stories260K as ember-run
 * finds it).
 * New modes: add a row to `modes` and a file with their main.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "model.h"

struct mode {
	const char *name;
	const char *help;
	int (*main)(const struct bench_opts *o);
	int (*main_args)(int argc, char **argv);	/* own options */
};

static const struct mode modes[] = {
	{ "kernels", "ek_* kernels vs OpenBLAS and read bandwidth",
	  bench_kernels_main, NULL },
	{ "states", "decode matmuls vs the read bandwidth of their moment, per state",
	  bench_states_main, NULL },
	{ "device", "the Ember NPU: jobs/s (io_uring, ioctl), ops, forward-pass overhead",
	  bench_device_main, NULL },
	{ "model", "a model's tokens/s beside llama.cpp's llama-bench, interleaved (--help)",
	  NULL, bench_model_main },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ember-bench MODE [--json] [--threads N] [--time S] "
		"[--filter STR] [--model FILE]\nmodes:\n");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		fprintf(f, "  %-10s %s\n", modes[i].name, modes[i].help);
}

int main(int argc, char **argv)
{
	struct bench_opts o = { .json = false, .threads = 0, .min_time = 0.2 };
	const struct mode *m = NULL;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(argv[1], modes[i].name))
			m = &modes[i];
	if (!m) {
		if (strcmp(argv[1], "--help") && strcmp(argv[1], "-h")) {
			fprintf(stderr, "ember-bench: unknown mode '%s'\n",
				argv[1]);
			usage(stderr);
			return 2;
		}
		usage(stdout);
		return 0;
	}
	if (m->main_args)
		return m->main_args(argc, argv);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			o.json = true;
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			o.threads = atoi(argv[++i]);
			if (o.threads < 1 || o.threads > 1024) {
				fprintf(stderr, "ember-bench: --threads wants "
					"1..1024\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--time") && i + 1 < argc) {
			o.min_time = atof(argv[++i]);
			o.time_set = true;
			if (!(o.min_time > 0 && o.min_time < 100)) {
				fprintf(stderr, "ember-bench: --time wants "
					"seconds in (0, 100)\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--filter") && i + 1 < argc) {
			o.filter = argv[++i];
		} else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
			if (m->main != bench_device_main) {
				fprintf(stderr, "ember-bench: --model is for the "
					"device mode (its forward-pass row)\n");
				return 2;
			}
			o.model = argv[++i];
		} else {
			fprintf(stderr, "ember-bench: unknown option '%s'\n",
				argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!o.threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		o.threads = n > 0 ? (int)n : 1;
	}
	return m->main(&o);
}
