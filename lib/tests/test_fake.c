// SPDX-License-Identifier: MIT
/*
 * libember against a fake kernel: this program defines drmIoctl() and
 * drmGetVersion() itself (they win over libdrm's for the statically linked
 * libember), backs the "device" with a memfd so buffers really mmap, and
 * checks what the library builds: command streams, BO lists, host-side
 * validation and its messages, submit structs, the io_uring SQE plumbing.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xf86drm.h>

#include "ember/ember.h"

static int failures;

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		failures++; \
		printf("not ok %s:%d: %s: ", __func__, __LINE__, #cond); \
		printf(__VA_ARGS__); \
		printf("\n"); \
	} \
} while (0)

/* ---- the fake kernel ----------------------------------------------------- */

static struct {
	int memfd;
	uint64_t file_size;
	uint32_t next_handle;
	uint64_t next_va;
	uint64_t caps_dtypes;
	uint64_t caps_ops;
	uint32_t fw_abi;
	uint32_t closes;
	struct drm_ember_job last_jobs[8];
	struct drm_ember_bo_ref last_bos[8][32];
	uint32_t last_count;
	uint64_t seqno;
} fk;

#define FAKE_VA_START 0x100000000ull

drmVersionPtr drmGetVersion(int fd)
{
	drmVersionPtr v = calloc(1, sizeof(*v));

	(void)fd;
	v->name = strdup("ember");
	v->name_len = 5;
	return v;
}

void drmFreeVersion(drmVersionPtr v)
{
	free(v->name);
	free(v);
}

static int fake_query(struct drm_ember_query *q)
{
	struct drm_ember_device_info info = {
		.pci_vendor = 0x1b36, .pci_device = 0xe3b0,
		.hw_version = 1 << 16, .fw_abi_version = fk.fw_abi,
		.fw_build_id = 0x1234,
		.caps_ops = fk.caps_ops, .caps_dtypes = fk.caps_dtypes,
		.va_start = FAKE_VA_START, .va_size = 1ull << 40,
		.compute_units = 2, .queue_depth = 64,
		.max_submit_jobs = 1024, .max_job_bos = 8,
		.fw_version = "fake",
	};

	if (q->type != DRM_EMBER_QUERY_DEVICE_INFO) {
		errno = EINVAL;
		return -1;
	}
	if (q->size)
		memcpy((void *)(uintptr_t)q->ptr, &info,
		       q->size < sizeof(info) ? q->size : sizeof(info));
	q->size = sizeof(info);
	return 0;
}

static pthread_mutex_t fk_lock = PTHREAD_MUTEX_INITIALIZER;
static int fake_ioctl(unsigned long req, void *arg);

/* One ioctl at a time, as the fake's state is plain globals. */
int drmIoctl(int fd, unsigned long req, void *arg)
{
	int ret;

	(void)fd;
	pthread_mutex_lock(&fk_lock);
	ret = fake_ioctl(req, arg);
	pthread_mutex_unlock(&fk_lock);
	return ret;
}

static int fake_ioctl(unsigned long req, void *arg)
{
	if (req == DRM_IOCTL_EMBER_QUERY)
		return fake_query(arg);
	if (req == DRM_IOCTL_EMBER_BO_CREATE) {
		struct drm_ember_bo_create *c = arg;
		uint64_t size = (c->size + 4095) & ~4095ull;

		if (c->size > (4ull << 30)) {
			errno = E2BIG;
			return -1;
		}
		c->handle = ++fk.next_handle;
		c->dev_va = fk.next_va;
		c->mmap_offset = fk.file_size;
		fk.next_va += size + 4096;	/* a guard page */
		fk.file_size += size;
		if (ftruncate(fk.memfd, (off_t)fk.file_size))
			return -1;
		return 0;
	}
	if (req == DRM_IOCTL_GEM_CLOSE) {
		fk.closes++;
		return 0;
	}
	if (req == DRM_IOCTL_EMBER_SUBMIT) {
		struct drm_ember_submit *s = arg;
		uint32_t i;

		fk.last_count = s->job_count;
		for (i = 0; i < s->job_count && i < 8; i++) {
			memcpy(&fk.last_jobs[i],
			       (char *)(uintptr_t)s->jobs + i * s->job_stride,
			       sizeof(fk.last_jobs[i]));
			memcpy(fk.last_bos[i], (void *)(uintptr_t)fk.last_jobs[i].bos,
			       fk.last_jobs[i].bo_count * sizeof(fk.last_bos[i][0]));
		}
		if (s->job_count > 1024) {
			errno = E2BIG;
			return -1;
		}
		s->seqno = fk.seqno + 1;
		fk.seqno += s->job_count;
		return 0;
	}
	if (req == DRM_IOCTL_EMBER_WAIT) {
		struct drm_ember_wait *w = arg;

		if (!w->seqno || w->seqno > fk.seqno) {
			errno = EINVAL;
			return -1;
		}
		w->status = EMBER_JOB_OK;
		return 0;
	}
	errno = ENOTTY;
	return -1;
}

/* ---- tests ----------------------------------------------------------------- */

static struct ember_device *open_fake(void)
{
	char path[64], msg[EMBER_ERRMSG_SIZE];
	struct ember_device *dev;
	int ret;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fk.memfd);
	ret = ember_device_open(path, &dev, msg, sizeof(msg));
	CHECK(ret == 0, "open: %d %s", ret, msg);
	return ret ? NULL : dev;
}

static void test_bo(struct ember_device *dev)
{
	struct ember_bo *bo;
	uint32_t *p, *p2;
	uint32_t closes = fk.closes;

	CHECK(ember_bo_create(dev, 5000, &bo) == 0, "%s", ember_errmsg(dev));
	CHECK(ember_bo_size(bo) == 8192, "%llu", (unsigned long long)ember_bo_size(bo));
	CHECK(ember_bo_va(bo) >= FAKE_VA_START, "va");
	CHECK(ember_bo_map(bo, (void **)&p) == 0, "%s", ember_errmsg(dev));
	CHECK(ember_bo_map(bo, (void **)&p2) == 0 && p == p2, "map twice");
	p[2047] = 0xabcd;
	CHECK(p2[2047] == 0xabcd, "write/read");
	ember_bo_free(bo);
	CHECK(fk.closes == closes + 1, "GEM_CLOSE on free");
	CHECK(ember_bo_create(dev, 8ull << 30, &bo) == -E2BIG && bo == NULL, "E2BIG");
	CHECK(strstr(ember_errmsg(dev), "4 GiB") != NULL, "%s", ember_errmsg(dev));
	CHECK(ember_bo_create(dev, 0, &bo) == -EINVAL, "size 0");
}

struct mmbufs {
	struct ember_bo *a, *w, *c, *b;
};

