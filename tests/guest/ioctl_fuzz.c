// SPDX-License-Identifier: MIT
/*
 * ember-ioctl-fuzz: seeded random sequences of every Ember ioctl, the
 * io_uring command (with unknown cmd_op values too) and the DRM core calls
 * the driver enables (GEM close, PRIME export and import, syncobj create,
 * destroy and wait, mmap), with valid and mutated arguments, from several
 * processes at once, each sometimes closing and reopening its file.
 *
 * It passes when every process made its calls without the kernel killing
 * it, each process then runs a MATMUL on a fresh file and gets the right
 * result, and the kernel log gained no line from ember other than the
 * expected "MMU fault" warnings (a fuzzed job may name any VA). Kernel
 * WARN/BUG/oops lines fail the guest run as for every test. Prints the
 * calls made and how they ended, per call kind.
 *
 *   ember-ioctl-fuzz [--seed N] [--calls N] [--procs N]
 *
 * Defaults: seed 1, 100000 calls over 4 processes. Every wait it does has
 * a timeout of at most 2 ms; the run as a whole is bounded by the
 * caller's timeout (run-guest.sh).
 *
 * EMBER_FUZZ_FAULT_INJECT=1 sets /proc/self/make-it-fail in each process
 * for its calls (not for the final MATMUL), so a kernel with failslab /
 * fail_page_alloc set up with task-filter fails allocations made on its
 * behalf (scripts/lib/debug-guest-checks.sh). An open() that fails with
 * ENOMEM then is retried.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "drm/ember_accel.h"
#include "tg.h"

#define NODE		"/dev/accel/accel0"
#define MAX_BOS		16
#define MAX_SYNCOBJS	8
#define BO_MAX_SIZE	(256u << 10)
#define WAIT_MAX_NS	2000000ll	/* 2 ms */

enum kind {
	K_GET_PARAM, K_QUERY, K_BO_CREATE, K_BO_INFO, K_GEM_CLOSE, K_MMAP,
	K_SUBMIT, K_WAIT, K_URING, K_PRIME, K_SYNCOBJ, K_UNKNOWN, K_REOPEN,
	K_COUNT
};

static const char *const kind_names[K_COUNT] = {
	"get_param", "query", "bo_create", "bo_info", "gem_close", "mmap",
	"submit", "wait", "uring_cmd", "prime", "syncobj", "unknown_ioctl",
	"reopen",
};

/* Per kind: calls, successes, and the errnos seen (bit e for e < 128). */
struct tally {
	unsigned long calls[K_COUNT], ok[K_COUNT];
	unsigned long long errnos[K_COUNT][2];
};

struct bo {
	uint32_t handle;
	uint64_t size, va, mmap_offset;
};

struct fz {
	uint64_t rng;
	int fd;
	struct io_uring ring;
	bool ring_ok;
	struct bo bos[MAX_BOS];
	int nbos;
	uint32_t syncobjs[MAX_SYNCOBJS];
	int nsync;
	uint64_t last_seqno;
	void *no_access;	/* a PROT_NONE page: EFAULT for the kernel */
	struct tally *t;
};

static uint64_t rnd(struct fz *f)
{
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	return f->rng;
}

static uint32_t below(struct fz *f, uint32_t n)
{
	return n ? (uint32_t)(rnd(f) % n) : 0;
}

/* A value for a 64-bit field: small, edge, random, or @valid. */
static uint64_t val64(struct fz *f, uint64_t valid)
{
	static const uint64_t edge[] = {
		0, 1, 7, 8, 4095, 4096, 0x7fffffff, 0x80000000, 0xffffffff,
		1ull << 32, 1ull << 40, ~0ull, ~0ull - 4095, 1ull << 63,
	};

	switch (below(f, 8)) {
	case 0: return edge[below(f, sizeof(edge) / sizeof(edge[0]))];
	case 1: return rnd(f);
	case 2: return valid ^ (1ull << below(f, 64));
	case 3: return valid + below(f, 64) - 32;
	default: return valid;
	}
}

/* Flip a few random bits of @p (one mutation of a valid argument). */
static void mutate(struct fz *f, void *p, size_t len)
{
	uint8_t *b = p;

	for (int i = 1 + (int)below(f, 3); i > 0; i--)
		b[below(f, (uint32_t)len)] ^= (uint8_t)(1u << below(f, 8));
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : 0;
}

