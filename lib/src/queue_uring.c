// SPDX-License-Identifier: MIT
/*
 * Queues: an io_uring on the device fd that carries jobs as
 * IORING_OP_URING_CMD / DRM_EMBER_URING_CMD_SUBMIT. liburing 2.3 has no
 * uring-cmd helpers, so the SQE is filled by hand. Each job in flight owns a
 * slot that keeps its BO list alive until its CQE is reaped: the kernel
 * reads the list when it issues the SQE, which io_uring may do after
 * io_uring_enter() returns (IOSQE_ASYNC, SQPOLL).
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <liburing.h>

#include "internal.h"

#define QUEUE_MAX_ENTRIES 32768u

struct qslot {
	uint64_t user_data;
	uint32_t next_free;
	uint32_t bo_count;
	struct drm_ember_bo_ref bos[EMBER_JOB_MAX_BOS];
};

struct ember_queue {
	struct ember_device *dev;
	struct io_uring ring;
	unsigned int entries;	/* slots */
	unsigned int inflight;	/* pushed and not reaped */
	unsigned int pushed;	/* pushed and not yet submitted */
	uint32_t free_head;	/* free slot list, entries = end */
	struct qslot *slots;
};

/* The 80-byte command area of a 128-byte SQE. Computed from the SQE base:
 * sqe->cmd is a zero-length array that fortified memcpy would refuse. */
static void *sqe_cmd(struct io_uring_sqe *sqe)
{
	return (char *)sqe + offsetof(struct io_uring_sqe, addr3);
}

_Static_assert(sizeof(struct drm_ember_job) <= 80,
	       "struct drm_ember_job must fit the SQE128 command area");

int ember_queue_create(struct ember_device *dev, unsigned int entries,
		       struct ember_queue **qp)
{
	struct io_uring_params p;
	struct ember_queue *q;
	unsigned int n = 1, i;
	int ret;

	*qp = NULL;
	if (!entries || entries > QUEUE_MAX_ENTRIES)
		return ember_dev_fail(dev, -EINVAL,
			"ember_queue_create: entries %u out of range 1..%u",
			entries, QUEUE_MAX_ENTRIES);
	while (n < entries)
		n <<= 1;
	q = calloc(1, sizeof(*q));
	if (q)
		q->slots = calloc(n, sizeof(*q->slots));
	if (!q || !q->slots) {
		free(q);
		return ember_dev_fail(dev, -ENOMEM, "ember_queue_create: out of memory");
	}
	memset(&p, 0, sizeof(p));
	/* SUBMIT_ALL: one bad job must not stop the rest of the batch */
	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32 |
		  IORING_SETUP_SUBMIT_ALL;
	ret = io_uring_queue_init_params(n, &q->ring, &p);
	if (ret < 0) {
		free(q->slots);
		free(q);
		return ember_dev_fail(dev, ret,
			"io_uring setup (%u entries, SQE128|CQE32) failed: %s%s",
			n, strerror(-ret),
			ret == -EPERM ? " (io_uring is disabled: sysctl kernel.io_uring_disabled=0, or use ember_submit())" :
			ret == -EINVAL ? " (the kernel lacks SQE128/CQE32: it needs Linux >= 5.19; use ember_submit())" :
			ret == -ENOMEM ? " (raise RLIMIT_MEMLOCK or use fewer entries)" : "");
	}
	q->dev = dev;
	q->entries = n;
	for (i = 0; i < n; i++)
		q->slots[i].next_free = i + 1;
	q->free_head = 0;
	*qp = q;
	return 0;
}

void ember_queue_destroy(struct ember_queue *q)
{
	if (!q)
		return;
	io_uring_queue_exit(&q->ring);
	free(q->slots);
	free(q);
}

