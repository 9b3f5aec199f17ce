/* SPDX-License-Identifier: MIT */
#include "model_path.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_MODEL "stories260K.gguf"
#define GUEST_SHARE "/share"

static int exists(const char *p)
{
	return access(p, R_OK) == 0;
}

static int try_path(const char *dir, const char *mid, char *buf, size_t size)
{
	char p[PATH_MAX + 64];
	int n = snprintf(p, sizeof(p), "%s%s/shared/models/%s", dir, mid, DEFAULT_MODEL);

	if (n < 0 || (size_t)n >= sizeof(p) || (size_t)n >= size || !exists(p))
		return -ENOENT;
	memcpy(buf, p, (size_t)n + 1);
	return 0;
}

/* Walks up from dir looking for shared/models/<model> or ../shared/... */
static int search_up(const char *start, char *buf, size_t size)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", start);
	for (int depth = 0; depth < 8 && dir[0]; depth++) {
		char *slash;

		if (!try_path(dir, "", buf, size) || !try_path(dir, "/..", buf, size))
			return 0;
		slash = strrchr(dir, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
	return -ENOENT;
}

int default_model_path(char *buf, size_t size, bool *from_env)
{
	const char *env = getenv("EMBER_MODEL");
	char exe[PATH_MAX], cwd[PATH_MAX];
	ssize_t n;

	*from_env = env && *env;
	if (*from_env) {
		snprintf(buf, size, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		if (!search_up(exe, buf, size))
			return 0;
	}
	if (getcwd(cwd, sizeof(cwd)) && !search_up(cwd, buf, size))
		return 0;
	/* the guest: scripts/run-guest.sh --share shared/models mounts it here */
	if (exists(GUEST_SHARE "/" DEFAULT_MODEL) &&
	    (size_t)snprintf(buf, size, "%s", GUEST_SHARE "/" DEFAULT_MODEL) < size)
		return 0;
	return -ENOENT;
}