static void tally(struct fz *f, enum kind k, int ret)
{
	f->t->calls[k]++;
	if (ret >= 0)
		f->t->ok[k]++;
	else if (-ret < 128)
		f->t->errnos[k][-ret / 64] |= 1ull << (-ret % 64);
}

static struct bo *some_bo(struct fz *f)
{
	return f->nbos ? &f->bos[below(f, (uint32_t)f->nbos)] : NULL;
}

static uint32_t some_handle(struct fz *f)
{
	struct bo *b = some_bo(f);

	return b && below(f, 8) ? b->handle : (uint32_t)val64(f, 1);
}

static void forget_bo(struct fz *f, uint32_t handle)
{
	for (int i = 0; i < f->nbos; i++)
		if (f->bos[i].handle == handle) {
			f->bos[i] = f->bos[--f->nbos];
			return;
		}
}

/* EMBER_FUZZ_FAULT_INJECT=1: allocations for this process may fail. */
static bool fault_inject;

static int make_it_fail(int on)
{
	int fd = open("/proc/self/make-it-fail", O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, on ? "1" : "0", 1) == 1;

	if (fd >= 0)
		close(fd);
	if (!ok)
		fprintf(stderr, "ember-ioctl-fuzz: EMBER_FUZZ_FAULT_INJECT=1 needs /proc/self/make-it-fail (CONFIG_FAULT_INJECTION, the debug kernel): %s\n",
			strerror(errno));
	return ok ? 0 : -1;
}

static int open_node(struct fz *f)
{
	struct io_uring_params p;
	int tries = 0;

	do
		f->fd = open(NODE, O_RDWR | O_CLOEXEC);
	while (f->fd < 0 && errno == ENOMEM && fault_inject && ++tries < 1000);
	if (f->fd < 0)
		return -errno;
	f->nbos = f->nsync = 0;
	f->last_seqno = 0;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32;
	f->ring_ok = io_uring_queue_init_params(32, &f->ring, &p) == 0;
	return 0;
}

static void close_node(struct fz *f)
{
	if (f->ring_ok)
		io_uring_queue_exit(&f->ring);
	f->ring_ok = false;
	close(f->fd);
	f->fd = -1;
}

/* ---- one call of each kind ---------------------------------------------- */

static int do_get_param(struct fz *f)
{
	struct drm_ember_get_param a = { .param = below(f, 14) };

	if (!below(f, 4))
		mutate(f, &a, sizeof(a));
	return xioctl(f->fd, DRM_IOCTL_EMBER_GET_PARAM, &a);
}

static int do_query(struct fz *f)
{
	uint8_t buf[256];
	struct drm_ember_query a = {
		.type = below(f, 3),
		.size = (uint32_t)(below(f, 4) ? below(f, sizeof(buf) + 1) : val64(f, 64)),
		.ptr = (uintptr_t)buf,
	};

	/* The kernel writes through ptr: only ever our buffer, NULL, the
	 * inaccessible page or a kernel address (EFAULT). */
	if (a.size > sizeof(buf) || !below(f, 8))
		a.ptr = below(f, 3) == 0 ? 0 : below(f, 2) ? (uintptr_t)f->no_access
							    : 0xffff800000000000ull;
	else if (!below(f, 4))
		a.type = (uint32_t)val64(f, a.type);
	return xioctl(f->fd, DRM_IOCTL_EMBER_QUERY, &a);
}

