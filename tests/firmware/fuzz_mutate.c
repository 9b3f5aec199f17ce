// SPDX-License-Identifier: MIT
/*
 * Deterministic driver for the fuzz entry point, run by meson test with any
 * compiler: starts from valid streams (NOP, MATMUL, ATTENTION, mixed),
 * applies seeded random mutations (bit flips, byte stores, interesting
 * 16/32/64-bit values at op fields, size truncation and extension, caps
 * changes) and feeds every result to LLVMFuzzerTestOneInput, which aborts
 * on a broken property. Fails too if the mutations never reach every
 * interesting verdict, i.e. if the corpus stopped exercising validation.
 *   usage: fuzz_mutate [iterations] [seed]
 *          fuzz_mutate --corpus DIR   (seed a libFuzzer corpus)
 */
#include <stdlib.h>

#include "drm/ember_accel.h"
#include "fake_hal.h"
#include "fuzz_validate.h"
#include "test_util.h"

#define MAX_INPUT 2048

struct input {
	uint8_t b[MAX_INPUT];
	size_t n;
};

static void put(struct input *in, const void *p, size_t len)
{
	if (in->n + len <= MAX_INPUT) {
		memcpy(in->b + in->n, p, len);
		in->n += len;
	}
}

static void seed_caps(struct input *in)
{
	uint32_t all = 0xffffffffu;

	in->n = 0;
	put(in, &all, 4);
	put(in, &all, 4);
}

/* Valid ops; addresses point at the fake device (the stream page is
 * mapped read-only, so a valid matmul ends in an MMU fault or reads it). */
