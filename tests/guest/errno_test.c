// SPDX-License-Identifier: MIT
/*
 * Ember errnos that need a situation rather than a bad argument (the bad
 * arguments are in errors_test.c): a WAIT for a job so old its status is
 * gone (ENOENT), a file with its 1024 jobs in flight stuck behind another
 * file's long work (SUBMIT EINTR and EAGAIN, WAIT EINTR), an io_uring
 * command whose submitting task exits (ECANCELED), a BO beyond the memory
 * cgroup's limit (ENOMEM), a full VA range (ENOSPC, with the module's
 * va_size_mb), and a device whose recovery failed (ENODEV; only
 * with EMBER_EXPECT_DEAD=1, on a QEMU device with inject-dead-job=N, see
 * scripts/test.sh; the other cases skip there).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <liburing.h>
#include <xf86drm.h>

#include "kselftest_harness.h"
#include "tg.h"

#define SEC 1000000000ll

static bool dead_mode(void)
{
	const char *s = getenv("EMBER_EXPECT_DEAD");

	return s && *s == '1';
}

#define SKIP_IF_DEAD_MODE() do { \
	if (dead_mode()) \
		SKIP(return, "EMBER_EXPECT_DEAD=1: only the dead-device case runs"); \
} while (0)

FIXTURE(situ) {
	struct ember_device *dev;
	struct ember_cmdbuf *cb;
	int fd;
	struct ember_job nop;
};

/* The file and a one-NOP job; the cases call it (the dead-device mode skips
 * the others before the device is touched). */
static int situ_open(struct _test_data_situ *self, char *msg, size_t len)
{
	int ret = tg_open(&self->dev, msg, len);

	if (ret)
		return ret;
	self->fd = ember_device_fd(self->dev);
	ret = ember_cmdbuf_create(self->dev, 4096, &self->cb);
	ember_cmdbuf_begin(self->cb);
	if (!ret)
		ret = ember_cmdbuf_nop(self->cb);
	if (!ret)
		ret = ember_cmdbuf_end(self->cb, &self->nop);
	if (ret)
		snprintf(msg, len, "%s", ember_errmsg(self->dev));
	return ret;
}

FIXTURE_SETUP(situ)
{
	char msg[EMBER_ERRMSG_SIZE];

	memset(self, 0, sizeof(*self));
	self->fd = -1;
	if (dead_mode())
		return;
	ASSERT_EQ(0, situ_open(self, msg, sizeof(msg))) TH_LOG("%s", msg);
}

FIXTURE_TEARDOWN(situ)
{
	ember_cmdbuf_free(self->cb);
	ember_device_close(self->dev);
}

static struct drm_ember_job uapi_job(const struct ember_job *j)
{
	return (struct drm_ember_job){
		.cmd_handle = j->cmd_handle, .cmd_offset = j->cmd_offset,
		.cmd_size = j->cmd_size, .bo_count = j->bo_count,
		.bos = j->bo_count ? (uintptr_t)j->bos : 0,
	};
}

/* SUBMIT @count copies of @j with a raw ioctl (no restart on EINTR): 0 or errno. */
static int submit_raw(int fd, const struct ember_job *j, uint32_t count,
		      uint64_t *seqno)
{
	struct drm_ember_job jobs[256];
	struct drm_ember_submit s = {
		.jobs = (uintptr_t)jobs, .job_count = count,
		.job_stride = sizeof(jobs[0]),
	};
	uint32_t i;

	for (i = 0; i < count && i < 256; i++)
		jobs[i] = uapi_job(j);
	if (ioctl(fd, DRM_IOCTL_EMBER_SUBMIT, &s))
		return errno;
	if (seqno)
		*seqno = s.seqno;
	return 0;
}