static void mk(struct ember_device *dev, struct mmbufs *m)
{
	CHECK(!ember_bo_create(dev, 64 * 1024, &m->a), "a");
	CHECK(!ember_bo_create(dev, 64 * 1024, &m->w), "w");
	CHECK(!ember_bo_create(dev, 64 * 1024, &m->c), "c");
	CHECK(!ember_bo_create(dev, 4096, &m->b), "b");
}

static void rm(struct mmbufs *m)
{
	ember_bo_free(m->a);
	ember_bo_free(m->w);
	ember_bo_free(m->c);
	ember_bo_free(m->b);
}

static void test_matmul(struct ember_device *dev)
{
	struct ember_cmdbuf *cb;
	struct ember_job job;
	struct ember_op_matmul op;
	struct mmbufs m;
	uint8_t *cmd;
	uint32_t used;
	int ret;

	mk(dev, &m);
	CHECK(!ember_cmdbuf_create(dev, 4096, &cb), "%s", ember_errmsg(dev));
	CHECK(!ember_bo_map(ember_cmdbuf_bo(cb), (void **)&cmd), "map");
	{
		struct ember_matmul_desc d = {
			.m = 4, .n = 16, .k = 64, .w_dtype = EMBER_DTYPE_Q8_0,
			.flags = EMBER_MATMUL_BIAS | EMBER_MATMUL_ACCUMULATE,
			.a = { m.a, 256 }, .w = { m.w, 0 }, .c = { m.c, 1024 },
			.bias = { m.b, 64 }, .a_stride = 512,
		};

		ember_cmdbuf_begin(cb);
		ret = ember_cmdbuf_matmul(cb, &d);
		CHECK(ret == 0, "%s", ember_errmsg(dev));
		CHECK(ember_cmdbuf_nop(cb) == 0, "nop");
		CHECK(ember_cmdbuf_end(cb, &job) == 0, "end");
	}
	CHECK(job.cmd_offset == 0 && job.cmd_size == sizeof(op) + 8, "%u+%u",
	      job.cmd_offset, job.cmd_size);
	CHECK(job.cmd_handle == ember_bo_handle(ember_cmdbuf_bo(cb)), "cmd handle");
	CHECK(job.bo_count == 4, "%u", job.bo_count);
	CHECK(job.bos[0].handle == ember_bo_handle(m.a) &&
	      job.bos[0].flags == DRM_EMBER_BO_READ, "A read");
	CHECK(job.bos[1].handle == ember_bo_handle(m.w) &&
	      job.bos[1].flags == DRM_EMBER_BO_READ, "W read");
	CHECK(job.bos[2].handle == ember_bo_handle(m.c) &&
	      job.bos[2].flags == (DRM_EMBER_BO_READ | DRM_EMBER_BO_WRITE),
	      "C read+write (accumulate)");
	CHECK(job.bos[3].handle == ember_bo_handle(m.b) &&
	      job.bos[3].flags == DRM_EMBER_BO_READ, "bias read");
	memcpy(&op, cmd, sizeof(op));
	CHECK(op.hdr.opcode == EMBER_OP_MATMUL && op.hdr.size == sizeof(op) &&
	      op.hdr.flags == (EMBER_MATMUL_BIAS | EMBER_MATMUL_ACCUMULATE), "hdr");
	CHECK(op.m == 4 && op.n == 16 && op.k == 64 &&
	      op.w_dtype == EMBER_DTYPE_Q8_0 && op.a_dtype == 0 &&
	      op.c_dtype == 0 && op.pad == 0, "shape");
	CHECK(op.a_va == ember_bo_va(m.a) + 256 && op.a_stride == 512, "A");
	CHECK(op.w_va == ember_bo_va(m.w) && op.w_stride == 2 * 34, "W packed");
	CHECK(op.c_va == ember_bo_va(m.c) + 1024 && op.c_stride == 64, "C packed");
	CHECK(op.bias_va == ember_bo_va(m.b) + 64, "bias");
	{
		struct ember_op_hdr nop;

		memcpy(&nop, cmd + sizeof(op), 8);
		CHECK(nop.opcode == EMBER_OP_NOP && nop.size == 8 && !nop.flags, "nop");
	}

	/* a second job starts where the first ended; no bias -> no bias BO */
	{
		struct ember_matmul_desc d = {
			.m = 1, .n = 8, .k = 8, .w_dtype = EMBER_DTYPE_F32,
			.a = { m.a, 0 }, .w = { m.w, 0 }, .c = { m.c, 0 },
			.bias = { m.b, 0 },
		};
		struct ember_job j2;

		ember_cmdbuf_begin(cb);
		CHECK(ember_cmdbuf_matmul(cb, &d) == 0, "%s", ember_errmsg(dev));
		CHECK(ember_cmdbuf_end(cb, &j2) == 0, "end");
		CHECK(j2.cmd_offset == job.cmd_size && j2.cmd_size == sizeof(op),
		      "%u %u", j2.cmd_offset, j2.cmd_size);
		CHECK(j2.bo_count == 3 && j2.bos[2].flags == DRM_EMBER_BO_WRITE,
		      "%u", j2.bo_count);
		memcpy(&op, cmd + j2.cmd_offset, sizeof(op));
		CHECK(op.bias_va == 0 && op.hdr.flags == 0, "bias_va must stay 0");
	}

	/* validation: each mistake fails, names itself, and writes nothing */
	used = ember_cmdbuf_used(cb);
	ember_cmdbuf_begin(cb);
#define BAD(err, word, ...) do { \
		struct ember_matmul_desc d = { \
			.m = 2, .n = 8, .k = 32, .w_dtype = EMBER_DTYPE_F32, \
			.a = { m.a, 0 }, .w = { m.w, 0 }, .c = { m.c, 0 }, \
			.bias = { m.b, 0 }, __VA_ARGS__ }; \
		ret = ember_cmdbuf_matmul(cb, &d); \
		CHECK(ret == (err), "%s: got %d: %s", #__VA_ARGS__, ret, ember_errmsg(dev)); \
		CHECK(strstr(ember_errmsg(dev), word) != NULL, "message '%s' lacks '%s'", \
		      ember_errmsg(dev), word); \
		CHECK(ember_cmdbuf_used(cb) == used, "bytes written on failure"); \
	} while (0)
	BAD(-EINVAL, "non-zero", .m = 0);
	BAD(-EINVAL, "unknown flags", .flags = 1u << 5);
	BAD(-EINVAL, "Q8_0 or Q4_0", .flags = EMBER_MATMUL_W_X16);
	BAD(-EINVAL, "w_stride must be 0", .flags = EMBER_MATMUL_W_X16,
	    .w_dtype = EMBER_DTYPE_Q8_0, .w_stride = 34);
	BAD(-EOPNOTSUPP, "ABI 1.3", .flags = EMBER_MATMUL_W_X16,
	    .w_dtype = EMBER_DTYPE_Q8_0);
	BAD(-EINVAL, "k % 32", .w_dtype = EMBER_DTYPE_Q4_0, .k = 40);
	BAD(-EINVAL, "unknown", .w_dtype = 77);
	BAD(-EOPNOTSUPP, "BF16", .w_dtype = EMBER_DTYPE_BF16);
	BAD(-EINVAL, "stride", .a_stride = 64);
	BAD(-EINVAL, "aligned", .a = { m.a, 2 });
	BAD(-ERANGE, "does not fit", .m = 1000);
	BAD(-ERANGE, "does not fit", .c = { m.c, 64 * 1024 - 16 });
	BAD(-EINVAL, "no buffer", .w = { NULL, 0 });
	BAD(-EINVAL, "overlaps", .c = { m.a, 128 });
	BAD(-EINVAL, "overlaps", .flags = EMBER_MATMUL_BIAS, .bias = { m.c, 0 });
	BAD(-EINVAL, "at most", .n = 2000000);
	BAD(-ERANGE, "does not fit", .m = 3, .a_stride = 1ull << 63); /* wraps */
#undef BAD
	CHECK(ember_cmdbuf_end(cb, &job) == -EINVAL, "empty job");

	/* the device's max_job_bos (8): a third distinct-BO matmul is refused */
	{
		struct mmbufs m2, m3;
		struct ember_matmul_desc d = { .m = 1, .n = 8, .k = 8,
					       .w_dtype = EMBER_DTYPE_F32 };

		mk(dev, &m2);
		mk(dev, &m3);
		ember_cmdbuf_begin(cb);
		d.a.bo = m.a; d.w.bo = m.w; d.c.bo = m.c;
		CHECK(ember_cmdbuf_matmul(cb, &d) == 0, "1");
		d.a.bo = m2.a; d.w.bo = m2.w; d.c.bo = m2.c;
		CHECK(ember_cmdbuf_matmul(cb, &d) == 0, "2");
		used = ember_cmdbuf_used(cb);
		d.a.bo = m3.a; d.w.bo = m3.w; d.c.bo = m3.c;
		CHECK(ember_cmdbuf_matmul(cb, &d) == -E2BIG, "3: %s", ember_errmsg(dev));
		CHECK(ember_cmdbuf_used(cb) == used, "nothing written");
		CHECK(ember_cmdbuf_end(cb, &job) == 0 && job.bo_count == 6, "%u",
		      job.bo_count);
		rm(&m2);
		rm(&m3);
	}

	/* full */
	ember_cmdbuf_reset(cb);
	{
		int i, n = 0;

		for (i = 0; i < 1000; i++) {
			ret = ember_cmdbuf_nop(cb);
			if (ret)
				break;
			n++;
		}
		CHECK(ret == -ENOSPC && n == 4096 / 8, "%d after %d", ret, n);
		CHECK(strstr(ember_errmsg(dev), "full") != NULL, "%s", ember_errmsg(dev));
	}
	ember_cmdbuf_free(cb);
	rm(&m);
}

