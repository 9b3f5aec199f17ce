// SPDX-License-Identifier: MIT
/*
 * The command-stream execution fuzz target without libFuzzer, for any
 * compiler:
 *   fw-fuzz-run-replay [--check] FILE|DIR...   run every input through the
 *       entry point (which aborts on a broken property) and print what ran;
 *       --check fails unless the inputs ran every op kind to OK (each
 *       MATMUL W dtype, X16, grouped MATMULs, each ATTENTION KV dtype,
 *       APPEND_KV+ROPE, split decode, COPY to and from every dtype) and
 *       ended in every status a job may end with, i.e. unless the corpus
 *       still reaches the kernels.
 *   fw-fuzz-run-replay --seeds DIR [N]          write N (default 64)
 *       seeded random inputs to DIR: a first corpus for libFuzzer.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_run.h"

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (!buf || n < 0 || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "%s: cannot read it\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

static int replay(const char *path, int *files)
{
	struct stat st;
	struct dirent *e;
	DIR *dir;

	if (stat(path, &st)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		*files += replay_file(path) == 0;
		return 0;
	}
	dir = opendir(path);
	if (!dir) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((e = readdir(dir))) {
		char p[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		*files += replay_file(p) == 0;
	}
	closedir(dir);
	return 0;
}

static int missing;

static void need(uint64_t count, const char *what)
{
	if (count)
		return;
	fprintf(stderr, "FAIL: no input ran %s: the corpus no longer reaches it; grow it with tests/firmware/fuzz/run-fuzz.sh\n",
		what);
	missing++;
}

static void check_reach(void)
{
	const struct fuzz_run_stats *s = fuzz_run_stats();
	char what[64];

	for (int i = 0; i < EMBER_OP_COUNT; i++) {
		snprintf(what, sizeof(what), "opcode %d to OK", i);
		need(s->ops_ok[i], what);
	}
	for (unsigned int i = 0; i < FUZZ_NDTYPES; i++) {
		uint8_t dt = fuzz_run_dtype(i);

		snprintf(what, sizeof(what), "a MATMUL with W dtype %u", dt);
		need(s->matmul_ok[i][0], what);
		if (dt == EMBER_DTYPE_Q8_0 || dt == EMBER_DTYPE_Q4_0) {
			snprintf(what, sizeof(what),
				 "an X16 MATMUL with W dtype %u", dt);
			need(s->matmul_ok[i][1], what);
		}
		if (dt == EMBER_DTYPE_F32 || dt == EMBER_DTYPE_F16 ||
		    dt == EMBER_DTYPE_Q8_0) {
			snprintf(what, sizeof(what),
				 "an ATTENTION with KV dtype %u", dt);
			need(s->attn_ok[i], what);
		}
		if (i) {
			snprintf(what, sizeof(what), "a COPY f32 to dtype %u",
				 dt);
			need(s->copy_ok[0][i], what);
			snprintf(what, sizeof(what), "a COPY dtype %u to f32",
				 dt);
			need(s->copy_ok[i][0], what);
		}
	}
	need(s->matmul_groups, "grouped MATMULs");
	need(s->attn_append_rope, "an ATTENTION with APPEND_KV and ROPE");
	need(s->attn_split, "a decode ATTENTION split over positions");
	need(s->status[EMBER_JOB_BAD_OP], "a job to BAD_OP");
	need(s->status[EMBER_JOB_BAD_DESC], "a job to BAD_DESC");
	need(s->status[EMBER_JOB_UNSUPPORTED], "a job to UNSUPPORTED");
	need(s->status[EMBER_JOB_MMU_FAULT], "a job to MMU_FAULT");
}

static int write_seeds(const char *dir, int n)
{
	uint64_t s = 0x2545f4914f6cdd1dull;

	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (int i = 0; i < n; i++) {
		uint8_t buf[128];
		size_t len = 16 + i % 97;
		char path[4096];
		FILE *f;

		for (size_t j = 0; j < len; j++) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			buf[j] = (uint8_t)(s >> 24);
		}
		buf[5] = (uint8_t)(i % 8 | (s & 0x38));
		if (i % 8 == 7) {	/* two MATMULs on one A: a group */
			uint8_t g[] = { 1, (uint8_t)(i / 8 % 5 | (i & 0x20)),
					3, 2, 5, 0, 0, 0, 0, 0,
					1, 0x40, 7, 0, 0, 0, 0 };

			memcpy(buf + 5, g, sizeof(g));
			len = 5 + sizeof(g);
		}
		snprintf(path, sizeof(path), "%s/seed-%03d", dir, i);
		f = fopen(path, "wb");
		if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
			fprintf(stderr, "%s: cannot write it\n", path);
			return 1;
		}
	}
	printf("wrote %d seeds to %s\n", n, dir);
	return 0;
}

int main(int argc, char **argv)
{
	bool check = false;
	int files = 0, first = 1;

	if (argc >= 3 && !strcmp(argv[1], "--seeds"))
		return write_seeds(argv[2], argc > 3 ? atoi(argv[3]) : 64);
	if (argc > 1 && !strcmp(argv[1], "--check")) {
		check = true;
		first = 2;
	}
	if (first >= argc) {
		fprintf(stderr, "usage: %s [--check] FILE|DIR... | --seeds DIR [N]\n",
			argv[0]);
		return 2;
	}
	for (int i = first; i < argc; i++)
		if (replay(argv[i], &files))
			return 1;
	printf("replayed %d inputs\n", files);
	fuzz_run_print_stats(stdout);
	if (!files) {
		fprintf(stderr, "FAIL: no inputs found\n");
		return 1;
	}
	if (check)
		check_reach();
	return missing ? 1 : 0;
}