/* WAIT with a raw ioctl: 0 (status in *st) or errno. */
static int wait_raw(int fd, uint64_t seqno, int64_t abs_ns, uint32_t *st)
{
	struct drm_ember_wait w = { .seqno = seqno, .timeout_ns = abs_ns };

	if (ioctl(fd, DRM_IOCTL_EMBER_WAIT, &w))
		return errno;
	*st = w.status;
	return 0;
}

static int64_t abs_ns(double secs_from_now)
{
	return (int64_t)((tg_now() + secs_from_now) * 1e9);
}

/* ---- WAIT ENOENT -------------------------------------------------------- */

/* A file keeps the status of its last 4096 jobs: job 1 of 4352 is gone. */
TEST_F_TIMEOUT(situ, wait_forgotten_enoent, 120)
{
	uint64_t seqno = 0, last = 0;
	uint32_t st = 99;
	int i;

	SKIP_IF_DEAD_MODE();
	for (i = 0; i < 17; i++) {
		ASSERT_EQ(0, submit_raw(self->fd, &self->nop, 256, &seqno));
		last = seqno + 255;
		/* stay below the 1024 jobs a file may have in flight */
		ASSERT_EQ(0, wait_raw(self->fd, last, abs_ns(60), &st));
		ASSERT_EQ(EMBER_JOB_OK, st);
	}
	EXPECT_EQ(17 * 256, last);
	EXPECT_EQ(ENOENT, wait_raw(self->fd, 1, abs_ns(10), &st));
	EXPECT_EQ(ENOENT, wait_raw(self->fd, last - 4096, abs_ns(10), &st));
	/* the newest 4096 are kept */
	EXPECT_EQ(0, wait_raw(self->fd, last - 4095, abs_ns(10), &st));
	EXPECT_EQ(EMBER_JOB_OK, st);
	EXPECT_EQ(EINVAL, wait_raw(self->fd, last + 1, abs_ns(10), &st));
	DEVICE_STILL_WORKS(self->dev);
}

/* ---- a file stuck behind another file's long work ------------------------ */

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* SIGALRM in @ms, without SA_RESTART so a sleeping ioctl returns EINTR. */
static void alarm_in(unsigned int ms)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_value = { ms / 1000, (ms % 1000) * 1000 } };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
}

static unsigned int job_timeout_ms(void)
{
	unsigned int ms = 5000;
	FILE *f = fopen("/sys/module/ember/parameters/job_timeout_ms", "r");

	if (f) {
		if (fscanf(f, "%u", &ms) != 1)
			ms = 5000;
		fclose(f);
	}
	return ms < 100 ? 100 : ms;
}

/*
 * Long work on @dev: jobs of @ops 64x1024x1024 MATMULs each, ~0.3 s per job
 * (calibrated here, far below the job timeout), for ~@secs in all. Returns
 * the number of jobs queued, or -errno.
 */
static int long_work(struct ember_device *dev, struct tg_mm *p,
		     struct ember_cmdbuf **cbp, double secs, uint64_t *last,
		     double *job_secs)
{
	struct ember_job job;
	uint32_t ops = 64, i, jobs;
	uint64_t seqno;
	double t0, per_op;
	int ret;

	ret = tg_mm_init(dev, p, 64, 1024, 1024, EMBER_DTYPE_F32, 0, 0, 0, 5);
	if (!ret)
		ret = ember_cmdbuf_create(dev, 2048 * 128, cbp);
	for (int round = 0; round < 2 && !ret; round++) {
		ember_cmdbuf_begin(*cbp);
		for (i = 0; i < ops && !ret; i++)
			ret = tg_mm_add(*cbp, p);
		if (!ret)
			ret = ember_cmdbuf_end(*cbp, &job);
		if (ret)
			break;
		if (round == 1)
			break;
		t0 = tg_now();
		ret = ember_submit(dev, &job, 1, &seqno);
		if (!ret)
			ret = ember_wait(dev, seqno, 30 * SEC);
		if (ret)
			return ret < 0 ? ret : -EIO;
		per_op = (tg_now() - t0) / ops;
		ops = (uint32_t)(0.3 / per_op);
		ops = ops < 1 ? 1 : ops > 2048 ? 2048 : ops;
		ember_cmdbuf_reset(*cbp);
	}
	if (ret)
		return ret;
	*job_secs = ops * per_op;
	jobs = (uint32_t)(secs / *job_secs) + 1;
	if (jobs > 250)
		jobs = 250;
	for (i = 0; i < jobs && !ret; i++)
		ret = ember_submit(dev, &job, 1, last);
	return ret ? ret : (int)jobs;
}