static void test_attention(struct ember_device *dev)
{
	struct ember_cmdbuf *cb;
	struct ember_bo *q, *k, *v, *o;
	struct ember_op_attention op;
	struct ember_job job;
	uint8_t *cmd;
	int ret;

	CHECK(!ember_bo_create(dev, 16 * 9 * 64 * 4, &q), "q");
	CHECK(!ember_bo_create(dev, 512 * 3 * 64 * 2, &k), "k");
	CHECK(!ember_bo_create(dev, 512 * 3 * 64 * 2, &v), "v");
	CHECK(!ember_bo_create(dev, 16 * 9 * 64 * 4, &o), "o");
	CHECK(!ember_cmdbuf_create(dev, 4096, &cb), "cb");
	CHECK(!ember_bo_map(ember_cmdbuf_bo(cb), (void **)&cmd), "map");
#define DESC(...) { .n_tok = 16, .n_past = 100, .n_head = 9, .n_kv_head = 3, \
		.head_dim = 64, .n_ctx = 512, .kv_dtype = EMBER_DTYPE_F16, \
		.q = { q, 0 }, .k = { k, 0 }, .v = { v, 0 }, .out = { o, 0 }, \
		__VA_ARGS__ }
	{
		struct ember_attention_desc d = DESC();

		ember_cmdbuf_begin(cb);
		CHECK(ember_cmdbuf_attention(cb, &d) == 0, "%s", ember_errmsg(dev));
		CHECK(ember_cmdbuf_end(cb, &job) == 0, "end");
	}
	memcpy(&op, cmd, sizeof(op));
	CHECK(op.hdr.opcode == EMBER_OP_ATTENTION && op.hdr.size == 128 &&
	      sizeof(op) == 128, "hdr");
	CHECK(op.n_tok == 16 && op.n_past == 100 && op.n_head == 9 &&
	      op.n_kv_head == 3 && op.head_dim == 64 && op.n_ctx == 512 &&
	      op.kv_dtype == EMBER_DTYPE_F16, "fields");
	CHECK(fabsf(op.scale - 0.125f) < 1e-7f, "default scale %g", op.scale);
	CHECK(op.q_stride == 9 * 64 * 4 && op.kv_stride == 3 * 64 * 2 &&
	      op.out_stride == 9 * 64 * 4, "packed strides");
	CHECK(op.k_va == ember_bo_va(k) && op.v_va == ember_bo_va(v), "kv va");
	CHECK(!op.rope_dim && !op.k_new_va && !op.pad0[0], "reserved zero");
	CHECK(job.bo_count == 4 && job.bos[3].flags == DRM_EMBER_BO_WRITE &&
	      job.bos[1].flags == DRM_EMBER_BO_READ, "bos");
#define ABAD(err, word, ...) do { \
		struct ember_attention_desc d = DESC(__VA_ARGS__); \
		ember_cmdbuf_begin(cb); \
		ret = ember_cmdbuf_attention(cb, &d); \
		CHECK(ret == (err), "%s: got %d: %s", #__VA_ARGS__, ret, ember_errmsg(dev)); \
		CHECK(strstr(ember_errmsg(dev), word) != NULL, "message '%s' lacks '%s'", \
		      ember_errmsg(dev), word); \
	} while (0)
	ABAD(-EINVAL, "multiple", .n_kv_head = 2);
	ABAD(-EINVAL, "n_ctx", .n_past = 500);
	ABAD(-EINVAL, "head_dim", .head_dim = 1024);
	ABAD(-EINVAL, "kv_dtype", .kv_dtype = EMBER_DTYPE_Q4_0);
	ABAD(-EINVAL, "kv_dtype", .kv_dtype = EMBER_DTYPE_BF16);
	/* Q8_0 caches: 32 | head_dim, and firmware ABI 1.2 (this is 1.0) */
	ABAD(-EINVAL, "head_dim % 32", .kv_dtype = EMBER_DTYPE_Q8_0,
	     .head_dim = 48);
	ABAD(-EOPNOTSUPP, "ABI 1.2", .kv_dtype = EMBER_DTYPE_Q8_0);
	ABAD(-EINVAL, "scale", .scale = NAN);
	ABAD(-EINVAL, "overlaps", .out = { q, 0 });
	ABAD(-ERANGE, "does not fit", .n_tok = 17);
	ABAD(-ERANGE, "does not fit", .n_ctx = 4096, .n_past = 600);