static int do_bo_create(struct fz *f)
{
	struct drm_ember_bo_create a = { .size = 1 + below(f, BO_MAX_SIZE) };
	int ret;

	if (!below(f, 6)) {
		mutate(f, &a, sizeof(a));
		/*
		 * A BO's pages are pinned while it lives: sizes the driver
		 * would accept stay small, so that 4 processes x MAX_BOS
		 * buffers fit the guest (its OOM killer would end the run);
		 * above 4 GiB (E2BIG) and 0 (EINVAL) are still tried.
		 */
		if (a.size > BO_MAX_SIZE && a.size <= (4ull << 30))
			a.size &= BO_MAX_SIZE - 1;
	}
	ret = xioctl(f->fd, DRM_IOCTL_EMBER_BO_CREATE, &a);
	if (!ret) {
		if (f->nbos == MAX_BOS) {
			struct drm_gem_close c = { .handle = f->bos[0].handle };

			xioctl(f->fd, DRM_IOCTL_GEM_CLOSE, &c);
			f->bos[0] = f->bos[--f->nbos];
		}
		f->bos[f->nbos++] = (struct bo){ a.handle, (a.size + 4095) & ~4095ull,
						 a.dev_va, a.mmap_offset };
	}
	return ret;
}

static int do_bo_info(struct fz *f)
{
	struct drm_ember_bo_info a = { .handle = some_handle(f) };

	if (!below(f, 6))
		mutate(f, &a, 8);
	return xioctl(f->fd, DRM_IOCTL_EMBER_BO_INFO, &a);
}

static int do_gem_close(struct fz *f)
{
	struct drm_gem_close a = { .handle = some_handle(f) };
	int ret;

	if (!below(f, 6))
		mutate(f, &a, sizeof(a));
	ret = xioctl(f->fd, DRM_IOCTL_GEM_CLOSE, &a);
	if (!ret)
		forget_bo(f, a.handle);
	return ret;
}

static int do_mmap(struct fz *f)
{
	struct bo *b = some_bo(f);
	uint64_t off = b ? b->mmap_offset : 0, len = b ? b->size : 4096;
	bool valid = b && below(f, 4);
	void *p;

	if (!valid) {
		off = val64(f, off) & ~4095ull;
		len = 4096 * (1 + below(f, 64));
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd, (off_t)off);
	if (p == MAP_FAILED)
		return -errno;
	if (valid)	/* the BO's own pages: touch them */
		memset(p, (int)below(f, 256), below(f, (uint32_t)len) + 1);
	munmap(p, len);
	return 0;
}

/* A stream of up to 8 ops: NOPs, real ops over the file's BOs (may fault),
 * or garbage, written into a BO; fills @job. false: no BO to use. */
static bool make_job(struct fz *f, struct drm_ember_job *job,
		     struct drm_ember_bo_ref *refs, uint32_t *nrefs)
{
	struct bo *b = some_bo(f);
	uint64_t words[128];
	uint32_t n = 0;
	void *p;

	if (!b)
		return false;
	for (int ops = 1 + (int)below(f, 8); ops > 0 && n < 112; ops--) {
		struct ember_op_hdr h = { EMBER_OP_NOP, 8, 0 };

		switch (below(f, 4)) {
		case 0: {	/* a MATMUL over random BOs of the file */
			struct ember_op_matmul mm = { .hdr = { EMBER_OP_MATMUL, sizeof(mm), 0 } };
			struct bo *a = some_bo(f), *w = some_bo(f), *c = some_bo(f);

			mm.m = 1 + below(f, 4);
			mm.n = 1 + below(f, 64);
			mm.k = 32 * (1 + below(f, 4));
			mm.w_dtype = below(f, 2) ? EMBER_DTYPE_F32 : EMBER_DTYPE_Q8_0;
			mm.a_va = a->va;
			mm.w_va = w->va;
			mm.c_va = c->va + c->size / 2;
			mm.a_stride = mm.k * 4;
			mm.w_stride = mm.w_dtype == EMBER_DTYPE_F32 ? mm.k * 4 : mm.k / 32 * 34;
			mm.c_stride = mm.n * 4;
			if (below(f, 2))
				mutate(f, &mm, sizeof(mm));
			memcpy(&words[n], &mm, sizeof(mm));
			n += sizeof(mm) / 8;
			continue;
		}
		case 1:		/* garbage */
			words[n++] = rnd(f);
			continue;
		default:
			if (!below(f, 4))
				mutate(f, &h, sizeof(h));
			memcpy(&words[n++], &h, 8);
		}
	}
	if (n * 8 > b->size)
		n = (uint32_t)(b->size / 8);
	p = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, f->fd,
		 (off_t)b->mmap_offset);
	if (p == MAP_FAILED)
		return false;
	memcpy(p, words, n * 8);
	munmap(p, b->size);
	memset(job, 0, sizeof(*job));
	job->cmd_handle = b->handle;
	job->cmd_size = n * 8;
	*nrefs = below(f, 4);
	for (uint32_t i = 0; i < *nrefs; i++)
		refs[i] = (struct drm_ember_bo_ref){ some_handle(f), 1 + below(f, 3) };
	job->bo_count = *nrefs;
	job->bos = (uintptr_t)refs;
	if (!below(f, 5))
		mutate(f, job, sizeof(*job));
	if (job->bo_count > 8)	/* the refs array holds 8 */
		job->bos = below(f, 2) ? 0 : val64(f, 0) & ~7ull;
	return true;
}