/* One uring SUBMIT of @j on @ring (SQE128 | CQE32) for @fd; 0 or -errno. */
static int uring_push(struct io_uring *ring, int fd, const struct ember_job *j,
		      uint64_t user_data)
{
	struct drm_ember_job dj = uapi_job(j);
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 128);
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = DRM_EMBER_URING_CMD_SUBMIT;
	memcpy(sqe->cmd, &dj, sizeof(dj));
	sqe->user_data = user_data;
	return io_uring_submit(ring) == 1 ? 0 : -EIO;
}

/*
 * Another file keeps the device busy for ~40 s in 0.3 s jobs. Meanwhile
 * this file:
 *  - submits io_uring jobs from child processes that exec() or exit():
 *    their CQEs are -ECANCELED with the seqno (the jobs were queued and
 *    still run), at once after an exec(), when the job ends after an exit();
 *  - fills its 1024 jobs in flight: a WAIT and a SUBMIT interrupted by a
 *    signal return EINTR; a SUBMIT left alone returns EAGAIN after 4 job
 *    timeouts without a job of the file finishing.
 */
TEST_F_TIMEOUT(situ, stuck_file_eintr_eagain_ecanceled, 240)
{
	struct ember_device *busy;
	struct ember_cmdbuf *bcb = NULL;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { .tv_sec = 10 };
	char msg[EMBER_ERRMSG_SIZE];
	uint64_t busy_last = 0, seqno, cancelled_seq, last_nop = 0;
	double job_secs = 0, t0, t1, t_start;
	unsigned int tmo = job_timeout_ms();
	int n, i, status;
	uint32_t st = 0;
	struct tg_mm p;
	pid_t pid;

	SKIP_IF_DEAD_MODE();
	ASSERT_EQ(0, tg_open(&busy, msg, sizeof(msg))) TH_LOG("%s", msg);
	/* 4 job timeouts of waiting, and margin for the rest */
	t_start = tg_now();
	n = long_work(busy, &p, &bcb, 4 * tmo / 1000.0 + 25, &busy_last, &job_secs);
	ASSERT_LT(0, n) TH_LOG("long work: %d: %s", n, ember_errmsg(busy));
	TH_LOG("the other file: %d jobs of %.3f s (job timeout %u ms)", n,
	       job_secs, tmo);

	/*
	 * ECANCELED: the submitting task goes away while its job waits its
	 * turn. An exec() cancels the task's io_uring requests at once; an
	 * exit() leaves them, and the CQE comes when the job ends.
	 */
	ASSERT_EQ(0, io_uring_queue_init(8, &ring,
					 IORING_SETUP_SQE128 | IORING_SETUP_CQE32));
	for (i = 0; i < 2; i++) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			if (uring_push(&ring, self->fd, &self->nop, 77 + i))
				_exit(1);
			if (i == 0)
				execl("/bin/true", "true", (char *)NULL);
			_exit(i == 0 ? 2 : 0);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
			TH_LOG("child %d: status 0x%x (1: submit failed, 2: no /bin/true)",
			       i, status);
		/* the child moved the shared SQ tail: catch our copy up */
		ring.sq.sqe_head = ring.sq.sqe_tail = *ring.sq.ktail;
	}
	ASSERT_EQ(0, io_uring_wait_cqe_timeout(&ring, &cqe, &ts))
		TH_LOG("no CQE after the submitting task exec()ed");
	EXPECT_EQ(77, cqe->user_data);
	EXPECT_EQ(-ECANCELED, cqe->res) TH_LOG("res %d", cqe->res);
	cancelled_seq = cqe->big_cqe[0];
	EXPECT_NE(0, cancelled_seq);
	io_uring_cqe_seen(&ring, cqe);
	/* both jobs are still queued behind the other file's work */
	EXPECT_EQ(ETIME, wait_raw(self->fd, cancelled_seq, 0, &st));
	EXPECT_EQ(ETIME, wait_raw(self->fd, cancelled_seq + 1, 0, &st));
	EXPECT_EQ(-EAGAIN, io_uring_peek_cqe(&ring, &cqe))
		TH_LOG("a CQE for the exit()ed task's job before the job ran");

	/* fill this file's 1024 jobs in flight (two are the children's) */
	for (i = 0; i < 1022; i += n) {
		n = 1022 - i < 256 ? 1022 - i : 256;
		ASSERT_EQ(0, submit_raw(self->fd, &self->nop, n, &seqno));
		last_nop = seqno + n - 1;
	}
	EXPECT_EQ(ETIME, wait_raw(self->fd, last_nop, 0, &st));

	/* WAIT and SUBMIT interrupted by a signal */
	alarms = 0;
	alarm_in(200);
	t0 = tg_now();
	EXPECT_EQ(EINTR, wait_raw(self->fd, last_nop, abs_ns(60), &st));
	t1 = tg_now();
	EXPECT_EQ(1, alarms);
	EXPECT_GT(2.0, t1 - t0) TH_LOG("WAIT took %.3f s", t1 - t0);
	alarm_in(200);
	t0 = tg_now();
	EXPECT_EQ(EINTR, submit_raw(self->fd, &self->nop, 1, &seqno));
	t1 = tg_now();
	EXPECT_EQ(2, alarms);
	EXPECT_GT(2.0, t1 - t0) TH_LOG("SUBMIT took %.3f s", t1 - t0);
	TH_LOG("EINTR after %.3f s", t1 - t0);

	/* EAGAIN: no room and no progress for 4 job timeouts */
	t0 = tg_now();
	EXPECT_EQ(EAGAIN, submit_raw(self->fd, &self->nop, 1, &seqno));
	t1 = tg_now();
	TH_LOG("EAGAIN after %.3f s (4 job timeouts: %.3f s; %.1f s since the long work began)",
	       t1 - t0, 4 * tmo / 1000.0, t1 - t_start);
	EXPECT_LE(4 * tmo / 1000.0 - 0.5, t1 - t0);
	EXPECT_GE(4 * tmo / 1000.0 + 5, t1 - t0);
	/* the work was still going: nothing of this file had finished */
	EXPECT_EQ(ETIME, wait_raw(self->fd, cancelled_seq, 0, &st));

	/* everything still completes, in order */
	EXPECT_EQ(0, wait_raw(ember_device_fd(busy), busy_last,
			      abs_ns(180), &st));
	EXPECT_EQ(EMBER_JOB_OK, st);
	EXPECT_EQ(0, wait_raw(self->fd, cancelled_seq, abs_ns(60), &st));
	EXPECT_EQ(EMBER_JOB_OK, st);
	EXPECT_EQ(0, wait_raw(self->fd, last_nop, abs_ns(60), &st));
	EXPECT_EQ(EMBER_JOB_OK, st);
	/* the exit()ed task's job ended: its CQE says ECANCELED */
	ts.tv_sec = 30;
	ASSERT_EQ(0, io_uring_wait_cqe_timeout(&ring, &cqe, &ts))
		TH_LOG("no CQE for the exit()ed task's job after it ran");
	EXPECT_EQ(78, cqe->user_data);
	EXPECT_EQ(-ECANCELED, cqe->res) TH_LOG("res %d", cqe->res);
	EXPECT_EQ(cancelled_seq + 1, cqe->big_cqe[0]);
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	ember_cmdbuf_free(bcb);
	tg_mm_fini(&p);
	ember_device_close(busy);
	DEVICE_STILL_WORKS(self->dev);
}

