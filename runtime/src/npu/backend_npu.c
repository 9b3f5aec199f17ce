/* SPDX-License-Identifier: MIT */
/*
 * The NPU backend. At creation it copies the model's weights, as the file
 * stores them, into one device buffer and puts the activations and KV
 * caches in two more, which are also the session's state: every backend
 * then reads and writes the same memory, and a step the device cannot run
 * goes to the CPU with nothing to copy. run() only appends a step's ops to
 * the pass's command buffer (one job, or a few for a long prefill);
 * sync() hands the pass to the device and waits once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <drm/ember_accel.h>

#include "../error.h"
#include "npu.h"

#define ALIGN 64u
#define MiB(x) ((unsigned long long)((x) >> 20))
/* ATTENTION takes a Q8_0 cache from firmware ABI 1.2 on. */
#define ABI_Q8_0_KV 0x10002u
#define ABI_X16 0x10003u		/* EMBER_MATMUL_W_X16 */

struct npu {
	struct fwd_state *st;
	struct npu_transport tp;
	struct npu_buf wbuf, sbuf, kvbuf, cbuf;
	struct npu_layer_desc *ld;
	struct npu_layer_va *lv;
	struct npu_map map;
	uint64_t wbytes, sbytes, kvbytes, cbytes;	/* the buffers' sizes */
	struct npu_job *jobs;
	uint32_t n_jobs, max_jobs;
	uint32_t used;		/* command bytes of the pass so far */
	bool job_open;
	double job_flops;	/* work queued in the open job */
	struct ember_error err;	/* why the last pass failed */
	struct npu_failure fail;	/* ... and how */
	uint32_t reopens;	/* contexts replaced after the driver killed one */
};

static uint64_t align_up(uint64_t x)
{
	return (x + ALIGN - 1) & ~(uint64_t)(ALIGN - 1);
}

/* ---- laying out the weights ----------------------------------------------- */

/* Places blobs one after the other; with dst set, also copies them. */
struct packer {
	uint8_t *dst;
	uint64_t base_va, off;
	bool x16;		/* Q8_0 / Q4_0 matrices in the X16 layout */
};

static uint64_t put(struct packer *p, const void *src, uint64_t bytes)
{
	uint64_t va = p->base_va + p->off;

	if (p->dst)
		memcpy(p->dst + p->off, src, bytes);
	p->off = align_up(p->off + bytes);
	return va;
}

/* A matrix as GGUF rows (what COPY gathers from) or, for a MATMUL that
 * allows it, in the X16 layout the device multiplies fastest. */
static uint64_t put_weight(struct packer *p, const struct weight *w,
			   struct npu_weight_desc *d, bool matmul)
{
	uint64_t va = p->base_va + p->off, bytes;

	d->dtype = w->dtype;
	d->stride = w->stride;
	d->x16 = false;
	bytes = matmul && p->x16 ? ek_x16_size(w->dtype, w->n_out, w->n_in) : 0;
	if (!bytes)
		return put(p, w->rows, (uint64_t)w->stride * w->n_out);
	d->x16 = true;
	d->stride = 0;
	if (p->dst)
		ek_x16_pack(w->dtype, w->rows, w->stride, w->n_out, w->n_in,
			    p->dst + p->off);
	p->off = align_up(p->off + bytes);
	return va;
}

static uint64_t put_vec(struct packer *p, const float *v, uint32_t n)
{
	return v ? put(p, v, (uint64_t)n * 4) : 0;
}

static void pack_weights(struct npu *n, struct packer *p)
{
	const struct ember_model *m = n->st->m;
	const struct ember_model_info *in = &m->info;
	const struct weight *head = in->tied_embeddings ? &m->tok_embd : &m->output;
	uint32_t d = in->n_embd, kvd = in->n_head_kv * in->head_dim;

	n->map.embd_va = put_weight(p, &m->tok_embd, &n->map.embd, false);
	if (in->tied_embeddings &&
	    !(p->x16 && ek_x16_size(head->dtype, head->n_out, head->n_in))) {
		n->map.output = n->map.embd;
		n->map.output_va = n->map.embd_va;
	} else {
		/* Tied embeddings get a second copy, as X16, for the LM head:
		 * the gather needs rows, the head is a fifth of a small
		 * model's bytes per token. */
		n->map.output_va = put_weight(p, head, &n->map.output, true);
	}
	n->map.output_norm_va = put_vec(p, m->output_norm, d);
	for (uint32_t i = 0; i < in->n_layer; i++) {
		const struct layer *l = &m->layers[i];
		struct npu_layer_desc *ld = &n->ld[i];
		struct npu_layer_va *lv = &n->lv[i];

		lv->attn_norm = put_vec(p, l->attn_norm, d);
		lv->ffn_norm = put_vec(p, l->ffn_norm, d);
		lv->bq = put_vec(p, l->bq, d);
		lv->bk = put_vec(p, l->bk, kvd);
		lv->bv = put_vec(p, l->bv, kvd);
		lv->wq = put_weight(p, &l->wq, &ld->wq, true);
		lv->wk = put_weight(p, &l->wk, &ld->wk, true);
		lv->wv = put_weight(p, &l->wv, &ld->wv, true);
		lv->wo = put_weight(p, &l->wo, &ld->wo, true);
		lv->gate = put_weight(p, &l->gate, &ld->gate, true);
		lv->up = put_weight(p, &l->up, &ld->up, true);
		lv->down = put_weight(p, &l->down, &ld->down, true);
	}
}

