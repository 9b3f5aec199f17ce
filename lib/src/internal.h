/* SPDX-License-Identifier: MIT */
/* libember internals shared by its source files. */
#ifndef EMBER_INTERNAL_H
#define EMBER_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>

#include "ember/ember.h"

struct ember_device {
	int fd;
	char path[64];
	struct drm_ember_device_info info;
	/* the last error message; guarded so any thread may set or read it */
	pthread_mutex_t err_lock;
	char err[EMBER_ERRMSG_SIZE];
};

struct ember_bo {
	struct ember_device *dev;
	uint32_t handle;
	uint64_t size;
	uint64_t va;
	uint64_t mmap_offset;
	void *map;		/* NULL until ember_bo_map() */
	pthread_mutex_t map_lock;
};

/* Record a message in @dev and return @err (a negative errno). */
int ember_dev_fail(struct ember_device *dev, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A hint for each documented SUBMIT errno (ioctl and io_uring paths). */
const char *ember_submit_hint(int err);

/* struct ember_job -> the uapi's struct drm_ember_job (bos points into @j). */
void ember_job_to_drm(const struct ember_job *j, struct drm_ember_job *d);

/* The negative errno of the last failed libc/libdrm call. */
static inline int ember_neg_errno(int e)
{
	return e > 0 ? -e : -EIO;
}

/* checked a + b and a * b on u64: 0 on overflow */
static inline int ember_add_ok(uint64_t a, uint64_t b, uint64_t *r)
{
	return !__builtin_add_overflow(a, b, r);
}

static inline int ember_mul_ok(uint64_t a, uint64_t b, uint64_t *r)
{
	return !__builtin_mul_overflow(a, b, r);
}

#endif /* EMBER_INTERNAL_H */