/*
 * Not a check of its own: ember-unload-busy-test.sh runs this with
 * EMBER_HOLD_QUEUED=1 to have a process with jobs queued (~30 s of work in
 * the ring, 1000 NOPs behind it on a second file, 64 io_uring commands on a
 * third) when it tries rmmod and kill -9's the process. The pid goes to
 * EMBER_HOLD_PIDFILE once everything is queued.
 */
TEST_F_TIMEOUT(situ, hold_queued_for_unload, 600)
{
	const char *pidfile = getenv("EMBER_HOLD_PIDFILE");
	struct ember_device *busy, *third;
	struct ember_cmdbuf *bcb = NULL;
	struct ember_queue *q;
	char msg[EMBER_ERRMSG_SIZE];
	uint64_t busy_last = 0, seqno;
	double job_secs = 0;
	struct tg_mm p;
	uint32_t st;
	FILE *f;
	int n, i;

	SKIP_IF_DEAD_MODE();
	if (!getenv("EMBER_HOLD_QUEUED") || !pidfile)
		SKIP(return, "needs EMBER_HOLD_QUEUED=1 and EMBER_HOLD_PIDFILE (ember-unload-busy-test.sh)");
	ASSERT_EQ(0, tg_open(&busy, msg, sizeof(msg))) TH_LOG("%s", msg);
	ASSERT_EQ(0, tg_open(&third, msg, sizeof(msg))) TH_LOG("%s", msg);
	n = long_work(busy, &p, &bcb, 30, &busy_last, &job_secs);
	ASSERT_LT(0, n) TH_LOG("long work: %d: %s", n, ember_errmsg(busy));
	for (i = 0; i < 1000; i += 250)
		ASSERT_EQ(0, submit_raw(self->fd, &self->nop, 250, &seqno));
	{
		struct ember_cmdbuf *tcb;
		struct ember_job tnop;

		ASSERT_EQ(0, ember_cmdbuf_create(third, 4096, &tcb));
		ember_cmdbuf_begin(tcb);
		ASSERT_EQ(0, ember_cmdbuf_nop(tcb));
		ASSERT_EQ(0, ember_cmdbuf_end(tcb, &tnop));
		ASSERT_EQ(0, ember_queue_create(third, 64, &q));
		for (i = 0; i < 64; i++)
			ASSERT_EQ(0, ember_queue_push(q, &tnop, i));
		ASSERT_EQ(64, ember_queue_submit(q));
	}
	/* the NOPs wait behind the long work */
	ASSERT_EQ(ETIME, wait_raw(self->fd, seqno, 0, &st));
	f = fopen(pidfile, "w");
	ASSERT_NE(NULL, f);
	fprintf(f, "%d\n", getpid());
	fclose(f);
	TH_LOG("holding: %d jobs of %.3f s, 1000 NOPs and 64 io_uring jobs queued",
	       n, job_secs);
	for (;;)
		pause();
}