#undef ABAD
#undef DESC
	ember_cmdbuf_free(cb);
	ember_bo_free(q);
	ember_bo_free(k);
	ember_bo_free(v);
	ember_bo_free(o);
}

/* ABI 1.1 ops on a 1.0 device: refused on the host. */
static void test_layer_ops_old_device(struct ember_device *dev)
{
	struct ember_cmdbuf *cb;
	struct ember_bo *x, *o;
	int ret;

	CHECK(!ember_bo_create(dev, 4096, &x) && !ember_bo_create(dev, 4096, &o),
	      "bos");
	CHECK(!ember_cmdbuf_create(dev, 4096, &cb), "cb");
	{
		struct ember_rmsnorm_desc d = { .rows = 1, .dim = 16, .eps = 1e-5f,
						.x = { x, 0 }, .out = { o, 0 } };

		ember_cmdbuf_begin(cb);
		ret = ember_cmdbuf_rmsnorm(cb, &d);
		CHECK(ret == -EOPNOTSUPP && strstr(ember_errmsg(dev), "caps_ops"),
		      "rmsnorm on 1.0: %d %s", ret, ember_errmsg(dev));
	}
	{
		struct ember_attention_desc d = {
			.n_tok = 1, .n_past = 0, .n_head = 1, .n_kv_head = 1,
			.head_dim = 16, .n_ctx = 4, .kv_dtype = EMBER_DTYPE_F32,
			.q = { x, 0 }, .k = { x, 1024 }, .v = { x, 2048 },
			.out = { o, 0 }, .flags = EMBER_ATTN_ROPE,
		};

		ember_cmdbuf_begin(cb);
		ret = ember_cmdbuf_attention(cb, &d);
		CHECK(ret == -EOPNOTSUPP && strstr(ember_errmsg(dev), "ABI 1.1"),
		      "attention ROPE on 1.0: %d %s", ret, ember_errmsg(dev));
	}
	CHECK(ember_cmdbuf_used(cb) == 0, "nothing written");
	ember_cmdbuf_free(cb);
	ember_bo_free(x);
	ember_bo_free(o);
}

/* ATTENTION over Q8_0 caches: ABI 1.2, 32 | head_dim, Q8_0 in the caps;
 * rows of 34-byte blocks, 2-aligned. */
static void test_q8_kv(struct ember_device *dev, int has_q8)
{
	struct ember_cmdbuf *cb;
	struct ember_bo *q, *k, *v, *o, *kn;
	struct ember_op_attention op;
	struct ember_job job;
	uint8_t *cmd;
	int ret;

	CHECK(!ember_bo_create(dev, 4 * 8 * 64 * 4, &q), "q");
	CHECK(!ember_bo_create(dev, 100 * 2 * 68, &k), "k");	/* 13600: 16 KiB */
	CHECK(!ember_bo_create(dev, 100 * 2 * 68, &v), "v");
	CHECK(!ember_bo_create(dev, 4 * 8 * 64 * 4, &o), "o");
	CHECK(!ember_bo_create(dev, 2 * 4 * 2 * 64 * 4, &kn), "kn");
	CHECK(!ember_cmdbuf_create(dev, 4096, &cb), "cb");
	CHECK(!ember_bo_map(ember_cmdbuf_bo(cb), (void **)&cmd), "map");
#define DESC(...) { .n_tok = 4, .n_past = 60, .n_head = 8, .n_kv_head = 2, \
		.head_dim = 64, .n_ctx = 240, .kv_dtype = EMBER_DTYPE_Q8_0, \
		.q = { q, 0 }, .k = { k, 0 }, .v = { v, 0 }, .out = { o, 0 }, \
		.flags = EMBER_ATTN_APPEND_KV | EMBER_ATTN_ROPE, \
		.k_new = { kn, 0 }, .v_new = { kn, 2048 }, __VA_ARGS__ }
#define ABAD(err, word, ...) do { \
		struct ember_attention_desc d = DESC(__VA_ARGS__); \
		ember_cmdbuf_begin(cb); \
		ret = ember_cmdbuf_attention(cb, &d); \
		CHECK(ret == (err), "%s: got %d: %s", #__VA_ARGS__, ret, ember_errmsg(dev)); \
		CHECK(strstr(ember_errmsg(dev), word) != NULL, "message '%s' lacks '%s'", \
		      ember_errmsg(dev), word); \
	} while (0)
	if (!has_q8) {
		ABAD(-EOPNOTSUPP, "Q8_0");
		ABAD(-EINVAL, "head_dim % 32", .head_dim = 48);
		goto out;
	}
	{
		struct ember_attention_desc d = DESC();

		ember_cmdbuf_begin(cb);
		CHECK(ember_cmdbuf_attention(cb, &d) == 0, "%s", ember_errmsg(dev));
		CHECK(ember_cmdbuf_end(cb, &job) == 0, "end");
		memcpy(&op, cmd + job.cmd_offset, sizeof(op));
		CHECK(op.hdr.opcode == EMBER_OP_ATTENTION &&
		      op.kv_dtype == EMBER_DTYPE_Q8_0 && op.head_dim == 64 &&
		      op.hdr.flags == (EMBER_ATTN_APPEND_KV | EMBER_ATTN_ROPE),
		      "q8 encoding");
		CHECK(op.kv_stride == 2 * 2 * 34, "packed Q8_0 kv_stride %llu",
		      (unsigned long long)op.kv_stride);
		CHECK(job.bo_count == 5 &&
		      job.bos[1].flags == (DRM_EMBER_BO_READ | DRM_EMBER_BO_WRITE) &&
		      job.bos[2].flags == (DRM_EMBER_BO_READ | DRM_EMBER_BO_WRITE),
		      "q8 bos");
	}
	{	/* plain attention, 2-aligned offsets and a padded stride */
		struct ember_attention_desc d = DESC(.flags = 0, .k_new = { 0 },
						     .v_new = { 0 },
						     .k = { k, 2 }, .v = { v, 34 },
						     .kv_stride = 146);

		ember_cmdbuf_begin(cb);
		CHECK(ember_cmdbuf_attention(cb, &d) == 0, "%s", ember_errmsg(dev));
		CHECK(ember_cmdbuf_end(cb, &job) == 0, "end");
		memcpy(&op, cmd + job.cmd_offset, sizeof(op));
		CHECK(op.kv_stride == 146 && op.k_va == ember_bo_va(k) + 2 &&
		      op.v_va == ember_bo_va(v) + 34 && !op.hdr.flags,
		      "q8 plain encoding");
	}
	ABAD(-EINVAL, "head_dim % 32", .head_dim = 48);
	ABAD(-EINVAL, "head_dim % 32", .head_dim = 16, .n_kv_head = 4,
	     .n_head = 8);		/* whole blocks per row, not per head */
	ABAD(-EINVAL, "below its row size", .kv_stride = 134);
	ABAD(-EINVAL, "aligned", .kv_stride = 137);
	ABAD(-EINVAL, "aligned", .k = { k, 1 });
	ABAD(-ERANGE, "does not fit", .n_ctx = 1000, .n_past = 200);
	ABAD(-ERANGE, "does not fit", .kv_stride = 300);
