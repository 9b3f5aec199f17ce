// SPDX-License-Identifier: MIT
/* Submission and waiting through DRM_IOCTL_EMBER_SUBMIT / _WAIT. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xf86drm.h>

#include "internal.h"

const char *ember_submit_hint(int err)
{
	switch (err) {
	case EINVAL:
		return " (malformed job: cmd_size must be a non-zero multiple of 8 at an 8-aligned offset, flags/pads zero)";
	case E2BIG:
		return " (too many jobs or buffers in one call: see max_submit_jobs / max_job_bos, split it)";
	case ENOENT:
		return " (a buffer handle is unknown in this file: was it freed?)";
	case ERANGE:
		return " (the command stream range lies beyond its buffer)";
	case EBADFD:
		return " (an earlier job of this file faulted the device MMU: this context is dead; close the device and open it again)";
	case EAGAIN:
		return " (the hardware ring is full: reap completions and retry)";
	case ENODEV:
		return " (the device is gone or its firmware stopped: see dmesg)";
	default:
		return "";
	}
}

void ember_job_to_drm(const struct ember_job *j, struct drm_ember_job *d)
{
	memset(d, 0, sizeof(*d));
	d->cmd_handle = j->cmd_handle;
	d->cmd_offset = j->cmd_offset;
	d->cmd_size = j->cmd_size;
	d->bo_count = j->bo_count;
	d->bos = (uintptr_t)j->bos;
}

int ember_submit(struct ember_device *dev, const struct ember_job *jobs,
		 uint32_t count, uint64_t *seqno)
{
	struct drm_ember_submit s;
	struct drm_ember_job *dj;
	uint32_t i;
	int err;

	if (!count)
		return ember_dev_fail(dev, -EINVAL, "ember_submit: no jobs");
	for (i = 0; i < count; i++)
		if (jobs[i].bo_count > EMBER_JOB_MAX_BOS)
			return ember_dev_fail(dev, -E2BIG,
				"ember_submit: job %u has bo_count %u > %d",
				i, jobs[i].bo_count, EMBER_JOB_MAX_BOS);
	dj = calloc(count, sizeof(*dj));
	if (!dj)
		return ember_dev_fail(dev, -ENOMEM, "ember_submit: out of memory");
	for (i = 0; i < count; i++)
		ember_job_to_drm(&jobs[i], &dj[i]);
	memset(&s, 0, sizeof(s));
	s.jobs = (uintptr_t)dj;
	s.job_count = count;
	s.job_stride = sizeof(*dj);
	err = drmIoctl(dev->fd, DRM_IOCTL_EMBER_SUBMIT, &s) ? errno : 0;
	free(dj);
	if (err)
		return ember_dev_fail(dev, ember_neg_errno(err),
			"SUBMIT of %u job(s) failed: %s%s", count, strerror(err),
			ember_submit_hint(err));
	if (seqno)
		*seqno = s.seqno;
	return 0;
}

int ember_wait(struct ember_device *dev, uint64_t seqno, int64_t timeout_ns)
{
	struct drm_ember_wait w;
	struct timespec now;
	int64_t deadline;

	clock_gettime(CLOCK_MONOTONIC, &now);
	deadline = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	if (timeout_ns < 0 || timeout_ns > INT64_MAX - deadline)
		deadline = INT64_MAX;
	else
		deadline += timeout_ns;
	memset(&w, 0, sizeof(w));
	w.seqno = seqno;
	w.timeout_ns = deadline;
	/* drmIoctl restarts on EINTR/EAGAIN; the deadline is absolute */
	if (drmIoctl(dev->fd, DRM_IOCTL_EMBER_WAIT, &w)) {
		int err = errno;

		return ember_dev_fail(dev, ember_neg_errno(err),
			"WAIT for job %llu failed: %s%s",
			(unsigned long long)seqno, strerror(err),
			err == ETIME ? " (still running: wait longer)" :
			err == EINVAL ? " (this file never issued that seqno)" :
			err == ENOENT ? " (it completed more than 4096 jobs ago; its status is gone)" :
			ember_submit_hint(err));
	}
	return (int)w.status;
}