/* ---- ENOMEM ------------------------------------------------------------- */

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

#define CG "/sys/fs/cgroup"
#define CG_TEST CG "/ember-errno"

/*
 * A BO's pages are charged to the creator's memory cgroup: 64 MiB in a
 * cgroup limited to 16 MiB fails with ENOMEM (the test process cannot be
 * OOM-killed: oom_score_adj -1000), and the device keeps working.
 */
TEST_F_TIMEOUT(situ, bo_create_enomem_in_memcg, 60)
{
	struct drm_ember_bo_create bc = { .size = 64 << 20 };
	int status, ret;
	pid_t pid;

	SKIP_IF_DEAD_MODE();
	if (access(CG "/cgroup.controllers", F_OK) &&
	    mount("cgroup2", CG, "cgroup2", 0, NULL))
		SKIP(return, "no cgroup2 at " CG " (%s)", strerror(errno));
	ret = write_file(CG "/cgroup.subtree_control", "+memory");
	if (ret)
		SKIP(return, "cannot enable the memory controller: %s", strerror(-ret));
	if (mkdir(CG_TEST, 0755) && errno != EEXIST)
		SKIP(return, "mkdir " CG_TEST ": %s", strerror(errno));
	ASSERT_EQ(0, write_file(CG_TEST "/memory.max", "16M"));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char me[32];

		snprintf(me, sizeof(me), "%d", getpid());
		if (write_file("/proc/self/oom_score_adj", "-1000") ||
		    write_file(CG_TEST "/cgroup.procs", me))
			_exit(100);
		if (ioctl(self->fd, DRM_IOCTL_EMBER_BO_CREATE, &bc) == 0)
			_exit(0);
		_exit(errno < 100 ? errno : 101);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	rmdir(CG_TEST);
	ASSERT_TRUE(WIFEXITED(status)) TH_LOG("the child died: status 0x%x", status);
	ASSERT_NE(100, WEXITSTATUS(status)) TH_LOG("could not join " CG_TEST);
	EXPECT_EQ(ENOMEM, WEXITSTATUS(status))
		TH_LOG("BO_CREATE of 64 MiB in a 16 MiB memcg: errno %d",
		       WEXITSTATUS(status));
	/* the same BO outside the cgroup is fine */
	ASSERT_EQ(0, ioctl(self->fd, DRM_IOCTL_EMBER_BO_CREATE, &bc))
		TH_LOG("64 MiB BO outside the memcg: %s", strerror(errno));
	{
		struct drm_gem_close gc = { .handle = bc.handle };

		EXPECT_EQ(0, ioctl(self->fd, DRM_IOCTL_GEM_CLOSE, &gc));
	}
	DEVICE_STILL_WORKS(self->dev);
}