out:
#undef ABAD
#undef DESC
	ember_cmdbuf_free(cb);
	ember_bo_free(q);
	ember_bo_free(k);
	ember_bo_free(v);
	ember_bo_free(o);
	ember_bo_free(kn);
}

/* The ABI 1.1 ops: encoding, BO use, host-side checks. */
static void test_layer_ops(struct ember_device *dev)
{
	struct ember_cmdbuf *cb;
	struct ember_bo *x, *w, *o, *k, *v, *kn;
	struct ember_job job;
	uint8_t *cmd;
	int ret;

	CHECK(!ember_bo_create(dev, 16384, &x) && !ember_bo_create(dev, 4096, &w) &&
	      !ember_bo_create(dev, 16384, &o) && !ember_bo_create(dev, 65536, &k) &&
	      !ember_bo_create(dev, 65536, &v) && !ember_bo_create(dev, 8192, &kn),
	      "bos");
	CHECK(!ember_cmdbuf_create(dev, 4096, &cb), "cb");
	CHECK(!ember_bo_map(ember_cmdbuf_bo(cb), (void **)&cmd), "map");

	/* RMSNORM */
	{
		struct ember_rmsnorm_desc d = {
			.rows = 3, .dim = 100, .flags = EMBER_RMSNORM_WEIGHT,
			.eps = 1e-6f, .x = { x, 64 }, .w = { w, 0 },
			.out = { o, 0 }, .out_stride = 512,
		};
		struct ember_op_rmsnorm op;

		ember_cmdbuf_begin(cb);
		CHECK(ember_cmdbuf_rmsnorm(cb, &d) == 0, "%s", ember_errmsg(dev));
		CHECK(ember_cmdbuf_end(cb, &job) == 0, "end");
		memcpy(&op, cmd + job.cmd_offset, sizeof(op));
		CHECK(op.hdr.opcode == EMBER_OP_RMSNORM && op.hdr.size == sizeof(op) &&
		      op.hdr.flags == EMBER_RMSNORM_WEIGHT && op.rows == 3 &&
		      op.dim == 100 && op.eps == 1e-6f &&
		      op.x_va == ember_bo_va(x) + 64 && op.x_stride == 400 &&
		      op.w_va == ember_bo_va(w) && op.out_stride == 512 && !op.pad,
		      "rmsnorm encoding");
		CHECK(job.bo_count == 3 && job.bos[0].flags == DRM_EMBER_BO_READ &&
		      job.bos[1].flags == DRM_EMBER_BO_READ &&
		      job.bos[2].flags == DRM_EMBER_BO_WRITE, "rmsnorm bos");
		d.flags = 0;
		ember_cmdbuf_begin(cb);
		CHECK(ember_cmdbuf_rmsnorm(cb, &d) == 0 && cb && ember_cmdbuf_end(cb, &job) == 0,
		      "no weight");
		memcpy(&op, cmd + job.cmd_offset, sizeof(op));
		CHECK(op.w_va == 0 && job.bo_count == 2, "no weight: w ignored");
		d.eps = NAN;
		ember_cmdbuf_begin(cb);
		ret = ember_cmdbuf_rmsnorm(cb, &d);
		CHECK(ret == -EINVAL && strstr(ember_errmsg(dev), "eps"), "eps %d", ret);
		d.eps = 0;
		d.out = (struct ember_ref){ x, 128 };
		ret = ember_cmdbuf_rmsnorm(cb, &d);
		CHECK(ret == -EINVAL && strstr(ember_errmsg(dev), "overlaps"), "alias %d", ret);
		d.out = (struct ember_ref){ o, 16000 };
		ret = ember_cmdbuf_rmsnorm(cb, &d);
		CHECK(ret == -ERANGE, "range %d", ret);
		d.out = (struct ember_ref){ o, 2 };
		ret = ember_cmdbuf_rmsnorm(cb, &d);
		CHECK(ret == -EINVAL && strstr(ember_errmsg(dev), "aligned"), "align %d", ret);
		d.out = (struct ember_ref){ o, 0 };
		d.flags = 4;
		ret = ember_cmdbuf_rmsnorm(cb, &d);
		CHECK(ret == -EINVAL && strstr(ember_errmsg(dev), "flags"), "flags %d", ret);
	}
	/* ROPE: defaults, in place needs READ|WRITE */
	{
		struct ember_rope_desc d = {
			.rows = 2, .n_head = 4, .head_dim = 32, .pos0 = 9,
			.flags = EMBER_ROPE_NEOX, .x = { x, 0 }, .out = { x, 0 },
		};
		struct ember_op_rope op;

		ember_cmdbuf_begin(cb);
		CHECK(ember_cmdbuf_rope(cb, &d) == 0, "%s", ember_errmsg(dev));
		CHECK(ember_cmdbuf_end(cb, &job) == 0, "end");
		memcpy(&op, cmd + job.cmd_offset, sizeof(op));
		CHECK(op.hdr.opcode == EMBER_OP_ROPE && op.hdr.flags == EMBER_ROPE_NEOX &&
		      op.rope_dim == 32 && op.freq_base == 10000.0f && op.pos0 == 9 &&
		      op.x_va == op.out_va && op.x_stride == 512, "rope encoding");
		CHECK(job.bo_count == 1 &&
		      job.bos[0].flags == (DRM_EMBER_BO_READ | DRM_EMBER_BO_WRITE),
		      "rope in place bos");
		d.out = (struct ember_ref){ x, 256 };
		ember_cmdbuf_begin(cb);
		ret = ember_cmdbuf_rope(cb, &d);
		CHECK(ret == -EINVAL && strstr(ember_errmsg(dev), "overlaps"), "rope alias %d", ret);
		d.out = (struct ember_ref){ o, 0 };
		d.rope_dim = 31;
		ret = ember_cmdbuf_rope(cb, &d);
		CHECK(ret == -EINVAL && strstr(ember_errmsg(dev), "rope_dim"), "rope_dim %d", ret);
		d.rope_dim = 0;
		d.pos0 = 1u << 24;
		ret = ember_cmdbuf_rope(cb, &d);
		CHECK(ret == -EINVAL && strstr(ember_errmsg(dev), "pos0"), "pos0 %d", ret);
	}
	/* SWIGLU switched off on this device; ADD */
	{
		struct ember_swiglu_desc sd = { .rows = 1, .n = 8, .gate = { x, 0 },
						.up = { x, 32 }, .out = { o, 0 } };
		struct ember_add_desc ad = { .rows = 2, .n = 8, .a = { x, 0 },
					     .b = { w, 0 }, .out = { o, 0 },
					     .out_stride = 64 };
		struct ember_op_add op;

		ember_cmdbuf_begin(cb);
		ret = ember_cmdbuf_swiglu(cb, &sd);
		CHECK(ret == -EOPNOTSUPP && strstr(ember_errmsg(dev), "SWIGLU"),
		      "swiglu off: %d %s", ret, ember_errmsg(dev));
		CHECK(ember_cmdbuf_add(cb, &ad) == 0, "%s", ember_errmsg(dev));
		CHECK(ember_cmdbuf_end(cb, &job) == 0, "end");
		memcpy(&op, cmd + job.cmd_offset, sizeof(op));
		CHECK(job.cmd_size == sizeof(op) && op.hdr.opcode == EMBER_OP_ADD &&
		      op.a_stride == 32 && op.b_va == ember_bo_va(w) &&
		      op.out_stride == 64 && job.bo_count == 3, "add encoding");
		ad.out = (struct ember_ref){ w, 0 };
		ember_cmdbuf_begin(cb);
		ret = ember_cmdbuf_add(cb, &ad);
		CHECK(ret == -EINVAL && strstr(ember_errmsg(dev), "overlaps"), "add alias %d", ret);
		ad.out = (struct ember_ref){ o, 0 };
		ad.rows = 0;
		ret = ember_cmdbuf_add(cb, &ad);
		CHECK(ret == -EINVAL, "add rows 0 %d", ret);
	}
	/* COPY */
	{
		struct ember_copy_desc d = {
			.rows = 2, .n = 64, .src_dtype = EMBER_DTYPE_F32,
			.dst_dtype = EMBER_DTYPE_Q8_0, .src = { x, 0 }, .dst = { o, 0 },
		};
		struct ember_op_copy op;

		ember_cmdbuf_begin(cb);
		CHECK(ember_cmdbuf_copy(cb, &d) == 0, "%s", ember_errmsg(dev));
		CHECK(ember_cmdbuf_end(cb, &job) == 0, "end");
		memcpy(&op, cmd + job.cmd_offset, sizeof(op));
		CHECK(op.hdr.opcode == EMBER_OP_COPY && op.src_stride == 256 &&
		      op.dst_stride == 68 && op.dst_dtype == EMBER_DTYPE_Q8_0 &&
		      !op.pad[0], "copy encoding");
		d.n = 48;
		ember_cmdbuf_begin(cb);
		ret = ember_cmdbuf_copy(cb, &d);
		CHECK(ret == -EINVAL && strstr(ember_errmsg(dev), "n % 32"), "copy n %d", ret);
		d.n = 64;
		d.src_dtype = EMBER_DTYPE_F16;
		ret = ember_cmdbuf_copy(cb, &d);
		CHECK(ret == -EOPNOTSUPP && strstr(ember_errmsg(dev), "F32"), "copy f16->q8 %d", ret);
		d.src_dtype = EMBER_DTYPE_F32;
		d.dst_dtype = EMBER_DTYPE_BF16;	/* not in this device's caps */
		ret = ember_cmdbuf_copy(cb, &d);
		CHECK(ret == -EOPNOTSUPP && strstr(ember_errmsg(dev), "BF16"), "copy bf16 %d", ret);
	}
	/* ATTENTION with APPEND_KV | ROPE: caches become written */
	{
		struct ember_attention_desc d = {
			.n_tok = 2, .n_past = 5, .n_head = 4, .n_kv_head = 2,
			.head_dim = 32, .n_ctx = 64, .kv_dtype = EMBER_DTYPE_F16,
			.q = { x, 0 }, .k = { k, 0 }, .v = { v, 0 }, .out = { o, 0 },
			.flags = EMBER_ATTN_APPEND_KV | EMBER_ATTN_ROPE,
			.rope_dim = 16, .k_new = { kn, 0 }, .v_new = { kn, 1024 },
		};
		struct ember_op_attention op;

		ember_cmdbuf_begin(cb);
		CHECK(ember_cmdbuf_attention(cb, &d) == 0, "%s", ember_errmsg(dev));
		CHECK(ember_cmdbuf_end(cb, &job) == 0, "end");
		memcpy(&op, cmd + job.cmd_offset, sizeof(op));
		CHECK(op.hdr.flags == (EMBER_ATTN_APPEND_KV | EMBER_ATTN_ROPE) &&
		      op.rope_dim == 16 && op.rope_freq_base == 10000.0f &&
		      op.k_new_va == ember_bo_va(kn) &&
		      op.v_new_va == ember_bo_va(kn) + 1024 && op.new_stride == 256,
		      "append encoding");
		CHECK(job.bo_count == 5 &&
		      job.bos[1].flags == (DRM_EMBER_BO_READ | DRM_EMBER_BO_WRITE) &&
		      job.bos[2].flags == (DRM_EMBER_BO_READ | DRM_EMBER_BO_WRITE) &&
		      job.bos[4].flags == DRM_EMBER_BO_READ, "append bos");
		d.v_new = (struct ember_ref){ k, 0 };
		ember_cmdbuf_begin(cb);
		ret = ember_cmdbuf_attention(cb, &d);
		CHECK(ret == -EINVAL && strstr(ember_errmsg(dev), "overlaps"), "append alias %d", ret);
		d.v_new = (struct ember_ref){ kn, 1024 };
		d.flags = EMBER_ATTN_ROPE_NEOX;
		ret = ember_cmdbuf_attention(cb, &d);
		CHECK(ret == -EINVAL && strstr(ember_errmsg(dev), "flags"), "neox alone %d", ret);
		d.flags = EMBER_ATTN_ROPE;
		d.rope_dim = 64;
		ret = ember_cmdbuf_attention(cb, &d);
		CHECK(ret == -EINVAL && strstr(ember_errmsg(dev), "rope_dim"), "rope_dim %d", ret);
		d.flags = EMBER_ATTN_APPEND_KV;
		d.k_new = (struct ember_ref){ kn, 8000 };
		ret = ember_cmdbuf_attention(cb, &d);
		CHECK(ret == -ERANGE, "k_new range %d", ret);
		/* a Q8_0 cache needs ABI 1.2: this device runs 1.1 */
		d.k_new = (struct ember_ref){ kn, 0 };
		d.kv_dtype = EMBER_DTYPE_Q8_0;
		ret = ember_cmdbuf_attention(cb, &d);
		CHECK(ret == -EOPNOTSUPP && strstr(ember_errmsg(dev), "ABI 1.2"),
		      "q8 kv on 1.1: %d %s", ret, ember_errmsg(dev));
	}
	CHECK(ember_cmdbuf_used(cb) % 8 == 0, "aligned");
	ember_cmdbuf_free(cb);
	ember_bo_free(x);
	ember_bo_free(w);
	ember_bo_free(o);
	ember_bo_free(k);
	ember_bo_free(v);
	ember_bo_free(kn);
}