static void make_seeds(struct input *seeds, int *count)
{
	struct ember_op_hdr nop = { EMBER_OP_NOP, 8, 0 };
	struct ember_op_matmul mm;
	struct ember_op_attention at;
	int n = 0;

	memset(&mm, 0, sizeof(mm));
	mm.hdr.opcode = EMBER_OP_MATMUL;
	mm.hdr.size = sizeof(mm);
	mm.m = 2;
	mm.n = 3;
	mm.k = 32;
	mm.w_dtype = EMBER_DTYPE_Q8_0;
	mm.a_va = FAKE_VA_BASE + 0x10000;
	mm.w_va = FAKE_VA_BASE + 0x20000;
	mm.c_va = FAKE_VA_BASE + 0x30000;
	mm.a_stride = 128;
	mm.w_stride = 34;
	mm.c_stride = 12;

	memset(&at, 0, sizeof(at));
	at.hdr.opcode = EMBER_OP_ATTENTION;
	at.hdr.size = sizeof(at);
	at.n_tok = 2;
	at.n_past = 1;
	at.n_head = 4;
	at.n_kv_head = 2;
	at.head_dim = 8;
	at.kv_dtype = EMBER_DTYPE_F16;
	at.scale = 0.35f;
	at.n_ctx = 16;
	at.q_va = FAKE_VA_BASE;	/* reads the stream page: mapped */
	at.q_stride = 128;
	at.k_va = FAKE_VA_BASE + 0x40000;
	at.v_va = FAKE_VA_BASE + 0x40000;
	at.kv_stride = 32;
	at.out_va = FAKE_VA_BASE + 0x50000;
	at.out_stride = 128;

	seed_caps(&seeds[n]);
	put(&seeds[n++], &nop, 8);
	seed_caps(&seeds[n]);
	put(&seeds[n++], &mm, sizeof(mm));
	seed_caps(&seeds[n]);
	put(&seeds[n++], &at, sizeof(at));
	seed_caps(&seeds[n]);
	put(&seeds[n], &nop, 8);
	put(&seeds[n], &mm, sizeof(mm));
	put(&seeds[n], &nop, 8);
	put(&seeds[n++], &at, sizeof(at));
	/* ABI 1.1: attention with APPEND_KV | ROPE, and the row ops */
	at.hdr.flags = EMBER_ATTN_APPEND_KV | EMBER_ATTN_ROPE;
	at.rope_dim = 8;
	at.rope_freq_base = 10000.0f;
	at.v_va = FAKE_VA_BASE + 0x48000;
	at.k_new_va = FAKE_VA_BASE + 0x100;
	at.v_new_va = FAKE_VA_BASE + 0x200;
	at.new_stride = 64;
	seed_caps(&seeds[n]);
	put(&seeds[n++], &at, sizeof(at));
	{
		struct ember_op_rmsnorm rn;
		struct ember_op_rope rp;
		struct ember_op_swiglu sw;
		struct ember_op_add add;
		struct ember_op_copy cp;

		memset(&rn, 0, sizeof(rn));
		rn.hdr = (struct ember_op_hdr){ EMBER_OP_RMSNORM, sizeof(rn),
						EMBER_RMSNORM_WEIGHT };
		rn.rows = 2;
		rn.dim = 16;
		rn.eps = 1e-5f;
		rn.x_va = FAKE_VA_BASE;
		rn.x_stride = 64;
		rn.w_va = FAKE_VA_BASE + 128;
		rn.out_va = FAKE_VA_BASE + 0x10000;
		rn.out_stride = 64;
		memset(&rp, 0, sizeof(rp));
		rp.hdr = (struct ember_op_hdr){ EMBER_OP_ROPE, sizeof(rp),
						EMBER_ROPE_NEOX };
		rp.rows = 2;
		rp.n_head = 2;
		rp.head_dim = 8;
		rp.rope_dim = 8;
		rp.pos0 = 3;
		rp.freq_base = 10000.0f;
		rp.x_va = rp.out_va = FAKE_VA_BASE + 0x10000;
		rp.x_stride = rp.out_stride = 64;
		memset(&sw, 0, sizeof(sw));
		sw.hdr = (struct ember_op_hdr){ EMBER_OP_SWIGLU, sizeof(sw), 0 };
		sw.rows = 1;
		sw.n = 8;
		sw.gate_va = FAKE_VA_BASE;
		sw.up_va = FAKE_VA_BASE + 32;
		sw.out_va = FAKE_VA_BASE + 0x10000;
		sw.gate_stride = sw.up_stride = sw.out_stride = 32;
		memset(&add, 0, sizeof(add));
		add.hdr = (struct ember_op_hdr){ EMBER_OP_ADD, sizeof(add), 0 };
		add.rows = 3;
		add.n = 4;
		add.a_va = add.b_va = FAKE_VA_BASE;
		add.out_va = FAKE_VA_BASE + 0x10000;
		add.a_stride = add.b_stride = add.out_stride = 16;
		memset(&cp, 0, sizeof(cp));
		cp.hdr = (struct ember_op_hdr){ EMBER_OP_COPY, sizeof(cp), 0 };
		cp.rows = 2;
		cp.n = 32;
		cp.src_dtype = EMBER_DTYPE_F32;
		cp.dst_dtype = EMBER_DTYPE_Q4_0;
		cp.src_va = FAKE_VA_BASE;
		cp.src_stride = 128;
		cp.dst_va = FAKE_VA_BASE + 0x10000;
		cp.dst_stride = 18;
		seed_caps(&seeds[n]);
		put(&seeds[n], &rn, sizeof(rn));
		put(&seeds[n], &rp, sizeof(rp));
		put(&seeds[n], &sw, sizeof(sw));
		put(&seeds[n], &add, sizeof(add));
		put(&seeds[n++], &cp, sizeof(cp));
		seed_caps(&seeds[n]);
		put(&seeds[n++], &cp, sizeof(cp));
		seed_caps(&seeds[n]);
		put(&seeds[n++], &rp, sizeof(rp));
	}
	mm.hdr.flags = EMBER_MATMUL_BIAS | EMBER_MATMUL_ACCUMULATE;
	mm.bias_va = FAKE_VA_BASE + 0x60000;
	mm.w_dtype = EMBER_DTYPE_F32;
	mm.w_stride = 128;
	seed_caps(&seeds[n]);
	put(&seeds[n++], &mm, sizeof(mm));
	*count = n;
}

static const uint64_t interesting[] = {
	0, 1, 2, 3, 7, 8, 31, 32, 33, 64, 127, 128, 255, 256, 511, 512, 513,
	4095, 4096, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0x80000000u,
	0xffffffffu, 0x100000000ull, 1ull << 39, 1ull << 62,
	0x8000000000000000ull, 0xfffffffffffffff0ull, ~0ull,
};