/* ---- ENOSPC ------------------------------------------------------------- */

/*
 * A file's VA range is 511 GiB, more than a guest can pin; the module
 * parameter va_size_mb shrinks it for files opened while it is set. At
 * 64 MiB the range holds 63 BOs of 1 MiB (each with a 4 KiB guard page):
 * the 64th gets ENOSPC, and a freed BO's range is used again.
 */
TEST_F_TIMEOUT(situ, bo_create_enospc, 60)
{
	const char *param = "/sys/module/ember/parameters/va_size_mb";
	struct drm_ember_get_param gp = { .param = DRM_EMBER_PARAM_VA_SIZE };
	struct drm_ember_bo_create bc;
	struct drm_gem_close gc = { 0 };
	struct ember_device *small;
	char msg[EMBER_ERRMSG_SIZE];
	int fd, n = 0, err = 0, ret;

	SKIP_IF_DEAD_MODE();
	if (access(param, W_OK))
		SKIP(return, "no writable %s: an ember.ko without va_size_mb", param);
	ASSERT_EQ(0, write_file(param, "64"));
	ret = tg_open(&small, msg, sizeof(msg));
	/* only files opened while it is set get the small range */
	ASSERT_EQ(0, write_file(param, "0"));
	ASSERT_EQ(0, ret) TH_LOG("%s", msg);
	fd = ember_device_fd(small);
	ASSERT_EQ(0, ioctl(fd, DRM_IOCTL_EMBER_GET_PARAM, &gp));
	EXPECT_EQ(64ull << 20, gp.value);
	while (n < 80) {
		bc = (struct drm_ember_bo_create){ .size = 1 << 20 };
		if (ioctl(fd, DRM_IOCTL_EMBER_BO_CREATE, &bc)) {
			err = errno;
			break;
		}
		gc.handle = bc.handle;	/* the last one */
		n++;
	}
	EXPECT_EQ(63, n);
	EXPECT_EQ(ENOSPC, err) TH_LOG("BO %d: errno %d (%s)", n + 1, err, strerror(err));
	ASSERT_EQ(0, ioctl(fd, DRM_IOCTL_GEM_CLOSE, &gc));
	bc = (struct drm_ember_bo_create){ .size = 1 << 20 };
	EXPECT_EQ(0, ioctl(fd, DRM_IOCTL_EMBER_BO_CREATE, &bc))
		TH_LOG("after freeing one: %s", strerror(errno));
	ember_device_close(small);
	/* the file opened before has the whole range */
	gp.value = 0;
	ASSERT_EQ(0, ioctl(self->fd, DRM_IOCTL_EMBER_GET_PARAM, &gp));
	EXPECT_EQ((1ull << 39) - (1ull << 30), gp.value);
	DEVICE_STILL_WORKS(self->dev);
}