static void test_submit(struct ember_device *dev)
{
	struct ember_cmdbuf *cb;
	struct ember_job jobs[3];
	uint64_t seqno = 0;
	int i;

	CHECK(!ember_cmdbuf_create(dev, 4096, &cb), "cb");
	for (i = 0; i < 3; i++) {
		ember_cmdbuf_begin(cb);
		CHECK(!ember_cmdbuf_nop(cb), "nop");
		CHECK(!ember_cmdbuf_end(cb, &jobs[i]), "end");
		CHECK(!ember_job_add_bo(&jobs[i], 100 + i, DRM_EMBER_BO_READ), "add");
		CHECK(!ember_job_add_bo(&jobs[i], 100 + i, DRM_EMBER_BO_WRITE), "merge");
	}
	CHECK(jobs[0].bo_count == 1 &&
	      jobs[0].bos[0].flags == (DRM_EMBER_BO_READ | DRM_EMBER_BO_WRITE), "merged");
	CHECK(ember_submit(dev, jobs, 3, &seqno) == 0, "%s", ember_errmsg(dev));
	CHECK(fk.last_count == 3 && seqno == fk.seqno - 2, "count/seqno");
	for (i = 0; i < 3; i++) {
		CHECK(fk.last_jobs[i].cmd_offset == (uint32_t)i * 8 &&
		      fk.last_jobs[i].cmd_size == 8 && !fk.last_jobs[i].flags &&
		      !fk.last_jobs[i].pad, "job %d", i);
		CHECK(fk.last_jobs[i].bo_count == 1 &&
		      fk.last_bos[i][0].handle == 100u + i, "bos %d", i);
	}
	CHECK(ember_wait(dev, seqno + 2, 1000) == EMBER_JOB_OK, "wait");
	CHECK(ember_wait(dev, seqno + 100, 1000) == -EINVAL, "wait unknown");
	CHECK(strstr(ember_errmsg(dev), "never issued") != NULL, "%s", ember_errmsg(dev));
	CHECK(ember_submit(dev, jobs, 0, NULL) == -EINVAL, "0 jobs");
	{
		struct ember_job *many = calloc(1025, sizeof(*many));

		CHECK(ember_submit(dev, many, 1025, NULL) == -E2BIG, "E2BIG");
		CHECK(strstr(ember_errmsg(dev), "split") != NULL, "%s", ember_errmsg(dev));
		free(many);
	}
	for (i = 0; i < EMBER_JOB_MAX_BOS; i++)
		ember_job_add_bo(&jobs[0], 1000 + i, DRM_EMBER_BO_READ);
	CHECK(ember_job_add_bo(&jobs[0], 5000, DRM_EMBER_BO_READ) == -E2BIG, "full");
	ember_cmdbuf_free(cb);
}

