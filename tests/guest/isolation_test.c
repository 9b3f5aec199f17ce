// SPDX-License-Identifier: MIT
/*
 * Isolation between processes. Process A holds a buffer of known bytes.
 * Process B (forked, with its own files) names A's device address for
 * reading and for writing, maps A's mmap offset on its own file, and uses
 * A's handle number in BO_INFO, PRIME export and GEM close. Each attempt
 * must fail as the uapi says: an MMU_FAULT job status (then EBADFD for
 * that file), EACCES from mmap, ENOENT or EINVAL from the ioctls. A's
 * buffers are then the same byte for byte and A's jobs still run right.
 * And 64 processes at once share the device's 16 address-space slots.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xf86drm.h>

#include "kselftest_harness.h"
#include "tg.h"

#define SEC		1000000000ll
#define PAD_BOS		4
#define PAD_SIZE	(256 * 1024)
#define SECRET_SIZE	(64 * 1024)

FIXTURE(iso) {
	struct ember_device *a;
	struct ember_bo *pad[PAD_BOS], *secret;
	uint8_t *pad_map[PAD_BOS], *secret_map;
	uint8_t want[SECRET_SIZE];
};

/*
 * A's buffers come after 1 MiB of padding, so A's secret has a device VA
 * and a handle number that B's own few buffers do not reach.
 */
FIXTURE_SETUP(iso)
{
	char msg[EMBER_ERRMSG_SIZE];

	ASSERT_EQ(0, tg_open(&self->a, msg, sizeof(msg))) TH_LOG("%s", msg);
	for (int i = 0; i < PAD_BOS; i++) {
		ASSERT_EQ(0, ember_bo_create(self->a, PAD_SIZE, &self->pad[i]));
		ASSERT_EQ(0, ember_bo_map(self->pad[i], (void **)&self->pad_map[i]));
		memset(self->pad_map[i], 0x40 + i, PAD_SIZE);
	}
	ASSERT_EQ(0, ember_bo_create(self->a, SECRET_SIZE, &self->secret));
	ASSERT_EQ(0, ember_bo_map(self->secret, (void **)&self->secret_map));
	for (int i = 0; i < SECRET_SIZE; i++)
		self->want[i] = (uint8_t)(i * 131 + 7);
	memcpy(self->secret_map, self->want, SECRET_SIZE);
}

FIXTURE_TEARDOWN(iso)
{
	ember_bo_free(self->secret);
	for (int i = 0; i < PAD_BOS; i++)
		ember_bo_free(self->pad[i]);
	ember_device_close(self->a);
}

struct target {
	uint64_t va, mmap_offset;
	uint32_t handle;
};

static int bad;

#define EXPECT_B(cond, ...) do { \
	if (!(cond)) { \
		bad++; \
		fprintf(stderr, "# process B: " __VA_ARGS__); \
		fprintf(stderr, "\n"); \
	} \
} while (0)

/* A 1x8x32 F32 MATMUL with A, W and C at the given VAs. */
static struct ember_op_matmul mm_at(uint64_t a, uint64_t w, uint64_t c)
{
	struct ember_op_matmul mm;

	memset(&mm, 0, sizeof(mm));
	mm.hdr.opcode = EMBER_OP_MATMUL;
	mm.hdr.size = sizeof(mm);
	mm.m = 1;
	mm.n = 8;
	mm.k = 32;
	mm.w_dtype = EMBER_DTYPE_F32;
	mm.a_va = a;
	mm.w_va = w;
	mm.c_va = c;
	mm.a_stride = 32 * 4;
	mm.w_stride = 32 * 4;
	mm.c_stride = 8 * 4;
	return mm;
}

/* One job of raw @mm on @b: its status, or -errno. */
static int b_run(struct ember_device *b, struct ember_cmdbuf *cb,
		 const struct ember_op_matmul *mm)
{
	struct ember_job job;
	uint64_t seqno;
	int ret;

	ember_cmdbuf_begin(cb);
	ret = ember_cmdbuf_raw(cb, mm, sizeof(*mm));
	if (!ret)
		ret = ember_cmdbuf_end(cb, &job);
	if (!ret)
		ret = ember_submit(b, &job, 1, &seqno);
	return ret ? ret : ember_wait(b, seqno, 30 * SEC);
}

