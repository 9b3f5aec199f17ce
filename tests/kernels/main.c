/* SPDX-License-Identifier: MIT */
/*
 * Kernel tests: every ek_* op against a double-precision reference written
 * here. Built once per ISA cap (portable, AVX2, best available), so each
 * dispatch path is checked on one machine. Usage: test-kernels [group...]
 */
#include <stdlib.h>
#include <string.h>

#include "kt.h"

static bool want(int argc, char **argv, const char *name)
{
	if (argc < 2)
		return true;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], name))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	struct kt_execs e;
	long total_checks = 0, total_fails = 0;
	static const char *const groups[] = {
		"dtype", "quant", "matmul", "attention", "ops", "pool",
	};

	kt_execs_init(&e);
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		struct kt t = { .max_reports = 10 };

		if (!want(argc, argv, groups[g]))
			continue;
		switch (g) {
		case 0: kt_test_dtype(&t); break;
		case 1: kt_test_quant(&t); break;
		case 2: kt_test_matmul(&t, &e); break;
		case 3: kt_test_attention(&t, &e); break;
		case 4: kt_test_ops(&t, &e); break;
		default: kt_test_pool(&t); break;
		}
		printf("%-10s %8ld checks %6ld failures\n", groups[g], t.checks,
		       t.fails);
		total_checks += t.checks;
		total_fails += t.fails;
	}
	kt_execs_fini(&e);
	printf("total      %8ld checks %6ld failures\n", total_checks,
	       total_fails);
	return total_fails ? EXIT_FAILURE : EXIT_SUCCESS;
}