static void test_queue(struct ember_device *dev)
{
	struct ember_completion c[8];
	struct ember_cmdbuf *cb;
	struct ember_queue *q;
	struct ember_job job;
	int i, ret, got = 0;

	CHECK(!ember_cmdbuf_create(dev, 4096, &cb), "cb");
	CHECK(!ember_cmdbuf_nop(cb) && !ember_cmdbuf_end(cb, &job), "job");
	ret = ember_queue_create(dev, 3, &q);
	CHECK(ret == 0, "%s", ember_errmsg(dev));
	if (ret)
		return;
	for (i = 0; i < 4; i++)
		CHECK(ember_queue_push(q, &job, 77 + i) == 0, "push %d", i);
	CHECK(ember_queue_push(q, &job, 99) == -EBUSY, "full (4 entries)");
	CHECK(ember_queue_inflight(q) == 4, "inflight");
	CHECK(ember_queue_wait(q, c, 8, 5, 0) == -EINVAL, "min > inflight");
	CHECK(ember_queue_submit(q) == 4, "submit");
	/* a memfd has no ->uring_cmd: every job completes with -EOPNOTSUPP */
	while (got < 4) {
		ret = ember_queue_wait(q, c + got, 8 - got, 1, 1000000000);
		CHECK(ret > 0, "wait %d: %s", ret, ember_errmsg(dev));
		if (ret <= 0)
			break;
		got += ret;
	}
	for (i = 0; i < got; i++) {
		CHECK(c[i].status == -EOPNOTSUPP, "status %d", c[i].status);
		CHECK(c[i].user_data == 77u + i, "user_data %llu",
		      (unsigned long long)c[i].user_data);
		CHECK(c[i].seqno == 0, "no seqno on error");
	}
	CHECK(ember_queue_inflight(q) == 0, "drained");
	CHECK(ember_queue_reap(q, c, 8) == 0, "nothing left");
	/* slots are reused */
	for (i = 0; i < 4; i++)
		CHECK(ember_queue_push(q, &job, i) == 0, "push again %d", i);
	CHECK(ember_queue_wait(q, c, 8, 4, 1000000000) == 4, "%s", ember_errmsg(dev));
	ember_queue_destroy(q);
	CHECK(ember_queue_create(dev, 0, &q) == -EINVAL && !q, "0 entries");
	ember_cmdbuf_free(cb);
}

/* ABI 1.3: X16 weights are one 64-aligned span of their packed size. */
static void test_x16(struct ember_device *dev)
{
	struct ember_cmdbuf *cb;
	struct ember_op_matmul op;
	struct ember_job job;
	struct mmbufs m;
	uint8_t *cmd;
	int ret;

	mk(dev, &m);
	CHECK(!ember_cmdbuf_create(dev, 4096, &cb), "%s", ember_errmsg(dev));
	CHECK(!ember_bo_map(ember_cmdbuf_bo(cb), (void **)&cmd), "map");
	{
		/* 17 rows of 64: 2 groups x 2 blocks x (256 + 32) bytes */
		struct ember_matmul_desc d = {
			.m = 1, .n = 17, .k = 64, .w_dtype = EMBER_DTYPE_Q4_0,
			.flags = EMBER_MATMUL_W_X16,
			.a = { m.a, 0 }, .w = { m.w, 65536 - 4 * 288 }, .c = { m.c, 0 },
		};

		ember_cmdbuf_begin(cb);
		CHECK(ember_cmdbuf_matmul(cb, &d) == 0, "%s", ember_errmsg(dev));
		CHECK(ember_cmdbuf_end(cb, &job) == 0, "end");
		memcpy(&op, cmd + job.cmd_offset, sizeof(op));
		CHECK(op.hdr.flags == EMBER_MATMUL_W_X16 && op.w_stride == 0 &&
		      op.w_va == ember_bo_va(m.w) + 65536 - 4 * 288, "X16 op");
		ember_cmdbuf_begin(cb);
		d.w.offset += 64;	/* one block past the buffer's end */
		ret = ember_cmdbuf_matmul(cb, &d);
		CHECK(ret == -ERANGE && strstr(ember_errmsg(dev), "does not fit"),
		      "%d %s", ret, ember_errmsg(dev));
		d.w.offset -= 32;
		ret = ember_cmdbuf_matmul(cb, &d);
		CHECK(ret == -EINVAL && strstr(ember_errmsg(dev), "aligned"),
		      "%d %s", ret, ember_errmsg(dev));
	}
	ember_cmdbuf_free(cb);
	rm(&m);
}