static int do_submit(struct fz *f)
{
	struct drm_ember_job jobs[4];
	struct drm_ember_bo_ref refs[4][8];
	uint32_t nrefs, count = 1 + below(f, 4);
	struct drm_ember_submit a;
	int ret;

	for (uint32_t i = 0; i < count; i++)
		if (!make_job(f, &jobs[i], refs[i], &nrefs))
			return -ENODATA;	/* no BO yet: not a call */
	memset(&a, 0, sizeof(a));
	a.jobs = (uintptr_t)jobs;
	a.job_count = count;
	a.job_stride = sizeof(jobs[0]);
	if (f->nsync && !below(f, 4))
		a.out_syncobj = f->syncobjs[below(f, (uint32_t)f->nsync)];
	if (f->nsync && !below(f, 8))
		a.in_syncobj = f->syncobjs[below(f, (uint32_t)f->nsync)];
	if (!below(f, 6)) {
		mutate(f, &a, sizeof(a));
		if (a.job_count > count || a.job_stride != sizeof(jobs[0]))
			a.jobs = below(f, 2) ? 0 : val64(f, 0) & ~7ull;	/* never ours */
	}
	ret = xioctl(f->fd, DRM_IOCTL_EMBER_SUBMIT, &a);
	if (!ret)
		f->last_seqno = a.seqno + a.job_count - 1;
	return ret;
}

static int do_wait(struct fz *f)
{
	struct timespec now;
	struct drm_ember_wait a;

	clock_gettime(CLOCK_MONOTONIC, &now);
	memset(&a, 0, sizeof(a));
	a.seqno = below(f, 2) ? f->last_seqno : val64(f, f->last_seqno);
	a.timeout_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec +
		       below(f, WAIT_MAX_NS);
	if (!below(f, 6)) {
		uint64_t t = a.timeout_ns;

		mutate(f, &a, sizeof(a));
		if (a.timeout_ns > t)	/* never longer than WAIT_MAX_NS */
			a.timeout_ns = t;
	}
	return xioctl(f->fd, DRM_IOCTL_EMBER_WAIT, &a);
}

static int do_uring(struct fz *f)
{
	struct drm_ember_job job;
	struct drm_ember_bo_ref refs[8];
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { 0, WAIT_MAX_NS };
	uint32_t nrefs;
	int ret;

	if (!f->ring_ok)
		return -ENODATA;
	if (!make_job(f, &job, refs, &nrefs))
		return -ENODATA;
	sqe = io_uring_get_sqe(&f->ring);
	if (!sqe)
		return -ENODATA;
	memset(sqe, 0, 128);
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, f->fd, NULL, 0, 0);
	sqe->cmd_op = below(f, 4) ? DRM_EMBER_URING_CMD_SUBMIT : (uint32_t)val64(f, 2);
	if (!below(f, 8))
		sqe->flags |= IOSQE_ASYNC;
	memcpy((char *)sqe + offsetof(struct io_uring_sqe, addr3), &job, sizeof(job));
	if (!below(f, 8))
		mutate(f, (char *)sqe + offsetof(struct io_uring_sqe, addr3), 64);
	ret = io_uring_submit(&f->ring);
	if (ret < 0)
		return ret;
	/* reap what completed within the wait; the rest later or at close */
	ret = io_uring_wait_cqe_timeout(&f->ring, &cqe, &ts);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&f->ring, cqe);
	return ret < 0 ? ret : 0;
}