static void mutate(struct rng *r, struct input *in)
{
	size_t body = in->n - 8;
	uint32_t kind = rng_below(r, 10);

	if (body == 0)
		kind = 8;
	switch (kind) {
	case 0:
	case 1: {	/* flip a bit */
		size_t at = rng_below(r, (uint32_t)in->n);

		in->b[at] ^= (uint8_t)(1u << rng_below(r, 8));
		break;
	}
	case 2: {	/* a random byte */
		in->b[rng_below(r, (uint32_t)in->n)] = (uint8_t)rng_next(r);
		break;
	}
	case 3:
	case 4:
	case 5: {	/* an interesting value at an aligned field */
		uint64_t v = interesting[rng_below(r, sizeof(interesting) / 8)];
		uint32_t width = 1u << rng_below(r, 4);	/* 1, 2, 4, 8 */
		size_t slots = body / width, at;

		if (slots == 0)
			break;
		at = 8 + rng_below(r, (uint32_t)slots) * width;
		memcpy(in->b + at, &v, width);	/* little endian host */
		break;
	}
	case 6:	/* truncate */
		in->n -= rng_below(r, (uint32_t)(body < 64 ? body : 64)) + 1;
		break;
	case 7: {	/* extend with zeros or junk */
		size_t add = rng_below(r, 32) + 1;
		bool junk = rng_below(r, 2);

		for (size_t i = 0; i < add && in->n < MAX_INPUT; i++)
			in->b[in->n++] = junk ? (uint8_t)rng_next(r) : 0;
		break;
	}
	case 8: {	/* caps */
		uint32_t v = rng_below(r, 2) ? (uint32_t)rng_next(r)
					     : ~(1u << rng_below(r, 32));

		memcpy(in->b + 4 * rng_below(r, 2), &v, 4);
		break;
	}
	default: {	/* duplicate a prefix of the stream at its end */
		size_t len = rng_below(r, (uint32_t)body) + 1;

		if (in->n + len <= MAX_INPUT) {
			memmove(in->b + in->n, in->b + 8, len);
			in->n += len;
		}
		break;
	}
	}
}

/* Seed a libFuzzer corpus directory with the valid streams. */
static int write_corpus(const char *dir, const struct input *seeds, int n)
{
	for (int i = 0; i < n; i++) {
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/seed-%d", dir, i);
		f = fopen(path, "wb");
		if (!f || fwrite(seeds[i].b, 1, seeds[i].n, f) != seeds[i].n) {
			fprintf(stderr, "fuzz_mutate: cannot write %s (does %s exist?)\n",
				path, dir);
			if (f)
				fclose(f);
			return 1;
		}
		fclose(f);
	}
	printf("fuzz_mutate: wrote %d seeds to %s\n", n, dir);
	return 0;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 20000;
	struct rng r = { argc > 2 ? strtoull(argv[2], NULL, 0) : 0x5eedf00dull };
	struct input seeds[16], in;
	unsigned long verdicts[8] = { 0 };
	int nseeds;

	make_seeds(seeds, &nseeds);
	if (argc == 3 && strcmp(argv[1], "--corpus") == 0)
		return write_corpus(argv[2], seeds, nseeds);
	for (long i = 0; i < iters; i++) {
		uint32_t st, bad_op, rounds = 1 + rng_below(&r, 4);

		in = seeds[rng_below(&r, (uint32_t)nseeds)];
		if (i % 8)	/* every 8th input goes in unmutated */
			for (uint32_t m = 0; m < rounds; m++)
				mutate(&r, &in);
		LLVMFuzzerTestOneInput(in.b, in.n);
		{
			uint32_t co, cd;

			memcpy(&co, in.b, 4);
			memcpy(&cd, in.b + 4, 4);
			st = ember_fw_validate(in.b + 8, (uint32_t)(in.n - 8), co, cd,
					       &bad_op);
		}
		if (st < 8)
			verdicts[st]++;
	}
	printf("fuzz_mutate: %ld inputs: OK %lu, BAD_OP %lu, BAD_DESC %lu, UNSUPPORTED %lu\n",
	       iters, verdicts[EMBER_JOB_OK], verdicts[EMBER_JOB_BAD_OP],
	       verdicts[EMBER_JOB_BAD_DESC], verdicts[EMBER_JOB_UNSUPPORTED]);
	CHECK(iters < 1000 ||
	      (verdicts[EMBER_JOB_OK] && verdicts[EMBER_JOB_BAD_OP] &&
	       verdicts[EMBER_JOB_BAD_DESC] && verdicts[EMBER_JOB_UNSUPPORTED]),
	      "the mutations did not reach every validation verdict");
	return test_finish("fuzz_mutate");
}
