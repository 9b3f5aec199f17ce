/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * Ember NPU: the userspace ABI of ember.ko (ioctls, io_uring commands) and
 * the device command-stream format that userspace writes into buffers.
 *
 * Conventions (as in the other drivers/accel uapis):
 *  - every struct is naturally aligned, user pointers are __u64;
 *  - pad and reserved fields must be zero, unknown flag bits are rejected;
 *  - timeouts are absolute CLOCK_MONOTONIC nanoseconds (__s64).
 *
 * Errnos every ioctl may return besides those listed per ioctl:
 *  EINVAL  a pad/reserved field is non-zero, an unknown flag or enum value,
 *          a size or stride out of its documented range;
 *  EFAULT  a user pointer cannot be read or written;
 *  ENOMEM  the kernel ran out of memory;
 *  ENODEV  the device was unplugged or its firmware is not running.
 * open() of the node also fails with ENODEV once the device is down (a
 * reset after a hang did not bring its firmware back): reload the driver.
 */
#ifndef _UAPI_DRM_EMBER_ACCEL_H_
#define _UAPI_DRM_EMBER_ACCEL_H_

#include "drm.h"

#if defined(__cplusplus)
extern "C" {
#endif

#define DRM_EMBER_GET_PARAM	0x00
#define DRM_EMBER_QUERY		0x01
#define DRM_EMBER_BO_CREATE	0x02
#define DRM_EMBER_BO_INFO	0x03
#define DRM_EMBER_SUBMIT	0x04
#define DRM_EMBER_WAIT		0x05

#define DRM_IOCTL_EMBER_GET_PARAM \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_EMBER_GET_PARAM, struct drm_ember_get_param)
#define DRM_IOCTL_EMBER_QUERY \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_EMBER_QUERY, struct drm_ember_query)
#define DRM_IOCTL_EMBER_BO_CREATE \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_EMBER_BO_CREATE, struct drm_ember_bo_create)
#define DRM_IOCTL_EMBER_BO_INFO \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_EMBER_BO_INFO, struct drm_ember_bo_info)
#define DRM_IOCTL_EMBER_SUBMIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_EMBER_SUBMIT, struct drm_ember_submit)
#define DRM_IOCTL_EMBER_WAIT \
	DRM_IOWR(DRM_COMMAND_BASE + DRM_EMBER_WAIT, struct drm_ember_wait)

/* ---------------------------------------------------------------------- */
/* GET_PARAM: one 64-bit value. EINVAL for an unknown param. */

enum drm_ember_param {
	DRM_EMBER_PARAM_PCI_DEVICE_ID = 0,	/* PCI device id (0xe3b0) */
	DRM_EMBER_PARAM_HW_VERSION = 1,		/* major << 16 | minor */
	DRM_EMBER_PARAM_CAPS_OPS = 2,		/* bit n: opcode n supported */
	DRM_EMBER_PARAM_CAPS_DTYPES = 3,	/* bit n: dtype n supported */
	DRM_EMBER_PARAM_FW_ABI_VERSION = 4,	/* major << 16 | minor */
	DRM_EMBER_PARAM_FW_BUILD_ID = 5,	/* 64-bit firmware build id */
	DRM_EMBER_PARAM_VA_START = 6,		/* first device VA of a BO */
	DRM_EMBER_PARAM_VA_SIZE = 7,		/* size of the per-file VA range */
	DRM_EMBER_PARAM_COMPUTE_UNITS = 8,	/* device compute threads */
	DRM_EMBER_PARAM_MAX_SUBMIT_JOBS = 9,	/* bound of submit.job_count */
	DRM_EMBER_PARAM_MAX_JOB_BOS = 10,	/* bound of job.bo_count */
};

struct drm_ember_get_param {
	__u32 param;	/* in: enum drm_ember_param */
	__u32 pad;	/* must be zero */
	__u64 value;	/* out */
};

/* ---------------------------------------------------------------------- */
/*
 * QUERY: size-negotiated structured information. With size == 0 the kernel
 * only writes the size it has for @type. Otherwise it copies
 * min(size, its size) bytes to @ptr and writes back its own size; fields a
 * newer kernel adds at the end are simply not copied to an older caller.
 * EINVAL for an unknown @type.
 */
enum drm_ember_query_type {
	DRM_EMBER_QUERY_DEVICE_INFO = 0,	/* struct drm_ember_device_info */
	DRM_EMBER_QUERY_PERF = 1,		/* struct drm_ember_perf */
};

struct drm_ember_query {
	__u32 type;	/* in: enum drm_ember_query_type */
	__u32 size;	/* in: bytes at ptr; out: bytes the kernel has */
	__u64 ptr;	/* in: user pointer */
};

struct drm_ember_device_info {
	__u32 pci_vendor;
	__u32 pci_device;
	__u32 hw_version;	/* major << 16 | minor */
	__u32 fw_abi_version;	/* major << 16 | minor */
	__u64 fw_build_id;
	__u64 caps_ops;		/* bit n: opcode n (enum ember_opcode) */
	__u64 caps_dtypes;	/* bit n: dtype n (enum ember_dtype) */
	__u64 va_start;
	__u64 va_size;
	__u32 compute_units;
	__u32 queue_depth;	/* hardware ring entries */
	__u32 max_submit_jobs;
	__u32 max_job_bos;
	char fw_version[32];	/* NUL-terminated firmware version string */
};

/* Device performance counters, monotonic since probe (or reset). */
struct drm_ember_perf {
	__u64 busy_ns;		/* time the device spent running jobs */
	__u64 jobs;		/* jobs completed, any status */
	__u64 ops;		/* command-stream ops executed */
	__u64 bytes_read;	/* bytes the device read through its MMU */
	__u64 bytes_written;	/* bytes the device wrote through its MMU */
	__u64 mmu_faults;
	__u64 timeouts;		/* jobs the driver aborted after a timeout */
	__u64 resets;		/* device resets done by the driver */
	__u64 bytes_copied;	/* operand bytes the device copied through
				 * bounce buffers instead of accessing them
				 * in place (0 from kernels without it) */
};

/* ---------------------------------------------------------------------- */
/*
 * BO_CREATE: a shmem-backed buffer, mapped at once into this file's device
 * address space. @size is rounded up to 4 KiB.
 * EINVAL: size == 0 or flags/pad non-zero; E2BIG: size above 4 GiB;
 * ENOSPC: the file's device VA range is full.
 */
struct drm_ember_bo_create {
	__u64 size;		/* in */
	__u32 flags;		/* in: must be zero */
	__u32 handle;		/* out: GEM handle */
	__u64 dev_va;		/* out: device VA in this file's address space */
	__u64 mmap_offset;	/* out: offset for mmap() on the DRM fd */
};

/* BO_INFO: ENOENT for an unknown handle. */
struct drm_ember_bo_info {
	__u32 handle;		/* in */
	__u32 pad;		/* must be zero */
	__u64 size;		/* out */
	__u64 dev_va;		/* out */
	__u64 mmap_offset;	/* out */
};

/* ---------------------------------------------------------------------- */
/*
 * SUBMIT: one or more jobs. Each job names the BO that holds its command
 * stream and every BO the stream touches, with how it is used; the kernel
 * keeps those BOs alive and orders the job after earlier writers (READ) or
 * after all earlier users (WRITE) of each BO. Jobs of one file complete in
 * submission order and get consecutive fence seqnos on that file's timeline.
 *
 * Errnos: EINVAL (pad, flags, stride < sizeof(struct drm_ember_job),
 * job_count == 0, cmd_size == 0 or not a multiple of 8, cmd_offset not
 * 8-aligned), E2BIG (job_count > MAX_SUBMIT_JOBS, bo_count > MAX_JOB_BOS),
 * ENOENT (an unknown BO handle or syncobj), ERANGE (cmd_offset + cmd_size
 * beyond the command BO), EBADFD (an earlier job of this file faulted the
 * MMU: the context is dead, open a new file), EAGAIN (the file already has
 * 1024 jobs in flight and none finished for 4 job timeouts, or the file's
 * earlier calls, see below, made no progress for 8 job timeouts while this
 * one waited for its turn), EINTR (a signal arrived while waiting).
 * On error no job of the call was queued.
 *
 * Order between calls: SUBMIT ioctls and io_uring SUBMIT commands on one
 * file are queued (given their seqnos and their dependencies on the BOs'
 * earlier users) in the order they reached the driver, even when one of
 * them has to wait (for the file's submit lock, a BO lock, or room among
 * the 1024 jobs a file may have in flight). A call reaches the driver inside
 * the SUBMIT ioctl, or at the SQE's issue, see the io_uring section. Calls
 * made one after the other from one thread, or ordered by the program in
 * any other way, are therefore queued in that order, whichever path each
 * takes; concurrent calls get some order. A call that fails was not queued
 * and does not hold up the calls after it.
 */
#define DRM_EMBER_BO_READ	(1u << 0)
#define DRM_EMBER_BO_WRITE	(1u << 1)

struct drm_ember_bo_ref {
	__u32 handle;
	__u32 flags;		/* DRM_EMBER_BO_READ | DRM_EMBER_BO_WRITE */
};

struct drm_ember_job {
	__u32 cmd_handle;	/* BO holding the command stream */
	__u32 cmd_offset;	/* byte offset of the stream in it, 8-aligned */
	__u32 cmd_size;		/* bytes, multiple of 8 */
	__u32 bo_count;		/* entries at @bos; cmd_handle need not be listed */
	__u64 bos;		/* user pointer to struct drm_ember_bo_ref[] */
	__u32 flags;		/* must be zero */
	__u32 pad;		/* must be zero */
};

struct drm_ember_submit {
	__u64 jobs;		/* user pointer to job_count jobs, job_stride apart */
	__u32 job_count;
	__u32 job_stride;	/* sizeof(struct drm_ember_job) or more */
	__u32 flags;		/* must be zero */
	__u32 in_syncobj;	/* 0 or a binary syncobj the jobs wait for */
	__u32 out_syncobj;	/* 0 or a binary syncobj signalled with the last job */
	__u32 pad;		/* must be zero */
	__u64 seqno;		/* out: seqno of the first job; job i is seqno + i */
};

/*
 * WAIT: wait until job @seqno of this file has completed, up to the
 * absolute CLOCK_MONOTONIC @timeout_ns, and return its status.
 * ETIME: not complete by then (the job goes on); EINVAL: seqno 0 or never
 * issued by this file; ENOENT: completed so long ago (more than 4096 jobs
 * back) that its status is no longer kept; EINTR: a signal arrived.
 */
struct drm_ember_wait {
	__u64 seqno;		/* in */
	__s64 timeout_ns;	/* in: absolute CLOCK_MONOTONIC */
	__u32 flags;		/* in: must be zero */
	__u32 status;		/* out: enum ember_job_status */
};

/* ---------------------------------------------------------------------- */
/*
 * io_uring: IORING_OP_URING_CMD on the DRM fd, on a ring set up with
 * IORING_SETUP_SQE128 | IORING_SETUP_CQE32 (EINVAL otherwise) and without
 * IORING_SETUP_IOPOLL (EOPNOTSUPP). sqe->cmd_op selects the command and
 * sqe->cmd (80 bytes) holds its payload.
 *
 * DRM_EMBER_URING_CMD_SUBMIT: payload struct drm_ember_job (one job, same
 * rules and errnos as SUBMIT). The CQE is posted when the job's fence
 * signals: cqe->res = enum ember_job_status (>= 0), cqe->big_cqe[0] = the
 * job's seqno; or cqe->res = -errno if it could not be queued, or
 * -ECANCELED if the ring was torn down, or the submitting task exec()ed or
 * exited, before the job ended (after an exit the CQE comes when the job
 * ends). A job already queued still runs, unless its file is released
 * with the ring after its process is gone: the jobs not yet in the
 * hardware ring are then dropped. One still waiting for its turn is
 * dropped.
 * Many SQEs in one io_uring_enter() become many jobs in flight.
 *
 * Order: the driver reads the SQE (payload and BO list) once, at the SQE's
 * issue, and the job takes its place among the file's submissions there
 * (see SUBMIT). SQEs that io_uring_enter() or the SQPOLL thread issues are
 * issued in ring order, so their jobs are queued in SQE order, and before
 * any SUBMIT ioctl called after that io_uring_enter() returned, with
 * seqnos rising in the same order. The driver never hands a command back
 * to io_uring to retry: a job that cannot be queued at once without
 * sleeping keeps its place and is queued by the driver in its turn. An SQE
 * that io_uring issues later (IOSQE_ASYNC, IOSQE_IO_DRAIN, a link waiting
 * for its predecessor) takes its place when it is issued.
 */
#define DRM_EMBER_URING_CMD_SUBMIT	0x01

/* ---------------------------------------------------------------------- */
/* Job status: WAIT.status, the io_uring CQE res, the device's job record. */
enum ember_job_status {
	EMBER_JOB_OK = 0,
	EMBER_JOB_BAD_OP = 1,		/* unknown opcode or malformed op header */
	EMBER_JOB_BAD_DESC = 2,		/* invalid op fields: shape, stride,
					 * alignment, overflow, unknown flag */
	EMBER_JOB_UNSUPPORTED = 3,	/* op or dtype this device lacks */
	EMBER_JOB_MMU_FAULT = 4,	/* address unmapped or not permitted */
	EMBER_JOB_TIMEOUT = 5,		/* aborted by the driver after a timeout */
	EMBER_JOB_ABORTED = 6,		/* aborted by a device reset */
	EMBER_JOB_FW_ERROR = 7,		/* internal firmware error */
};

/* ---------------------------------------------------------------------- */
/*
 * Command stream: a sequence of ops, each starting with struct ember_op_hdr,
 * each hdr.size bytes long (a multiple of 8, at least the op's struct size),
 * filling the job's cmd_size exactly. Addresses are device VAs in the
 * submitting file's address space. Strides are in bytes. The device
 * validates every op of a job before it runs the first one.
 *
 * Rules every op must meet (else the status in brackets):
 *  - opcode known [BAD_OP]; opcode reserved or switched off in CAPS_OPS, or a
 *    dtype switched off in CAPS_DTYPES or not allowed in that field
 *    [UNSUPPORTED]; hdr.size a multiple of 8, at least the op's struct, the
 *    ops filling cmd_size exactly (at most 64 MiB) [BAD_OP];
 *  - unknown flag bits, non-zero pad/reserved fields or bytes past the
 *    struct, a dtype number that is not enum ember_dtype [BAD_DESC];
 *  - shapes non-zero and bounded: m, n, k, n_tok, rows, dim <= 2^20,
 *    n_head <= 4096, n_ctx <= 2^24, head_dim <= 512 [BAD_DESC];
 *  - strides at least the row size (even for a single row) and aligned to
 *    the element or block size, addresses aligned likewise, no address range
 *    wrapping around [BAD_DESC];
 *  - no output's byte span overlapping any input's span or another
 *    output's (except ROPE's documented in-place form); optional addresses
 *    zero unless their flag is set; scale, eps, freq_base finite
 *    [BAD_DESC];
 *  - every byte an op touches mapped with the permission it needs
 *    [MMU_FAULT, checked when the op runs].
 */
enum ember_opcode {
	EMBER_OP_NOP = 0,
	EMBER_OP_MATMUL = 1,
	EMBER_OP_ATTENTION = 2,
	EMBER_OP_RMSNORM = 3,		/* ABI 1.1 */
	EMBER_OP_ROPE = 4,		/* ABI 1.1 */
	EMBER_OP_SWIGLU = 5,		/* ABI 1.1 */
	EMBER_OP_ADD = 6,		/* ABI 1.1 */
	EMBER_OP_COPY = 7,		/* ABI 1.1 */
	EMBER_OP_COUNT
};

/*
 * Data types use the GGML/GGUF type numbers and block layouts
 * (firmware/include/ember/kernels.h), so model weights go as loaded.
 */
enum ember_dtype {
	EMBER_DTYPE_F32 = 0,
	EMBER_DTYPE_F16 = 1,
	EMBER_DTYPE_Q4_0 = 2,		/* 18-byte blocks of 32: f16 d, 16 B nibbles */
	EMBER_DTYPE_Q4_1 = 3,		/* ABI 1.4: 20-byte blocks of 32: f16 d, m */
	EMBER_DTYPE_Q5_0 = 6,		/* ABI 1.4: 22-byte blocks of 32 */
	EMBER_DTYPE_Q5_1 = 7,		/* ABI 1.4: 24-byte blocks of 32 */
	EMBER_DTYPE_Q8_0 = 8,		/* 34-byte blocks of 32: f16 d, 32 x i8 */
	EMBER_DTYPE_Q4_K = 12,		/* ABI 1.4: 144-byte super-blocks of 256 */
	EMBER_DTYPE_Q5_K = 13,		/* ABI 1.4: 176-byte super-blocks of 256 */
	EMBER_DTYPE_Q6_K = 14,		/* ABI 1.4: 210-byte super-blocks of 256 */
	EMBER_DTYPE_BF16 = 30,
};

struct ember_op_hdr {
	__u16 opcode;		/* enum ember_opcode */
	__u16 size;		/* bytes of this op, header included */
	__u32 flags;		/* op-specific; unknown bits -> BAD_DESC */
};

/*
 * MATMUL: C[m][n] = sum_k A[m][k] * W[n][k]  (+ bias[n]) (+ C[m][n])
 * A: f32 rows of k, a_stride apart. W: n rows of k weights in w_dtype,
 * w_stride apart (row-major [N,K] as GGUF stores it; block formats need
 * k % 32 == 0, the K-quants k % 256 == 0). C: f32 rows of n, c_stride
 * apart. bias: f32[n].
 */
#define EMBER_MATMUL_ACCUMULATE	(1u << 0)	/* add into C */
#define EMBER_MATMUL_BIAS	(1u << 1)	/* add bias[n] */
/*
 * ABI 1.3: W is Q8_0 or Q4_0 in the X16 layout, n rows interleaved sixteen
 * at a time (firmware/include/ember/kernels.h, ek_x16_pack: one 64-byte
 * load feeds sixteen rows; the layout the CPU backend multiplies in on
 * AVX-512 VNNI hosts). w_va is 64-aligned, w_stride is 0 and W spans
 * ek_x16_size(w_dtype, n, k) bytes: ceil(n / 16) * (k / 32) * (512 + 32)
 * for Q8_0, (256 + 32) for Q4_0 [BAD_DESC]; another w_dtype is UNSUPPORTED.
 */
#define EMBER_MATMUL_W_X16	(1u << 2)

struct ember_op_matmul {
	struct ember_op_hdr hdr;
	__u32 m, n, k;
	__u8 w_dtype;		/* enum ember_dtype */
	__u8 a_dtype;		/* EMBER_DTYPE_F32 */
	__u8 c_dtype;		/* EMBER_DTYPE_F32 */
	__u8 pad;
	__u64 a_va, w_va, c_va, bias_va;
	__u64 a_stride, w_stride, c_stride;
};

/*
 * ATTENTION, causal, grouped-query. For token t < n_tok at position
 * p = n_past + t and query head h, with kv head g = h / (n_head / n_kv_head):
 *   out[t][h] = sum_{j <= p} softmax_j(scale * Q'[t][h] . K[j][g]) V[j][g]
 * Q: f32 [n_tok][n_head][head_dim], q_stride bytes between tokens.
 * K, V cache: kv_dtype (F32 or F16; Q8_0 since ABI 1.2)
 *   [n_ctx][n_kv_head][head_dim], kv_stride bytes between positions;
 *   positions 0 .. n_past+n_tok-1 used. A Q8_0 cache needs head_dim % 32
 *   == 0 [BAD_DESC]: a position's row is n_kv_head * head_dim / 32 blocks
 *   of 34 bytes, each head's whole blocks in turn, so kv_stride and the
 *   cache addresses are 2-aligned. Other dtypes, or Q8_0 on firmware
 *   before ABI 1.2, are UNSUPPORTED.
 * out: f32 [n_tok][n_head * head_dim], out_stride bytes between tokens.
 *
 * EMBER_ATTN_APPEND_KV (ABI 1.1): before attending, k_new/v_new, f32
 *   [n_tok][n_kv_head][head_dim] rows new_stride apart, are converted to
 *   kv_dtype and written to the cache at positions n_past .. n_past+n_tok-1
 *   (K rows rotated first when EMBER_ATTN_ROPE is set; F16 rounds to
 *   nearest even; Q8_0 per 32-block: d = max|x| / 127 in f32, stored as
 *   f16, q = round(x * (1 / d)) half away from zero, as ggml does). The
 *   cache ranges are then outputs: they must not overlap each other, Q,
 *   k_new, v_new or out. Without the flag k_new_va, v_new_va and
 *   new_stride must be zero.
 * EMBER_ATTN_ROPE (ABI 1.1): Q' = Q rotated as EMBER_OP_ROPE does, token t
 *   at position n_past + t, first rope_dim dims of each head (rope_dim even,
 *   2 <= rope_dim <= head_dim), theta = pos * rope_freq_base^(-2i/rope_dim),
 *   rope_freq_base finite and > 0; EMBER_ATTN_ROPE_NEOX selects the NEOX
 *   pairing (needs EMBER_ATTN_ROPE). The rotation happens in device work
 *   memory: the caller's Q buffer is only read. Keys already in the cache
 *   are not rotated again; with APPEND_KV the new keys are. Without the
 *   flag Q' = Q and rope_dim, rope_freq_base must be zero.
 * Decode step of a layer = one ATTENTION op with APPEND_KV | ROPE.
 */
#define EMBER_ATTN_APPEND_KV	(1u << 0)	/* ABI 1.1 */
#define EMBER_ATTN_ROPE		(1u << 1)	/* ABI 1.1 */
#define EMBER_ATTN_ROPE_NEOX	(1u << 2)	/* ABI 1.1 */

struct ember_op_attention {
	struct ember_op_hdr hdr;
	__u32 n_tok, n_past;
	__u32 n_head, n_kv_head;
	__u32 head_dim;
	__u8 kv_dtype;		/* F32, F16, Q8_0 (ABI 1.2) */
	__u8 pad0[3];
	float scale;		/* usually 1 / sqrt(head_dim) */
	__u32 n_ctx;		/* positions the cache holds (bounds check) */
	__u32 rope_dim;		/* EMBER_ATTN_ROPE only, else zero */
	float rope_freq_base;	/* EMBER_ATTN_ROPE only, else zero */
	__u64 q_va, q_stride;
	__u64 k_va, v_va, kv_stride;
	__u64 out_va, out_stride;
	__u64 k_new_va, v_new_va, new_stride;	/* EMBER_ATTN_APPEND_KV only */
};

/*
 * RMSNORM (ABI 1.1): for each of @rows rows of @dim f32,
 *   out[r][i] = x[r][i] / sqrt(mean_i(x[r][i]^2) + eps) (* w[i])
 * x, out: f32 rows, x_stride / out_stride apart; w: f32[dim], used only with
 * EMBER_RMSNORM_WEIGHT (else w_va must be zero). eps finite and >= 0.
 * out must not overlap x or w.
 */
#define EMBER_RMSNORM_WEIGHT	(1u << 0)	/* multiply by w[dim] */

struct ember_op_rmsnorm {
	struct ember_op_hdr hdr;
	__u32 rows, dim;
	float eps;
	__u32 pad;		/* must be zero */
	__u64 x_va, x_stride;
	__u64 w_va;
	__u64 out_va, out_stride;
};

/*
 * ROPE (ABI 1.1): rotary position embedding. x: @rows f32 rows of
 * n_head x head_dim, x_stride apart; row t is at position pos0 + t. In each
 * head the first rope_dim dims rotate (rope_dim even, 2 <= rope_dim <=
 * head_dim), the rest are copied: pair i (i < rope_dim / 2) is
 * (2i, 2i+1) (NORM, llama) or (i, i + rope_dim/2) with EMBER_ROPE_NEOX
 * (qwen2), theta = pos * freq_base^(-2i/rope_dim), freq_base finite > 0,
 * pos0 + rows <= 2^24.
 *   (a, b) -> (a cos theta - b sin theta, a sin theta + b cos theta)
 * In place when out_va == x_va and out_stride == x_stride; otherwise out
 * (same shape, out_stride apart) must not overlap x.
 */
#define EMBER_ROPE_NEOX		(1u << 0)

struct ember_op_rope {
	struct ember_op_hdr hdr;
	__u32 rows, n_head, head_dim, rope_dim;
	__u32 pos0;
	float freq_base;
	__u64 x_va, x_stride;
	__u64 out_va, out_stride;
};

/*
 * SWIGLU (ABI 1.1): out[r][i] = silu(gate[r][i]) * up[r][i], silu(x) =
 * x / (1 + e^-x); @rows f32 rows of @n, each operand its own stride.
 * out must not overlap gate or up. No flags.
 */
struct ember_op_swiglu {
	struct ember_op_hdr hdr;
	__u32 rows, n;
	__u64 gate_va, gate_stride;
	__u64 up_va, up_stride;
	__u64 out_va, out_stride;
};

/*
 * ADD (ABI 1.1): out[r][i] = a[r][i] + b[r][i]; @rows f32 rows of @n.
 * out must not overlap a or b (a and b may overlap). No flags.
 */
struct ember_op_add {
	struct ember_op_hdr hdr;
	__u32 rows, n;
	__u64 a_va, a_stride;
	__u64 b_va, b_stride;
	__u64 out_va, out_stride;
};

/*
 * COPY (ABI 1.1): copy @rows rows of @n elements from src (src_dtype,
 * src_stride apart) to dst (dst_dtype, dst_stride apart), converting:
 * src_dtype == dst_dtype copies the bytes; otherwise one side must be F32
 * (F32 <-> F16, BF16 or a block type; else UNSUPPORTED). F32 -> F16/BF16
 * rounds to nearest even; F32 -> a block type quantizes as ek_quantize_row()
 * (firmware/include/ember/kernels.h; Q8_0/Q4_0 as GGML's reference does), so
 * n % 32 == 0 for block types and n % 256 == 0 for K-quants (ABI 1.4).
 * dst must not overlap src. No flags.
 */
struct ember_op_copy {
	struct ember_op_hdr hdr;
	__u32 rows, n;
	__u8 src_dtype;		/* enum ember_dtype */
	__u8 dst_dtype;		/* enum ember_dtype */
	__u8 pad[6];		/* must be zero */
	__u64 src_va, src_stride;
	__u64 dst_va, dst_stride;
};

#if defined(__cplusplus)
}
#endif

#endif /* _UAPI_DRM_EMBER_ACCEL_H_ */