int ember_queue_push(struct ember_queue *q, const struct ember_job *job,
		     uint64_t user_data)
{
	struct drm_ember_job dj;
	struct io_uring_sqe *sqe;
	struct qslot *s;
	uint32_t idx;

	if (q->free_head >= q->entries)
		return ember_dev_fail(q->dev, -EBUSY,
			"queue full (%u jobs in flight): reap completions first",
			q->inflight);
	if (job->bo_count > EMBER_JOB_MAX_BOS)
		return ember_dev_fail(q->dev, -E2BIG,
			"ember_queue_push: bo_count %u > %d", job->bo_count,
			EMBER_JOB_MAX_BOS);
	sqe = io_uring_get_sqe(&q->ring);
	if (!sqe)	/* cannot happen while slots <= SQ entries */
		return ember_dev_fail(q->dev, -EBUSY,
			"submission ring full: call ember_queue_submit()");
	idx = q->free_head;
	s = &q->slots[idx];
	q->free_head = s->next_free;
	s->user_data = user_data;
	s->bo_count = job->bo_count;
	memcpy(s->bos, job->bos, job->bo_count * sizeof(s->bos[0]));

	ember_job_to_drm(job, &dj);
	dj.bos = (uintptr_t)s->bos;
	memset(sqe, 0, 128);
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, q->dev->fd, NULL, 0, 0);
	sqe->cmd_op = DRM_EMBER_URING_CMD_SUBMIT;	/* after prep: it clears off */
	memcpy(sqe_cmd(sqe), &dj, sizeof(dj));
	sqe->user_data = idx;
	q->inflight++;
	q->pushed++;
	return 0;
}

int ember_queue_submit(struct ember_queue *q)
{
	int ret;

	if (!q->pushed)
		return 0;
	ret = io_uring_submit(&q->ring);
	if (ret < 0)
		return ember_dev_fail(q->dev, ret,
			"io_uring_enter (submitting %u jobs) failed: %s%s",
			q->pushed, strerror(-ret),
			ret == -EBUSY || ret == -EAGAIN ?
			" (completion ring full: reap completions and retry)" : "");
	q->pushed -= (unsigned int)ret < q->pushed ? (unsigned int)ret : q->pushed;
	return ret;
}

static int collect(struct ember_queue *q, struct ember_completion *out,
		   unsigned int max)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0, seen = 0;

	io_uring_for_each_cqe(&q->ring, head, cqe) {
		struct qslot *s;
		uint64_t idx = cqe->user_data;

		if (n == max)
			break;
		seen++;
		if (idx >= q->entries)	/* not ours: should not happen */
			continue;
		s = &q->slots[idx];
		out[n].user_data = s->user_data;
		out[n].status = cqe->res;
		out[n].seqno = cqe->res >= 0 ? cqe->big_cqe[0] : 0;
		out[n].pad = 0;
		s->next_free = q->free_head;
		q->free_head = (uint32_t)idx;
		q->inflight--;
		n++;
	}
	/* advance over every CQE looked at (including foreign ones) */
	if (seen)
		io_uring_cq_advance(&q->ring, seen);
	return (int)n;
}

int ember_queue_reap(struct ember_queue *q, struct ember_completion *out,
		     unsigned int max)
{
	return collect(q, out, max);
}

int ember_queue_wait(struct ember_queue *q, struct ember_completion *out,
		     unsigned int max, unsigned int min, int64_t timeout_ns)
{
	struct __kernel_timespec ts, *tsp = NULL;
	struct io_uring_cqe *cqe;
	int ret;

	if (!min || min > max)
		return ember_dev_fail(q->dev, -EINVAL,
			"ember_queue_wait: need 1 <= min (%u) <= max (%u)",
			min, max);
	if (min > q->inflight)
		return ember_dev_fail(q->dev, -EINVAL,
			"ember_queue_wait: waiting for %u completions with %u jobs in flight",
			min, q->inflight);
	if (q->pushed) {
		ret = ember_queue_submit(q);
		if (ret < 0)
			return ret;
	}
	if (io_uring_cq_ready(&q->ring) < min) {
		if (timeout_ns >= 0) {
			ts.tv_sec = timeout_ns / 1000000000;
			ts.tv_nsec = timeout_ns % 1000000000;
			tsp = &ts;
		}
		do {
			ret = io_uring_wait_cqes(&q->ring, &cqe, min, tsp, NULL);
		} while (ret == -EINTR && !tsp);
		if (ret < 0 && io_uring_cq_ready(&q->ring) < min)
			return ember_dev_fail(q->dev, ret,
				"waiting for %u of %u jobs in flight: %s%s", min,
				q->inflight, strerror(-ret),
				ret == -ETIME ? " (not done in time: wait again or longer)" : "");
	}
	return collect(q, out, max);
}

unsigned int ember_queue_inflight(const struct ember_queue *q)
{
	return q->inflight;
}

int ember_queue_ring_fd(const struct ember_queue *q)
{
	return q->ring.ring_fd;
}
