/* SPDX-License-Identifier: MIT */
/*
 * The NPU backend's device: ember.ko through libember. A pass's jobs go
 * to the kernel in one SUBMIT ioctl (so they queue in order on the file's
 * timeline, each ordered after the previous users of the buffers it
 * writes), then the caller waits once, for the last, and reads every job's
 * status, which the kernel keeps for 4096 jobs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ember/ember.h>

#include "transport.h"

/* A pass is a few layers' worth of device time; the driver times out a
 * single job after 5 s by default and then fails it, so this only bounds
 * a device that stopped answering altogether. */
#define PASS_TIMEOUT_NS (120ll * 1000000000ll)

static int fail(char *msg, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *msg, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, NPU_MSG_SIZE, fmt, ap);
	va_end(ap);
	return code;
}

struct lib_dev {
	struct ember_device *dev;
	char path[64];		/* the node it opened, for reopen */
	struct ember_job *jobs;
	uint32_t n_jobs;
};

static int lib_alloc(void *ctx, uint64_t size, struct npu_buf *out,
		     char *msg)
{
	struct lib_dev *d = ctx;
	struct ember_bo *bo;
	void *p;
	int ret = ember_bo_create(d->dev, size, &bo);

	if (ret)
		return fail(msg, ret, "cannot create a %llu MiB NPU buffer: %s",
				  (unsigned long long)(size >> 20), ember_errmsg(d->dev));
	ret = ember_bo_map(bo, &p);
	if (ret) {
		ret = fail(msg, ret, "cannot map a %llu MiB NPU buffer: %s",
				 (unsigned long long)(size >> 20), ember_errmsg(d->dev));
		ember_bo_free(bo);
		return ret;
	}
	memset(out, 0, sizeof(*out));
	out->va = ember_bo_va(bo);
	out->cpu = p;
	out->size = ember_bo_size(bo);
	out->priv = bo;
	return 0;
}

static void lib_free(void *ctx, struct npu_buf *b)
{
	(void)ctx;
	ember_bo_free(b->priv);
	memset(b, 0, sizeof(*b));
}

static int lib_run(void *ctx, const struct npu_buf *cmd, const struct npu_job *jobs,
		   uint32_t n, const struct npu_buf *const *bufs, uint32_t n_bufs,
		   char *msg, struct npu_failure *f)
{
	struct lib_dev *d = ctx;
	uint32_t max = ember_device_info(d->dev)->max_submit_jobs;
	uint64_t first = 0, seq;
	int ret;

	*f = (struct npu_failure){ .job = -1, .status = -1 };
	if (n > d->n_jobs) {
		struct ember_job *j = realloc(d->jobs, n * sizeof(*j));

		if (!j)
			return fail(msg, -ENOMEM, "out of memory for %u NPU jobs", n);
		d->jobs = j;
		d->n_jobs = n;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct ember_job *j = &d->jobs[i];

		memset(j, 0, sizeof(*j));
		j->cmd_handle = ember_bo_handle(cmd->priv);
		j->cmd_offset = jobs[i].cmd_off;
		j->cmd_size = jobs[i].cmd_size;
		for (uint32_t b = 0; b < n_bufs; b++)
			ember_job_add_bo(j, ember_bo_handle(bufs[b]->priv),
					 DRM_EMBER_BO_READ |
					 (bufs[b]->device_writes ? DRM_EMBER_BO_WRITE : 0));
	}
	for (uint32_t i = 0; i < n; i += max ? max : n) {
		uint32_t c = max && n - i > max ? max : n - i;

		ret = ember_submit(d->dev, d->jobs + i, c, &seq);
		if (ret) {
			/* jobs queued by an earlier chunk end before the retry's */
			if (i)
				ember_wait(d->dev, first + i - 1, PASS_TIMEOUT_NS);
			f->err = ret;
			return fail(msg, ret, "submitting %u NPU jobs failed: %s", c,
					  ember_errmsg(d->dev));
		}
		if (!i)
			first = seq;
	}
	ret = ember_wait(d->dev, first + n - 1, PASS_TIMEOUT_NS);
	if (ret < 0) {
		*f = (struct npu_failure){ .job = (int)n - 1, .seqno = first + n - 1,
					   .status = -1, .err = ret };
		return fail(msg, ret, "waiting for the NPU failed: %s", ember_errmsg(d->dev));
	}
	for (uint32_t i = 0; i < n; i++) {
		ret = i == n - 1 ? ret : ember_wait(d->dev, first + i, 0);
		*f = (struct npu_failure){ .job = (int)i, .seqno = first + i, .status = -1,
					   .err = ret < 0 ? ret : -EIO };
		if (ret < 0)
			return fail(msg, ret, "reading the status of NPU job %u failed: %s",
					  i, ember_errmsg(d->dev));
		if (ret != EMBER_JOB_OK) {
			f->status = ret;
			return fail(msg, -EIO,
					  "NPU job %llu (%u of %u in the pass) ended with status %s; see the kernel log (dmesg)",
					  (unsigned long long)f->seqno, i + 1, n,
					  ember_status_name(ret));
		}
	}
	*f = (struct npu_failure){ .job = -1, .status = -1 };
	return 0;
}

static int lib_counters(void *ctx, uint64_t *rd, uint64_t *wr, uint64_t *copied)
{
	struct lib_dev *d = ctx;
	struct drm_ember_perf p;
	int ret = ember_query_perf(d->dev, &p);

	if (ret)
		return ret;
	*rd = p.bytes_read;
	*wr = p.bytes_written;
	*copied = p.bytes_copied;
	return 0;
}

static void lib_destroy(void *ctx)
{
	struct lib_dev *d = ctx;

	ember_device_close(d->dev);
	free(d->jobs);
	free(d);
}

static int lib_reopen(void *ctx, struct npu_transport *out, char *msg)
{
	return npu_transport_open(((struct lib_dev *)ctx)->path, out, msg);
}

static const struct npu_transport_ops lib_ops = {
	.alloc = lib_alloc,
	.free = lib_free,
	.run = lib_run,
	.reopen = lib_reopen,
	.counters = lib_counters,
	.destroy = lib_destroy,
};

int npu_transport_open(const char *path, struct npu_transport *out,
		       char *msg)
{
	char lib_msg[EMBER_ERRMSG_SIZE];
	const struct drm_ember_device_info *di;
	struct lib_dev *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return fail(msg, -ENOMEM, "out of memory");
	ret = ember_device_open(path, &d->dev, lib_msg, sizeof(lib_msg));
	if (ret) {
		free(d);
		return fail(msg, ret, "%s", lib_msg);
	}
	di = ember_device_info(d->dev);
	snprintf(d->path, sizeof(d->path), "%s", ember_device_path(d->dev));
	memset(out, 0, sizeof(*out));
	out->ops = &lib_ops;
	out->ctx = d;
	out->caps.ops = di->caps_ops;
	out->caps.dtypes = di->caps_dtypes;
	out->caps.fw_abi = di->fw_abi_version;
	out->caps.max_jobs = di->max_submit_jobs;
	out->caps.va_size = di->va_size;
	snprintf(out->caps.name, sizeof(out->caps.name), "%s, firmware %.32s",
		 ember_device_path(d->dev), di->fw_version);
	return 0;
}
