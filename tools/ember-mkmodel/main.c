/* SPDX-License-Identifier: MIT */
/*
 * ember-mkmodel: GGUF files for benchmarks and tests.
 *   ember-mkmodel --shape smollm2-135m --type q8_0 -o model.gguf [--seed N]
 *     writes a model with the real shapes and GENERATED weights (labelled as
 *     such in general.name and ember.generated_weights);
 *   ember-mkmodel --quantize q4_0 in.gguf out.gguf
 *     converts the F32/F16/BF16 matrices of a model to Q8_0/Q4_0/F16/F32.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ember/kernels.h>

#include "synth.h"

static int parse_type(const char *s)
{
	static const int types[] = { EK_F32, EK_F16, EK_BF16, EK_Q8_0, EK_Q4_0 };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcasecmp(s, ek_dtype_name(types[i])))
			return types[i];
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ember-mkmodel --shape NAME [--type T] [--embd-type T] [--seed N] -o OUT.gguf\n"
		"       ember-mkmodel --quantize T IN.gguf OUT.gguf\n"
		"types: f32 f16 bf16 q8_0 q4_0 (default q8_0; token embeddings default to the same)\n"
		"shapes (weights are GENERATED, not trained):\n");
	synth_list_presets();
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "shape", required_argument, 0, 's' },
		{ "type", required_argument, 0, 't' },
		{ "embd-type", required_argument, 0, 'e' },
		{ "seed", required_argument, 0, 'S' },
		{ "output", required_argument, 0, 'o' },
		{ "quantize", required_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct synth_spec s = { 0 };
	const char *shape = NULL, *out = NULL;
	struct ember_error err;
	int c, qtype = -1;

	s.dtype = EK_Q8_0;
	s.embd_dtype = -1;
	s.seed = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': shape = optarg; break;
		case 't':
			if ((s.dtype = parse_type(optarg)) < 0)
				goto bad_type;
			break;
		case 'e':
			if ((s.embd_dtype = parse_type(optarg)) < 0)
				goto bad_type;
			break;
		case 'S': s.seed = strtoull(optarg, NULL, 10); break;
		case 'o': out = optarg; break;
		case 'q':
			if ((qtype = parse_type(optarg)) < 0)
				goto bad_type;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (qtype >= 0) {
		if (argc - optind != 2) {
			usage(stderr);
			return 2;
		}
		struct synth_quant_report rep;

		if (synth_quantize(argv[optind], argv[optind + 1], qtype, &rep, &err)) {
			fprintf(stderr, "ember-mkmodel: %s\n", err.msg);
			return 1;
		}
		printf("wrote %s: %u weights as %s\n", argv[optind + 1], rep.converted,
		       ek_dtype_name(qtype));
		if (rep.kept_rows)
			printf("  %u kept as they were: their rows do not fill whole blocks of %d (first: %s)\n",
			       rep.kept_rows, EK_QK, rep.first_kept);
		return 0;
	}
	if (!shape || !out || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (s.embd_dtype < 0)
		s.embd_dtype = s.dtype;
	if (!synth_preset(shape, &s)) {
		fprintf(stderr, "ember-mkmodel: unknown shape '%s'\n", shape);
		usage(stderr);
		return 2;
	}
	if (synth_write(&s, out, &err)) {
		fprintf(stderr, "ember-mkmodel: %s\n", err.msg);
		return 1;
	}
	printf("wrote %s: %s-shaped model with GENERATED %s weights\n", out, s.name,
	       ek_dtype_name(s.dtype));
	return 0;
bad_type:
	fprintf(stderr, "ember-mkmodel: unknown type '%s' (f32 f16 bf16 q8_0 q4_0)\n", optarg);
	return 2;
}