/* ---- the state: activations and KV caches ---------------------------------- */

/* Lays out (cpu NULL) or points st and the map at the activations. */
static uint64_t place_state(struct npu *n, uint64_t va, uint8_t *cpu)
{
	struct fwd_state *st = n->st;
	const struct ember_model_info *in = &st->m->info;
	uint64_t B = st->n_batch, d = in->n_embd, kvd = in->n_head_kv * in->head_dim;
	struct {
		float **cpu;
		uint64_t *va;
		uint64_t bytes;
	} t[] = {
		{ &st->x, &n->map.x, B * d * 4 },
		{ &st->xb, &n->map.xb, B * d * 4 },
		{ &st->q, &n->map.q, B * d * 4 },
		{ &st->k, &n->map.k, B * kvd * 4 },
		{ &st->v, &n->map.v, B * kvd * 4 },
		{ &st->att, &n->map.att, B * d * 4 },
		{ &st->hb, &n->map.hb, B * in->n_ff * 4 },
		{ &st->hb2, &n->map.hb2, B * in->n_ff * 4 },
		{ NULL, &n->map.hb3, B * in->n_ff * 4 },
		{ &st->logits, &n->map.logits, (uint64_t)in->n_vocab * 4 },
	};
	uint64_t off = 0;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (cpu) {
			*t[i].va = va + off;
			if (t[i].cpu)
				*t[i].cpu = (float *)(cpu + off);
		}
		off = align_up(off + t[i].bytes);
	}
	return off;
}

static uint64_t place_kv(struct npu *n, uint64_t va, uint8_t *cpu)
{
	struct fwd_state *st = n->st;
	uint64_t bytes = align_up(st->kv_row * st->n_ctx), off = 0;

	for (uint32_t l = 0; l < st->m->info.n_layer; l++, off += 2 * bytes) {
		if (!cpu)
			continue;
		n->lv[l].k_cache = va + off;
		n->lv[l].v_cache = va + off + bytes;
		st->k_cache[l] = cpu + off;
		st->v_cache[l] = cpu + off + bytes;
	}
	return off;
}

/* Bytes of command stream a whole pass of n_batch tokens can need. */
static uint32_t pass_cmd_bytes(const struct fwd_state *st)
{
	struct step s = { .kind = STEP_EMBED, .n_tok = st->n_batch };
	uint64_t b = npu_program_step_size(&s);

	s.kind = STEP_ATTN;
	b += (uint64_t)st->m->info.n_layer * npu_program_step_size(&s);
	s.kind = STEP_FFN;
	b += (uint64_t)st->m->info.n_layer * npu_program_step_size(&s);
	s.kind = STEP_OUTPUT;
	b += npu_program_step_size(&s);
	return (uint32_t)align_up(b > UINT32_MAX / 2 ? UINT32_MAX / 2 : b);
}

/* MemAvailable from /proc/meminfo, or 0 if unknown. */
static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	unsigned long long kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return (uint64_t)kb << 10;
}

/* ---- the backend ---------------------------------------------------------------- */

static bool npu_supports(void *priv, const struct step *s)
{
	struct npu *n = priv;
	uint64_t ops, dtypes;

	npu_program_needs(&n->map, s, &ops, &dtypes);
	if ((ops & n->tp.caps.ops) != ops || (dtypes & n->tp.caps.dtypes) != dtypes)
		return false;
	if (s->kind == STEP_ATTN && n->map.kv_dtype == EMBER_DTYPE_Q8_0 &&
	    n->tp.caps.fw_abi < ABI_Q8_0_KV)
		return false;
	return true;
}