/* ---- ENODEV ------------------------------------------------------------- */

/*
 * With inject-dead-job=N, job N hangs, the driver's reset fails and the
 * device stays down: that job ends TIMEOUT, and every later SUBMIT (ioctl
 * and io_uring) fails with ENODEV while the file's other calls still work.
 */
TEST_F_TIMEOUT(situ, dead_device_enodev, 120)
{
	struct ember_queue *q;
	struct ember_completion c;
	uint64_t seqno = 0, dead_seq;
	uint32_t st = 0;
	int i, ret = 0;

	char msg[EMBER_ERRMSG_SIZE];

	if (!dead_mode())
		SKIP(return, "needs EMBER_EXPECT_DEAD=1 and -global ember-npu.inject-dead-job=N");
	ASSERT_EQ(0, situ_open(self, msg, sizeof(msg))) TH_LOG("%s", msg);
	for (i = 0; i < 64; i++) {
		ret = submit_raw(self->fd, &self->nop, 1, &seqno);
		if (ret)
			break;
		ASSERT_EQ(0, wait_raw(self->fd, seqno, abs_ns(60), &st));
		if (st != EMBER_JOB_OK)
			break;
	}
	TH_LOG("job %d ended %u (%s), submit errno %d", i + 1, st,
	       ember_status_name(st), ret);
	ASSERT_LT(i, 64) TH_LOG("64 jobs ran fine: is inject-dead-job set?");
	EXPECT_EQ(EMBER_JOB_TIMEOUT, st);
	dead_seq = seqno;
	/* the device is down now */
	EXPECT_EQ(ENODEV, submit_raw(self->fd, &self->nop, 1, &seqno));
	EXPECT_EQ(-ENODEV, ember_submit(self->dev, &self->nop, 1, &seqno));
	TH_LOG("libember: %s", ember_errmsg(self->dev));
	ASSERT_EQ(0, ember_queue_create(self->dev, 4, &q));
	ASSERT_EQ(0, ember_queue_push(q, &self->nop, 9));
	ASSERT_EQ(1, ember_queue_submit(q));
	ASSERT_EQ(1, ember_queue_wait(q, &c, 1, 1, 10 * SEC));
	EXPECT_EQ(-ENODEV, c.status);
	EXPECT_EQ(9, c.user_data);
	ember_queue_destroy(q);
	/* opening the node fails too */
	{
		struct ember_device *fresh = NULL;
		int fd = open(ember_device_path(self->dev), O_RDWR);

		EXPECT_EQ(-1, fd);
		EXPECT_EQ(ENODEV, errno);
		if (fd >= 0)
			close(fd);
		EXPECT_EQ(-ENODEV, tg_open(&fresh, msg, sizeof(msg)));
		TH_LOG("libember: %s", msg);
		ember_device_close(fresh);
	}
	/* the dead job's status is still kept */
	EXPECT_EQ(0, wait_raw(self->fd, dead_seq, abs_ns(10), &st));
	EXPECT_EQ(EMBER_JOB_TIMEOUT, st);
}

TEST_HARNESS_MAIN
