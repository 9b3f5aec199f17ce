/* SPDX-License-Identifier: MIT */
/*
 * ember-mkmodel: GGUF files for benchmarks and tests.
 *   ember-mkmodel --shape smollm2-135m --type q8_0 -o model.gguf [--seed N]
 *     writes a model with the real shapes and GENERATED weights (labelled as
 *     such in general.name and ember.generated_weights);
 *   ember-mkmodel --quantize q4_k_m in.gguf out.gguf
 *     converts the weights of a model to another type or mix, and prints
 *     what each conversion cost;
 *   ember-mkmodel --info model.gguf [ref.gguf]
 *     lists the tensors and their types, and with ref.gguf each one's
 *     relative RMS error against it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ember/kernels.h>

#include "ggml_types.h"
#include "info.h"
#include "mix.h"
#include "synth.h"

static void usage(FILE *f)
{
	char types[256];

	fprintf(f,
		"usage: ember-mkmodel --shape NAME [--type T] [--embd-type T] [--layers N] [--vocab N]\n"
		"                     [--seed N] -o OUT.gguf\n"
		"       ember-mkmodel --quantize T IN.gguf OUT.gguf\n"
		"       ember-mkmodel --info FILE.gguf [REF.gguf]\n"
		"types: %s\n"
		"  (default q8_0). A type puts every weight in it; K types fall back as\n"
		"  llama-quantize does where rows are not multiples of 256 (q4_K -> q5_0,\n"
		"  q5_K -> q5_1, q6_K -> q8_0). q4_K_M / q5_K_M are llama-quantize's mixes:\n"
		"  q6_K for the LM head and for attn_v and ffn_down in the first and last\n"
		"  eighth of the layers and every third between, q4_K / q5_K elsewhere.\n"
		"  Norms stay f32. --embd-type: token_embd and output (default: as the type\n"
		"  or mix gives them). --quantize converts from any of these types and prints\n"
		"  each weight's relative RMS error against the input. --info lists FILE's\n"
		"  tensors (name, type, dimensions) as ember reads them and, given REF (say,\n"
		"  the F16 file FILE was quantized from), each one's relative RMS error.\n"
		"--layers, --vocab: fewer layers or tokens than the shape has (tests)\n"
		"shapes (weights are GENERATED, not trained):\n",
		mix_list(types, sizeof(types)));
	synth_list_presets();
}

static int bad_type(const char *s)
{
	char types[256];

	fprintf(stderr, "ember-mkmodel: unknown type '%s' (%s)\n", s,
		mix_list(types, sizeof(types)));
	return 2;
}

static int quantize(const struct mix *mx, const char *in, const char *out)
{
	struct synth_quant_report rep;
	struct ember_error err;
	char name[16];
	int kinds = 0;

	if (synth_requantize(in, out, mx, stdout, &rep, &err)) {
		fprintf(stderr, "ember-mkmodel: %s\n", err.msg);
		return 1;
	}
	for (int t = 0; t < 64; t++)
		kinds += rep.by_type[t] != 0;
	printf("wrote %s: %u weights as %s", out, rep.converted,
	       mix_name(mx, name, sizeof(name)));
	for (int t = 0, i = 0; t < 64 && kinds > 1; t++)
		if (rep.by_type[t])
			printf("%s%s %u", i++ ? ", " : " (", ek_dtype_name(t), rep.by_type[t]);
	printf("%s\n", kinds > 1 ? ")" : "");
	if (rep.kept_rows) {
		int fb = mix_fallback(mx->dtype);
		const struct ggml_type_desc *d = ggml_type_desc((uint32_t)(fb >= 0 ? fb : mx->dtype));

		printf("  %u kept as they were: their rows do not fill whole blocks of %u (first: %s)\n",
		       rep.kept_rows, d ? d->blck : 0, rep.first_kept);
	}
	return 0;
}

static int parse_count(const char *opt, const char *s, uint32_t min, uint32_t *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s < '0' || *s > '9' || *end || v < min || v > 1u << 24) {
		fprintf(stderr, "ember-mkmodel: %s wants a number from %u, not '%s'\n", opt, min, s);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "shape", required_argument, 0, 's' },
		{ "type", required_argument, 0, 't' },
		{ "embd-type", required_argument, 0, 'e' },
		{ "layers", required_argument, 0, 'L' },
		{ "vocab", required_argument, 0, 'V' },
		{ "seed", required_argument, 0, 'S' },
		{ "output", required_argument, 0, 'o' },
		{ "quantize", required_argument, 0, 'q' },
		{ "info", no_argument, 0, 'i' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct synth_spec s = { 0 };
	const char *shape = NULL, *out = NULL;
	struct mix mx = { EK_Q8_0, MIX_PURE }, qmix, emb;
	struct ember_error err;
	uint32_t layers = 0, vocab = 0;
	bool quant = false, info = false;
	char name[16];
	int c;

	s.embd_dtype = -1;
	s.seed = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': shape = optarg; break;
		case 't':
			if (!mix_parse(optarg, &mx))
				return bad_type(optarg);
			break;
		case 'e':
			if (!mix_parse(optarg, &emb) || emb.kind != MIX_PURE)
				return bad_type(optarg);
			s.embd_dtype = emb.dtype;
			break;
		case 'L':
			if (parse_count("--layers", optarg, 1, &layers))
				return 2;
			break;
		case 'V':
			if (parse_count("--vocab", optarg, 259, &vocab))
				return 2;
			break;
		case 'S': s.seed = strtoull(optarg, NULL, 10); break;
		case 'o': out = optarg; break;
		case 'q':
			if (!mix_parse(optarg, &qmix))
				return bad_type(optarg);
			quant = true;
			break;
		case 'i': info = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (info) {
		if (argc - optind < 1 || argc - optind > 2) {
			usage(stderr);
			return 2;
		}
		if (synth_info(argv[optind], argc - optind == 2 ? argv[optind + 1] : NULL, stdout,
			       &err)) {
			fprintf(stderr, "ember-mkmodel: %s\n", err.msg);
			return 1;
		}
		return 0;
	}
	if (quant) {
		if (argc - optind != 2) {
			usage(stderr);
			return 2;
		}
		return quantize(&qmix, argv[optind], argv[optind + 1]);
	}
	if (!shape || !out || optind != argc) {
		usage(stderr);
		return 2;
	}
	s.dtype = mx.dtype;
	if (!synth_preset(shape, &s)) {
		fprintf(stderr, "ember-mkmodel: unknown shape '%s'\n", shape);
		usage(stderr);
		return 2;
	}
	if (layers)
		s.n_layer = layers;
	if (vocab)
		s.n_vocab = vocab;
	if (synth_write_mix(&s, &mx, out, &err)) {
		fprintf(stderr, "ember-mkmodel: %s\n", err.msg);
		return 1;
	}
	printf("wrote %s: %s-shaped model with GENERATED %s weights\n", out, s.name,
	       mix_name(&mx, name, sizeof(name)));
	return 0;
}