static int do_prime(struct fz *f)
{
	struct drm_prime_handle a = { .handle = some_handle(f), .flags = DRM_CLOEXEC };
	int ret;

	if (!below(f, 6))
		mutate(f, &a, sizeof(a));
	ret = xioctl(f->fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &a);
	if (ret)
		return ret;
	{
		struct drm_prime_handle b = { .fd = a.fd };

		/* back into this file: the same BO, or refused */
		ret = xioctl(f->fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &b);
		close(a.fd);
	}
	return ret;
}

static int do_syncobj(struct fz *f)
{
	switch (below(f, 3)) {
	case 0: {
		struct drm_syncobj_create a = { .flags = below(f, 4) ? 0 : (uint32_t)val64(f, 1) };
		int ret = xioctl(f->fd, DRM_IOCTL_SYNCOBJ_CREATE, &a);

		if (!ret && f->nsync < MAX_SYNCOBJS)
			f->syncobjs[f->nsync++] = a.handle;
		return ret;
	}
	case 1: {
		struct drm_syncobj_destroy a = {
			.handle = f->nsync && below(f, 4) ? f->syncobjs[below(f, (uint32_t)f->nsync)]
							  : (uint32_t)val64(f, 1),
		};
		int ret = xioctl(f->fd, DRM_IOCTL_SYNCOBJ_DESTROY, &a);

		for (int i = 0; !ret && i < f->nsync; i++)
			if (f->syncobjs[i] == a.handle) {
				f->syncobjs[i] = f->syncobjs[--f->nsync];
				break;
			}
		return ret;
	}
	default: {
		uint32_t h = f->nsync ? f->syncobjs[below(f, (uint32_t)f->nsync)] : 1;
		struct timespec now;
		struct drm_syncobj_wait a = { .handles = (uintptr_t)&h, .count_handles = 1 };

		clock_gettime(CLOCK_MONOTONIC, &now);
		a.timeout_nsec = (int64_t)now.tv_sec * 1000000000ll + now.tv_nsec +
				 below(f, WAIT_MAX_NS);
		a.flags = below(f, 2) ? DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT : 0;
		return xioctl(f->fd, DRM_IOCTL_SYNCOBJ_WAIT, &a);
	}
	}
}

/* An ioctl number in the driver's range (or just past it) it does not have. */
static int do_unknown(struct fz *f)
{
	uint8_t arg[64];
	unsigned long nr = DRM_COMMAND_BASE + 6 + below(f, 10);
	unsigned long known = DRM_COMMAND_BASE + below(f, 6);
	unsigned long req = below(f, 2) ? DRM_IOWR(nr, struct drm_ember_wait)
					: DRM_IOW(known, uint8_t[24]);
	uint64_t size;

	memset(arg, 0, sizeof(arg));
	mutate(f, arg, sizeof(arg));
	/*
	 * BO_CREATE with the wrong size and no copy-out: the new BO's handle
	 * never comes back, so it lives (pinned) until the file closes. Keep
	 * it as small as do_bo_create's: a few GiB of those made the guest's
	 * OOM killer end the run.
	 */
	memcpy(&size, arg, sizeof(size));
	if (req == DRM_IOW(DRM_COMMAND_BASE + DRM_EMBER_BO_CREATE, uint8_t[24]) &&
	    size > BO_MAX_SIZE && size <= (4ull << 30)) {
		size &= BO_MAX_SIZE - 1;
		memcpy(arg, &size, sizeof(size));
	}
	return xioctl(f->fd, req, arg);
}

static int one_call(struct fz *f, enum kind k)
{
	switch (k) {
	case K_GET_PARAM: return do_get_param(f);
	case K_QUERY: return do_query(f);
	case K_BO_CREATE: return do_bo_create(f);
	case K_BO_INFO: return do_bo_info(f);
	case K_GEM_CLOSE: return do_gem_close(f);
	case K_MMAP: return do_mmap(f);
	case K_SUBMIT: return do_submit(f);
	case K_WAIT: return do_wait(f);
	case K_URING: return do_uring(f);
	case K_PRIME: return do_prime(f);
	case K_SYNCOBJ: return do_syncobj(f);
	case K_UNKNOWN: return do_unknown(f);
	case K_REOPEN:
		close_node(f);
		return open_node(f);
	case K_COUNT: break;
	}
	return -EINVAL;
}