/* Opens a file with a command buffer and a 4 KiB buffer of its own. */
static int b_open(struct ember_device **b, struct ember_cmdbuf **cb,
		  struct ember_bo **own, const struct target *t)
{
	char msg[EMBER_ERRMSG_SIZE];
	uint64_t end;

	if (tg_open(b, msg, sizeof(msg))) {
		fprintf(stderr, "# process B: %s\n", msg);
		return -1;
	}
	if (ember_cmdbuf_create(*b, 4096, cb) || ember_bo_create(*b, 4096, own))
		return -1;
	/* the premise: nothing of B's is mapped where A's secret is */
	end = ember_bo_va(*own) + ember_bo_size(*own);
	if (end > t->va && ember_bo_va(*own) < t->va + SECRET_SIZE) {
		fprintf(stderr, "# process B: its own buffer overlaps A's VA\n");
		return -1;
	}
	return 0;
}

/* Process B's attempts; exits with the number that did not fail right. */
static int process_b(const struct target *t)
{
	struct ember_device *b;
	struct ember_cmdbuf *cb;
	struct ember_bo *own;
	struct ember_op_matmul mm;
	uint64_t seqno;
	int st;

	/* read A's secret as A and W of a MATMUL */
	if (b_open(&b, &cb, &own, t))
		return 100;
	mm = mm_at(t->va, t->va + 4096, ember_bo_va(own));
	st = b_run(b, cb, &mm);
	EXPECT_B(st == EMBER_JOB_MMU_FAULT, "reading A's VA gave %d, not MMU_FAULT", st);
	{
		struct ember_job nop;

		ember_cmdbuf_begin(cb);
		ember_cmdbuf_nop(cb);
		ember_cmdbuf_end(cb, &nop);
		st = ember_submit(b, &nop, 1, &seqno);
		EXPECT_B(st == -EBADFD, "a submit after the fault gave %d, not -EBADFD", st);
	}
	ember_bo_free(own);
	ember_cmdbuf_free(cb);
	ember_device_close(b);

	/* write into A's secret as C */
	if (b_open(&b, &cb, &own, t))
		return 100;
	mm = mm_at(ember_bo_va(own), ember_bo_va(own) + 128, t->va);
	st = b_run(b, cb, &mm);
	EXPECT_B(st == EMBER_JOB_MMU_FAULT, "writing A's VA gave %d, not MMU_FAULT", st);
	ember_bo_free(own);
	ember_cmdbuf_free(cb);
	ember_device_close(b);

	/* A's mmap offset and handle number on a file of B's */
	if (b_open(&b, &cb, &own, t))
		return 100;
	{
		int fd = ember_device_fd(b);
		void *p = mmap(NULL, SECRET_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			       (off_t)t->mmap_offset);
		struct drm_ember_bo_info info = { .handle = t->handle };
		struct drm_prime_handle prime = { .handle = t->handle, .flags = DRM_CLOEXEC };
		struct drm_gem_close gc = { .handle = t->handle };

		EXPECT_B(p == MAP_FAILED && errno == EACCES,
			 "mmap of A's offset: %s", p == MAP_FAILED ? strerror(errno) : "mapped");
		if (p != MAP_FAILED)
			munmap(p, SECRET_SIZE);
		EXPECT_B(drmIoctl(fd, DRM_IOCTL_EMBER_BO_INFO, &info) == -1 && errno == ENOENT,
			 "BO_INFO of A's handle: %s", strerror(errno));
		EXPECT_B(drmIoctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &prime) == -1 &&
			 errno == ENOENT, "PRIME export of A's handle: %s", strerror(errno));
		EXPECT_B(drmIoctl(fd, DRM_IOCTL_GEM_CLOSE, &gc) == -1 && errno == EINVAL,
			 "GEM_CLOSE of A's handle: %s", strerror(errno));
	}
	/* B's own work still runs */
	{
		char why[256] = "";

		st = tg_good_job(b, why, sizeof(why));
		EXPECT_B(st == 0, "B's own job after its attempts: %s", why);
	}
	ember_bo_free(own);
	ember_cmdbuf_free(cb);
	ember_device_close(b);
	return bad;
}