/*
 * How much work one job may hold. Every job costs the guest an interrupt,
 * a fence and a wake-up, which under TCG is worth more than a decode
 * step's compute, so a decode pass is one job; a long prefill is split so
 * that no job comes near the driver's timeout (5 s by default): 20 GFLOP
 * take well under a second on the device's threads.
 */
#define JOB_FLOPS 20e9

/* Multiply-adds of a step's matmuls, times two. */
static double step_flops(const struct npu *n, const struct step *s)
{
	const struct ember_model_info *in = &n->st->m->info;
	double d = in->n_embd, kvd = (double)in->n_head_kv * in->head_dim, ff = in->n_ff;

	switch (s->kind) {
	case STEP_ATTN: return 2.0 * s->n_tok * (d * (2 * d + 2 * kvd) +
						  (double)(s->n_past + s->n_tok) * 2 * d);
	case STEP_FFN: return 2.0 * s->n_tok * 3 * d * ff;
	case STEP_OUTPUT: return 2.0 * d * in->n_vocab;
	case STEP_EMBED: return 0;
	}
	return 0;
}

static void close_job(struct npu *n)
{
	if (n->job_open) {
		struct npu_job *j = &n->jobs[n->n_jobs - 1];

		j->cmd_size = n->used - j->cmd_off;
		n->job_open = false;
	}
}

/* Forgets the queued pass: it ran, or it is abandoned. */
static void drop_pass(struct npu *n)
{
	n->job_open = false;
	n->n_jobs = 0;
	n->used = 0;
}

static int npu_sync(void *priv)
{
	struct npu *n = priv;
	const struct npu_buf *bufs[] = { &n->wbuf, &n->sbuf, &n->kvbuf };
	int ret = 0;

	n->err.msg[0] = 0;
	n->fail = (struct npu_failure){ .job = -1, .status = -1 };
	close_job(n);
	if (n->n_jobs)
		ret = n->tp.ops->run(n->tp.ctx, &n->cbuf, n->jobs, n->n_jobs, bufs, 3,
				     n->err.msg, &n->fail);
	drop_pass(n);
	return ret;
}

/* Appends the step's ops to the open job (a new one when it is full). */
static int npu_run(void *priv, const struct step *s)
{
	struct npu *n = priv;
	int ret;

	n->err.msg[0] = 0;
	if (npu_program_step_size(s) > n->cbuf.size - n->used || n->n_jobs == n->max_jobs) {
		ret = npu_sync(n);
		if (ret)
			return ret;
	}
	if (n->job_open && n->job_flops + step_flops(n, s) > JOB_FLOPS)
		close_job(n);
	if (!n->job_open) {
		n->jobs[n->n_jobs++] = (struct npu_job){ .cmd_off = n->used };
		n->job_open = true;
		n->job_flops = 0;
	}
	n->job_flops += step_flops(n, s);
	ret = npu_program_step(&n->map, s, n->cbuf.cpu, (uint32_t)n->cbuf.size, &n->used);
	if (ret) {
		/* the pass cannot complete: none of it may reach the device */
		drop_pass(n);
		n->fail = (struct npu_failure){ .job = -1, .status = -1, .err = ret };
		return ember_fail(&n->err, ret, "cannot build the NPU commands of a step (%s)",
				  strerror(-ret));
	}
	return 0;
}

static const char *npu_errmsg(void *priv)
{
	return ((struct npu *)priv)->err.msg;
}

/* The four device buffers, in the order they are allocated. */
struct npu_bufs {
	struct npu_buf w, s, kv, c;
};

static void free_bufs(const struct npu_transport *tp, struct npu_bufs *b)
{
	struct npu_buf *all[] = { &b->c, &b->kv, &b->s, &b->w };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (all[i]->cpu)
			tp->ops->free(tp->ctx, all[i]);
}

static void npu_destroy(void *priv)
{
	struct npu *n = priv;
	struct npu_bufs b = { n->wbuf, n->sbuf, n->kvbuf, n->cbuf };

	if (n->tp.ops) {
		free_bufs(&n->tp, &b);
		n->tp.ops->destroy(n->tp.ctx);
	}
	free(n->jobs);
	free(n->ld);
	free(n->lv);
	free(n);
}

static const struct backend_ops npu_ops = {
	.name = "npu",
	.supports = npu_supports,
	.run = npu_run,
	.sync = npu_sync,
	.errmsg = npu_errmsg,
	.destroy = npu_destroy,
};

const struct npu_caps *npu_backend_caps(const struct backend *b)
{
	return &((const struct npu *)b->priv)->tp.caps;
}

int npu_backend_counters(const struct backend *b, uint64_t *rd, uint64_t *wr,
			 uint64_t *copied)
{
	const struct npu *n = b->priv;

	return n->tp.ops->counters(n->tp.ctx, rd, wr, copied);
}