/* A process's share of the calls, then a checked MATMUL on a new file. */
static int child(uint64_t seed, unsigned long calls, struct tally *t)
{
	/* how often each kind is drawn */
	static const unsigned char weight[K_COUNT] = { 4, 4, 10, 4, 3, 4, 24, 8, 16, 3, 6, 3, 1 };
	struct fz f = { .rng = seed | 1, .t = t };
	struct ember_device *dev;
	struct tg_mm mm;
	char msg[256];
	size_t bad;
	double worst, max_abs;
	int total = 0, ret;

	for (int k = 0; k < K_COUNT; k++)
		total += weight[k];
	f.no_access = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f.no_access == MAP_FAILED) {
		perror("ember-ioctl-fuzz: mmap");
		return 1;
	}
	if ((ret = open_node(&f))) {
		fprintf(stderr, "ember-ioctl-fuzz: cannot open %s: %s\n", NODE, strerror(-ret));
		return 1;
	}
	if (fault_inject && make_it_fail(1))
		return 1;
	for (unsigned long i = 0; i < calls; i++) {
		int r = (int)below(&f, (uint32_t)total), k = 0;

		while (r >= weight[k])
			r -= weight[k++];
		ret = one_call(&f, (enum kind)k);
		if (ret == -ENODATA)	/* nothing to call it on yet */
			ret = one_call(&f, K_BO_CREATE), k = K_BO_CREATE;
		tally(&f, (enum kind)k, ret);
		if (ret == -EBADFD && below(&f, 2)) {	/* a faulted context */
			close_node(&f);
			if ((ret = open_node(&f)))
				break;
		}
		if (f.fd < 0)
			break;
	}
	if (f.fd >= 0)
		close_node(&f);
	if (fault_inject && make_it_fail(0))
		return 1;

	/* the device still computes, for this process, right */
	if ((ret = tg_open(&dev, msg, sizeof(msg)))) {
		fprintf(stderr, "ember-ioctl-fuzz: after the calls: %s\n", msg);
		return 1;
	}
	ret = tg_mm_init(dev, &mm, 3, 40, 96, EMBER_DTYPE_Q8_0, EMBER_MATMUL_BIAS, 0, 0, seed);
	if (!ret)
		ret = tg_mm_run(dev, &mm);
	bad = ret ? 0 : tg_mm_check(&mm, &worst, &max_abs, msg, sizeof(msg));
	if (ret)
		fprintf(stderr, "ember-ioctl-fuzz: checked MATMUL after the calls: %d (%s)\n", ret,
			ember_errmsg(dev));
	else if (bad)
		fprintf(stderr, "ember-ioctl-fuzz: checked MATMUL after the calls: %zu wrong (%s)\n",
			bad, msg);
	tg_mm_fini(&mm);
	ember_device_close(dev);
	return ret || bad ? 1 : 0;
}

/*
 * With fault injection the allocator itself reports some failures (a
 * kvmalloc that falls back to vmalloc and fails prints "vmalloc error" and
 * a stack dump through ember's functions). Such dumps are the allocator's
 * output, not the driver's: skip their header, "CPU: ... Comm:" and frame
 * lines. A WARN or a checker report still fails the run that sets this up
 * (scripts/lib/debug-guest-checks.sh reads the whole log).
 */
static bool alloc_failure_dump_line(const char *msg)
{
	unsigned long off, size;
	char sym[128];

	if (strstr(msg, "vmalloc error:") || strstr(msg, "page allocation failure:") ||
	    (!strncmp(msg, "CPU: ", 5) && strstr(msg, " Comm: ")))
		return true;
	/* " ember_open+0x2e7/0x490 [ember]", " ? ember_probe+0x680/0x680 [ember]" */
	if (!strncmp(msg, " ? ", 3))
		msg += 2;
	return sscanf(msg, " %127[A-Za-z0-9_.]+0x%lx/0x%lx", sym, &off, &size) == 3;
}

