/* SPDX-License-Identifier: MIT */
/*
 * ember-bench model, llama.cpp's side: one llama-bench process per round
 * (-r 1), so that its rounds interleave with Ember's. Its own warm-up run
 * stays on (untimed, as Ember's first run is); its output is one JSON line
 * (-o jsonl), read with jansson.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include <ember/runtime.h>

#include "model.h"

extern char **environ;

static const char *kv_name(int kv_dtype)
{
	switch (kv_dtype) {
	case EMBER_TYPE_F32: return "f32";
	case EMBER_TYPE_Q8_0: return "q8_0";
	default: return "f16";
	}
}

/* Runs argv with stdout into out (NUL-terminated, at most size - 1 bytes)
 * and stderr into a temporary file, whose tail is printed on failure. */
static int run_child(char *const argv[], char *out, size_t size)
{
	char errpath[] = "/tmp/ember-bench-llama-XXXXXX";
	posix_spawn_file_actions_t fa;
	int pfd[2], efd, status;
	size_t len = 0;
	ssize_t k;
	pid_t pid;
	int ret;

	efd = mkstemp(errpath);
	if (efd < 0)
		return -errno;
	unlink(errpath);
	if (pipe(pfd)) {
		ret = -errno;
		close(efd);
		return ret;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, efd, 2);
	posix_spawn_file_actions_addclose(&fa, pfd[0]);
	ret = -posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (ret) {
		fprintf(stderr, "ember-bench: cannot run %s: %s\n", argv[0],
			strerror(-ret));
		close(pfd[0]);
		close(efd);
		return ret;
	}
	while ((k = read(pfd[0], out + len, size - 1 - len)) > 0 ||
	       (k < 0 && errno == EINTR))
		len += k > 0 ? (size_t)k : 0;
	out[len] = 0;
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		char tail[2048];
		off_t end = lseek(efd, 0, SEEK_END);
		ssize_t n = pread(efd, tail, sizeof(tail) - 1,
				  end > (off_t)sizeof(tail) - 1 ?
				  end - (off_t)sizeof(tail) + 1 : 0);

		tail[n > 0 ? n : 0] = 0;
		fprintf(stderr, "ember-bench: %s %s %d; the end of its messages:\n%s\n",
			argv[0], WIFEXITED(status) ? "exited with status" : "died of signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), tail);
		ret = -EIO;
	}
	close(efd);
	return ret;
}

static void copy_str(json_t *obj, const char *key, char *dst, size_t size)
{
	const char *s = json_string_value(json_object_get(obj, key));

	if (s && dst)
		snprintf(dst, size, "%s", s);
}

double mb_llama_run(const char *llama_bench, const char *model, int threads,
		    int kv_dtype, const struct mb_test *t,
		    struct mb_engine *eng, char *model_type, size_t type_size)
{
	char th[16], p[16], n[16], d[16];
	const char *kv = kv_name(kv_dtype);
	char *const argv[] = {
		(char *)llama_bench, "-m", (char *)model, "-t", th, "-p", p,
		"-n", n, "-d", d, "-r", "1", "-ctk", (char *)kv, "-ctv",
		(char *)kv, "-o", "jsonl", NULL
	};
	size_t size = 1 << 16;
	char *out = malloc(size);
	json_error_t jerr;
	json_t *obj, *ts;
	double v = -1;

	if (!out)
		return -1;
	snprintf(th, sizeof(th), "%d", threads);
	snprintf(p, sizeof(p), "%d", t->n_prompt);
	snprintf(n, sizeof(n), "%d", t->n_gen);
	snprintf(d, sizeof(d), "%d", t->n_depth);
	if (run_child(argv, out, size)) {
		free(out);
		return -1;
	}
	/* the one result line (anything else on stdout is not llama-bench's) */
	obj = json_loads(out, JSON_DISABLE_EOF_CHECK, &jerr);
	if (!obj || !json_is_object(obj)) {
		fprintf(stderr, "ember-bench: %s printed no JSON result (%s at line %d, column %d): is it llama.cpp's llama-bench? Its output began: %.200s\n",
			llama_bench, jerr.text, jerr.line, jerr.column, out);
		json_decref(obj);
		free(out);
		return -1;
	}
	ts = json_object_get(obj, "avg_ts");
	if (json_is_number(ts) && json_number_value(ts) > 0) {
		v = json_number_value(ts);
	} else {
		fprintf(stderr, "ember-bench: %s's result has no positive avg_ts: %.200s\n",
			llama_bench, out);
	}
	if (!eng->name[0]) {	/* the first run describes the build */
		snprintf(eng->name, sizeof(eng->name), "llama.cpp");
		copy_str(obj, "build_commit", eng->build_commit, sizeof(eng->build_commit));
		copy_str(obj, "cpu_info", eng->cpu_info, sizeof(eng->cpu_info));
		copy_str(obj, "backends", eng->build_info, sizeof(eng->build_info));
	}
	copy_str(obj, "model_type", model_type, type_size);
	json_decref(obj);
	free(out);
	return v;
}