static int alloc_buf(const struct npu_transport *tp, uint64_t size, bool writes,
		     struct npu_buf *b, struct ember_error *err)
{
	int ret = tp->ops->alloc(tp->ctx, size, b, err->msg);

	if (ret)
		err->code = ret;
	b->device_writes = writes;
	return ret;
}

static int alloc_bufs(const struct npu *n, const struct npu_transport *tp,
		      struct npu_bufs *b, struct ember_error *err)
{
	int ret;

	memset(b, 0, sizeof(*b));
	if ((ret = alloc_buf(tp, n->wbytes, false, &b->w, err)) ||
	    (ret = alloc_buf(tp, n->sbytes, true, &b->s, err)) ||
	    (ret = alloc_buf(tp, n->kvbytes, true, &b->kv, err)) ||
	    (ret = alloc_buf(tp, n->cbytes, false, &b->c, err)))
		free_bufs(tp, b);
	return ret;
}

/* Uploads the weights into @b and makes it the backend's: st's pointers
 * and the map's addresses move there. */
static void use_bufs(struct npu *n, const struct npu_bufs *b, bool x16)
{
	struct packer p = { .dst = b->w.cpu, .base_va = b->w.va, .x16 = x16 };

	n->wbuf = b->w;
	n->sbuf = b->s;
	n->kvbuf = b->kv;
	n->cbuf = b->c;
	pack_weights(n, &p);
	place_state(n, n->sbuf.va, n->sbuf.cpu);
	place_kv(n, n->kvbuf.va, n->kvbuf.cpu);
}

/*
 * A context the driver killed (an MMU fault: its file takes no more jobs)
 * is replaced by a new one on the same device: new buffers, the weights
 * uploaded again, and the state copied over, KV caches included, from the
 * old buffers, which stay mapped for the CPU until then. On failure the
 * old buffers stay the session's state, so the CPU can go on with them.
 */
static int npu_reopen(struct npu *n, struct ember_error *err)
{
	struct npu_transport tp;
	struct npu_bufs old = { n->wbuf, n->sbuf, n->kvbuf, n->cbuf }, b;
	int ret;

	if (!n->tp.ops->reopen)
		return ember_fail(err, -ENODEV, "this device cannot be reopened");
	ret = n->tp.ops->reopen(n->tp.ctx, &tp, err->msg);
	if (ret) {
		err->code = ret;
		return ret;
	}
	ret = alloc_bufs(n, &tp, &b, err);
	if (ret) {
		tp.ops->destroy(tp.ctx);
		return ret;
	}
	memcpy(b.s.cpu, old.s.cpu, n->sbytes);
	memcpy(b.kv.cpu, old.kv.cpu, n->kvbytes);
	use_bufs(n, &b, n->tp.caps.fw_abi >= ABI_X16);
	free_bufs(&n->tp, &old);
	n->tp.ops->destroy(n->tp.ctx);
	n->tp.ops = tp.ops;
	n->tp.ctx = tp.ctx;	/* the caps are the device's: unchanged */
	n->reopens++;
	return 0;
}

/* What a job's status says happened, for the session's recovery log. */
static const char *status_word(int status)
{
	switch (status) {
	case EMBER_JOB_TIMEOUT: return "timed out (TIMEOUT)";
	case EMBER_JOB_ABORTED: return "was aborted by a device reset (ABORTED)";
	case EMBER_JOB_FW_ERROR: return "hit a firmware error (FW_ERROR)";
	case EMBER_JOB_MMU_FAULT: return "faulted the device MMU (MMU_FAULT)";
	case EMBER_JOB_BAD_OP: return "was refused (BAD_OP)";
	case EMBER_JOB_BAD_DESC: return "was refused (BAD_DESC)";
	case EMBER_JOB_UNSUPPORTED: return "needed an op the device lacks (UNSUPPORTED)";
	}
	return "failed";
}