/* New kernel log lines from ember that are not expected; -1 if unreadable. */
static int kmsg_open_at_end(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

static int kmsg_unexpected(int fd)
{
	char rec[2048];
	int bad = 0, faults = 0, dumps = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		const char *msg;

		if (n <= 0)
			continue;	/* EPIPE: records were overwritten */
		rec[n] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		if (!strstr(msg, "ember"))
			continue;
		/* what a fuzzed job may cause, and its rate limiting */
		if (strstr(msg, "MMU fault: AS") ||
		    (strstr(msg, "ember_irq_error: ") && strstr(msg, "callbacks suppressed"))) {
			faults++;
			continue;
		}
		if (fault_inject && alloc_failure_dump_line(msg)) {
			dumps++;
			continue;
		}
		if (bad++ < 10)
			fprintf(stderr, "ember-ioctl-fuzz: unexpected kernel log line: %s", msg);
	}
	printf("# kernel log: %d MMU fault warnings (expected), %d lines of allocation failure dumps (fault injection), %d other ember lines\n",
	       faults, dumps, bad);
	close(fd);
	return bad;
}

int main(int argc, char **argv)
{
	unsigned long calls = 100000, seed = 1;
	int procs = 4, failed = 0, kfd, bad;
	struct tally *t;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--seed"))
			seed = strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--calls"))
			calls = strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--procs"))
			procs = atoi(argv[i + 1]);
		else
			break;
	}
	if (argc % 2 == 0 || procs < 1 || procs > 64 || !calls) {
		fprintf(stderr, "usage: ember-ioctl-fuzz [--seed N] [--calls N] [--procs 1..64]\n");
		return 2;
	}
	t = mmap(NULL, sizeof(*t) * (size_t)procs, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED) {
		perror("ember-ioctl-fuzz: mmap");
		return 1;
	}
	memset(t, 0, sizeof(*t) * (size_t)procs);
	fault_inject = getenv("EMBER_FUZZ_FAULT_INJECT") &&
		       !strcmp(getenv("EMBER_FUZZ_FAULT_INJECT"), "1");
	kfd = kmsg_open_at_end();
	printf("1..1\n# ember-ioctl-fuzz: seed %lu, %lu calls over %d processes%s\n", seed, calls,
	       procs, fault_inject ? ", allocations may fail" : "");
	fflush(stdout);
	for (int p = 0; p < procs; p++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(child(seed * 1000003ull + (uint64_t)p * 7919 + 1,
				    calls / (unsigned long)procs + (p < (int)(calls % procs)), &t[p]));
		if (pid < 0) {
			perror("ember-ioctl-fuzz: fork");
			return 1;
		}
	}
	for (int p = 0; p < procs; p++) {
		int st;

		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			failed++;
			fprintf(stderr, "ember-ioctl-fuzz: a process %s %d\n",
				WIFSIGNALED(st) ? "was killed by signal" : "exited",
				WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		}
	}
	{
		unsigned long total = 0;

		printf("# %-14s %8s %8s  errors seen\n", "call", "made", "ok");
		for (int k = 0; k < K_COUNT; k++) {
			unsigned long c = 0, ok = 0;
			unsigned long long e[2] = { 0, 0 };

			for (int p = 0; p < procs; p++) {
				c += t[p].calls[k];
				ok += t[p].ok[k];
				e[0] |= t[p].errnos[k][0];
				e[1] |= t[p].errnos[k][1];
			}
			total += c;
			printf("# %-14s %8lu %8lu ", kind_names[k], c, ok);
			for (int b = 1; b < 128; b++)
				if (e[b / 64] & (1ull << (b % 64)))
					printf(" %s", strerrorname_np(b) ? strerrorname_np(b) : "?");
			printf("\n");
		}
		printf("# %lu calls made\n", total);
		if (total < calls) {
			fprintf(stderr, "ember-ioctl-fuzz: only %lu of %lu calls made\n", total, calls);
			failed++;
		}
	}
	bad = kmsg_unexpected(kfd);
	if (bad) {
		fprintf(stderr, "ember-ioctl-fuzz: %s\n", bad < 0 ? "cannot read /dev/kmsg" :
			"the kernel log gained unexpected ember lines (above)");
		failed++;
	}
	printf("%s ember-ioctl-fuzz\n", failed ? "not ok 1 -" : "ok 1 -");
	return failed ? 1 : 0;
}