/*
 * Threads sharing one device, as ember.h allows: buffers created, mapped,
 * written and freed, commands built in each thread's own command buffer,
 * submitted and waited for, errors provoked and read with
 * ember_errmsg_copy(). Under TSan (meson test -C build-tsan) any race in
 * libember fails the test; here the counts and contents are checked.
 */
#define T_THREADS 4
#define T_ROUNDS 50

struct t_arg {
	struct ember_device *dev;
	int id, bad;
	uint64_t seqnos[T_ROUNDS];
};

static void *t_main(void *p)
{
	struct t_arg *a = p;
	struct ember_cmdbuf *cb;
	char msg[EMBER_ERRMSG_SIZE];

	if (ember_cmdbuf_create(a->dev, 4096, &cb)) {
		a->bad++;
		return NULL;
	}
	for (int r = 0; r < T_ROUNDS; r++) {
		struct ember_bo *bo;
		struct ember_job job;
		uint32_t *m;

		if (ember_bo_create(a->dev, 4096 * (1 + r % 3), &bo) || ember_bo_map(bo, (void **)&m)) {
			a->bad++;
			continue;
		}
		for (int i = 0; i < 1024; i++)
			m[i] = (uint32_t)(a->id << 24 | r << 12 | i);
		ember_cmdbuf_begin(cb);
		if (ember_cmdbuf_nop(cb) || ember_cmdbuf_end(cb, &job) ||
		    ember_job_add_bo(&job, ember_bo_handle(bo), DRM_EMBER_BO_WRITE) ||
		    ember_submit(a->dev, &job, 1, &a->seqnos[r]) ||
		    ember_wait(a->dev, a->seqnos[r], 1000000000) != EMBER_JOB_OK)
			a->bad++;
		if (ember_wait(a->dev, ~0ull >> 1, 1000) != -EINVAL)
			a->bad++;
		ember_errmsg_copy(a->dev, msg, sizeof(msg));
		if (!strstr(msg, "never issued"))
			a->bad++;
		for (int i = 0; i < 1024; i++)
			a->bad += m[i] != (uint32_t)(a->id << 24 | r << 12 | i);
		ember_bo_free(bo);
	}
	ember_cmdbuf_free(cb);
	return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static void test_threads(struct ember_device *dev)
{
	static struct t_arg args[T_THREADS];
	static uint64_t all[T_THREADS * T_ROUNDS];
	pthread_t th[T_THREADS];
	uint32_t closes = fk.closes, handles = fk.next_handle;
	int bad = 0;

	for (int t = 0; t < T_THREADS; t++) {
		args[t] = (struct t_arg){ .dev = dev, .id = t };
		CHECK(pthread_create(&th[t], NULL, t_main, &args[t]) == 0, "thread %d", t);
	}
	for (int t = 0; t < T_THREADS; t++) {
		pthread_join(th[t], NULL);
		bad += args[t].bad;
		memcpy(all + t * T_ROUNDS, args[t].seqnos, sizeof(args[t].seqnos));
	}
	CHECK(bad == 0, "%d wrong results in %d threads", bad, T_THREADS);
	/* a BO per command buffer and per round, each freed once */
	CHECK(fk.next_handle - handles == T_THREADS + T_THREADS * T_ROUNDS &&
	      fk.closes - closes == fk.next_handle - handles,
	      "%u handles, %u closes", fk.next_handle - handles, fk.closes - closes);
	qsort(all, T_THREADS * T_ROUNDS, sizeof(all[0]), cmp_u64);
	for (int i = 1; i < T_THREADS * T_ROUNDS; i++)
		CHECK(all[i] != all[i - 1], "seqno %llu given twice", (unsigned long long)all[i]);
}

int main(void)
{
	struct ember_device *dev;

	fk.memfd = memfd_create("fake-ember", MFD_CLOEXEC);
	if (fk.memfd < 0) {
		perror("memfd_create");
		return 1;
	}
	fk.next_va = FAKE_VA_START;
	fk.caps_ops = 7;		/* an ABI 1.0 device first */
	fk.fw_abi = 1 << 16;
	fk.caps_dtypes = (1u << EMBER_DTYPE_F32) | (1u << EMBER_DTYPE_F16) |
			 (1u << EMBER_DTYPE_Q8_0) | (1u << EMBER_DTYPE_Q4_0);
	dev = open_fake();
	if (!dev)
		return 1;
	CHECK(strcmp(ember_device_info(dev)->fw_version, "fake") == 0, "info");
	CHECK(ember_device_has_op(dev, EMBER_OP_ATTENTION) &&
	      !ember_device_has_op(dev, EMBER_OP_RMSNORM), "caps");
	test_bo(dev);
	test_matmul(dev);
	test_attention(dev);
	test_submit(dev);
	test_queue(dev);
	test_threads(dev);
	test_layer_ops_old_device(dev);
	ember_device_close(dev);
	/* an ABI 1.1 device without SWIGLU */
	fk.caps_ops = 0xff & ~(1u << EMBER_OP_SWIGLU);
	fk.fw_abi = 1 << 16 | 1;
	dev = open_fake();
	if (!dev)
		return 1;
	test_layer_ops(dev);
	ember_device_close(dev);
	/* ABI 1.2: Q8_0 KV caches, with and without Q8_0 in the caps */
	fk.caps_ops = 0xff;
	fk.fw_abi = 1 << 16 | 2;
	dev = open_fake();
	if (!dev)
		return 1;
	test_q8_kv(dev, 1);
	ember_device_close(dev);
	fk.caps_dtypes &= ~(1u << EMBER_DTYPE_Q8_0);
	dev = open_fake();
	if (!dev)
		return 1;
	test_q8_kv(dev, 0);
	ember_device_close(dev);
	fk.fw_abi = 1 << 16 | 3;
	fk.caps_dtypes |= 1u << EMBER_DTYPE_Q8_0;
	dev = open_fake();
	if (!dev)
		return 1;
	test_x16(dev);
	ember_device_close(dev);
	close(fk.memfd);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