int npu_backend_recover(struct backend *b, bool retry, char *note, size_t size)
{
	struct npu *n = b->priv;
	const struct npu_failure *f = &n->fail;
	struct ember_error e = { 0 };
	char what[160];
	int ret;

	if (f->status >= 0)
		snprintf(what, sizeof(what), "NPU job %llu (%d in the pass) %s",
			 (unsigned long long)f->seqno, f->job + 1, status_word(f->status));
	else if (f->job >= 0)
		snprintf(what, sizeof(what), "waiting for NPU job %llu failed (%s)",
			 (unsigned long long)f->seqno, strerror(-f->err));
	else
		snprintf(what, sizeof(what), "the NPU took no jobs (%s)", strerror(-f->err));
	if (!retry) {
		snprintf(note, size, "%s", what);
		return -ENODEV;
	}
	switch (f->status) {
	case EMBER_JOB_TIMEOUT:
	case EMBER_JOB_ABORTED:
	case EMBER_JOB_FW_ERROR:
		/* the driver reset the device; the file goes on */
		snprintf(note, size, "%s; the driver reset the device", what);
		return 0;
	case EMBER_JOB_MMU_FAULT:
		break;
	case -1:
		if (f->err == -EBADFD)
			break;
		if (f->err == -EINTR || f->err == -EAGAIN) {
			snprintf(note, size, "%s; retried", what);
			return 0;
		}
		/* ENODEV, a wait past PASS_TIMEOUT, anything else: no device */
		snprintf(note, size, "%s; the NPU is down", what);
		return -ENODEV;
	default:
		/* a command the device refused is refused again */
		snprintf(note, size, "%s; the NPU is not used again", what);
		return -ENODEV;
	}
	/* the driver killed the context */
	ret = npu_reopen(n, &e);
	if (ret) {
		snprintf(note, size, "%s; the context is dead and reopening the device failed (%s); the NPU is down",
			 what, e.msg);
		return -ENODEV;
	}
	snprintf(note, size, "%s; the context is dead: device reopened, weights uploaded again",
		 what);
	return 0;
}

int npu_backend_create(struct fwd_state *st, struct npu_transport *tp,
		       struct backend *out, struct ember_error *err)
{
	const struct ember_model_info *in = &st->m->info;
	struct npu *n = calloc(1, sizeof(*n));
	struct packer p = { 0 };
	struct npu_bufs bufs;
	uint64_t wbytes, sbytes, kvbytes, cbytes, total, avail;
	int ret;

	if (!n) {
		tp->ops->destroy(tp->ctx);
		return ember_fail(err, -ENOMEM, "out of memory for the NPU backend");
	}
	n->st = st;
	n->tp = *tp;
	n->ld = calloc(in->n_layer, sizeof(*n->ld));
	n->lv = calloc(in->n_layer, sizeof(*n->lv));
	n->max_jobs = 2 * in->n_layer + 2;	/* a job per step at most */
	n->jobs = calloc(n->max_jobs, sizeof(*n->jobs));
	if (!n->ld || !n->lv || !n->jobs) {
		npu_destroy(n);
		return ember_fail(err, -ENOMEM, "out of memory for the NPU backend");
	}
	if (tp->caps.max_jobs && n->max_jobs > tp->caps.max_jobs)
		n->max_jobs = tp->caps.max_jobs;
	st->k_layout = EK_KV_ROWS;	/* the device reads K as rows */
	n->map.in = in;
	n->map.ld = n->ld;
	n->map.lv = n->lv;
	n->map.n_ctx = st->n_ctx;
	n->map.kv_dtype = st->kv_dtype;
	n->map.kv_row = st->kv_row;

	p.x16 = tp->caps.fw_abi >= ABI_X16;
	pack_weights(n, &p);
	wbytes = p.off;
	sbytes = place_state(n, 0, NULL);
	kvbytes = place_kv(n, 0, NULL);
	cbytes = pass_cmd_bytes(st);
	total = wbytes + sbytes + kvbytes + cbytes;
	if (tp->caps.va_size && total > tp->caps.va_size) {
		ret = ember_fail(err, -E2BIG,
				 "%s needs %llu MiB of NPU memory (weights %llu, KV cache %llu), more than the %llu MiB the device maps; use a smaller --ctx or model",
				 st->m->path, MiB(total), MiB(wbytes), MiB(kvbytes),
				 MiB(tp->caps.va_size));
		npu_destroy(n);
		return ret;
	}
	avail = mem_available();
	if (avail && total > avail) {
		ret = ember_fail(err, -ENOMEM,
				 "%s needs %llu MiB of NPU memory (weights %llu, KV cache %llu) but only %llu MiB are available; give the machine more memory (scripts/run-guest.sh --mem) or use a smaller --ctx or model",
				 st->m->path, MiB(total), MiB(wbytes), MiB(kvbytes), MiB(avail));
		npu_destroy(n);
		return ret;
	}
	n->wbytes = wbytes;
	n->sbytes = sbytes;
	n->kvbytes = kvbytes;
	n->cbytes = cbytes;
	ret = alloc_bufs(n, &n->tp, &bufs, err);
	if (ret) {
		npu_destroy(n);
		return ret;
	}
	use_bufs(n, &bufs, p.x16);
	out->ops = &npu_ops;
	out->priv = n;
	return 0;
}