TEST_F_TIMEOUT(iso, another_process_cannot_reach_a_buffer, 300)
{
	struct drm_ember_bo_info info = { .handle = ember_bo_handle(self->secret) };
	struct target t;
	char why[256] = "";
	pid_t pid;
	int status;

	ASSERT_EQ(0, drmIoctl(ember_device_fd(self->a), DRM_IOCTL_EMBER_BO_INFO, &info));
	t = (struct target){ info.dev_va, info.mmap_offset, info.handle };
	ASSERT_GT(t.handle, 2) TH_LOG("A's secret should have a handle B does not");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(process_b(&t));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("process B: %d attempts did not fail right (above)",
						  WEXITSTATUS(status));

	/* A's buffers, byte for byte, and A's jobs */
	EXPECT_EQ(0, memcmp(self->secret_map, self->want, SECRET_SIZE));
	for (int i = 0; i < PAD_BOS; i++)
		for (int j = 0; j < PAD_SIZE; j++)
			if (self->pad_map[i][j] != 0x40 + i) {
				EXPECT_EQ(0x40 + i, self->pad_map[i][j]) TH_LOG("pad %d byte %d", i, j);
				break;
			}
	ASSERT_EQ(0, tg_good_job(self->a, why, sizeof(why))) TH_LOG("A after B: %s", why);
	EXPECT_EQ(0, memcmp(self->secret_map, self->want, SECRET_SIZE));
}

#define MANY 64

/* One of MANY processes: open, wait for all to be open, run checked jobs. */
static int one_of_many(int ready, int go, int seed)
{
	struct ember_device *dev;
	struct tg_mm p;
	char msg[EMBER_ERRMSG_SIZE], c = 1;
	double worst, max_abs;
	int bad = 0;

	if (tg_open(&dev, msg, sizeof(msg))) {
		fprintf(stderr, "# process %d: %s\n", seed, msg);
		return 1;
	}
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 0)
		return 1;
	for (int round = 0; round < 3 && !bad; round++) {
		if (tg_mm_init(dev, &p, 2, 24, 64, EMBER_DTYPE_Q8_0, EMBER_MATMUL_BIAS, 0, 0,
			       (uint64_t)seed * 10 + round) ||
		    tg_mm_run(dev, &p) ||
		    tg_mm_check(&p, &worst, &max_abs, msg, sizeof(msg))) {
			fprintf(stderr, "# process %d round %d: %s %s\n", seed, round, msg,
				ember_errmsg(dev));
			bad = 1;
		}
		tg_mm_fini(&p);
	}
	ember_device_close(dev);
	return bad;
}

/*
 * 64 processes hold the device open at once (four times its 16 address-
 * space slots) and each runs checked jobs: every open succeeds and every
 * result is right, the slots going round among the files.
 */
TEST_F_TIMEOUT(iso, many_processes_share_the_slots, 600)
{
	int ready[2], go[2], ok = 0;
	char c, why[256] = "";

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	for (int i = 0; i < MANY; i++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0) {
			close(ready[0]);
			close(go[1]);
			_exit(one_of_many(ready[1], go[0], i));
		}
	}
	close(ready[1]);
	close(go[0]);
	for (int i = 0; i < MANY; i++)
		if (read(ready[0], &c, 1) != 1)
			break;
	/* all open now; one more file (this one's) runs a job too */
	ASSERT_EQ(0, tg_good_job(self->a, why, sizeof(why))) TH_LOG("%s", why);
	close(go[1]);	/* go */
	for (int i = 0; i < MANY; i++) {
		int status;

		if (wait(&status) > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
	}
	close(ready[0]);
	EXPECT_EQ(MANY, ok) TH_LOG("%d of %d processes opened the device and got right results",
				   ok, MANY);
}

TEST_HARNESS_MAIN
