/* SPDX-License-Identifier: MIT */
/*
 * Repacking of the matmul weights at load: where the kernels say this CPU
 * multiplies Q8_0 / Q4_0 faster in the X16 layout (16 rows interleaved,
 * ember/kernels.h), each such matrix is copied into it once, and the
 * file's pages of the original are dropped, so that memory holds one copy.
 * The GGUF mapping stays valid (those pages read back from the file), so
 * other backends can still use the rows as stored.
 */
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model.h"

#define HUGE_PAGE ((size_t)2 << 20)

/* Drops the whole pages of [p, p + n) from this process's memory. */
static void drop_pages(const void *p, size_t n)
{
	long ps = sysconf(_SC_PAGESIZE);
	uintptr_t b, e;

	if (ps <= 0)
		return;
	b = ((uintptr_t)p + (uintptr_t)ps - 1) & ~((uintptr_t)ps - 1);
	e = ((uintptr_t)p + n) & ~((uintptr_t)ps - 1);
	if (e > b)
		madvise((void *)b, e - b, MADV_DONTNEED);
}

struct pack_job {
	const struct weight *w;
	void *dst;
};

/* Part i of n of the groups of the job's matrix. */
static void pack_task(void *arg, int i, int n)
{
	const struct pack_job *j = arg;
	const struct weight *w = j->w;
	uint64_t g0, g1;

	ek_split(((uint64_t)w->n_out + EK_X16_ROWS - 1) / EK_X16_ROWS, 1, i, n,
		 &g0, &g1);
	ek_x16_pack_part(w->dtype, w->data, w->stride, w->n_out, w->n_in, g0, g1,
			 j->dst);
}

/* Packs w into the arena at *off (if this CPU prefers X16 for its type),
 * then drops the file's pages of it; with no arena, only counts. */
static void repack(const struct ek_exec *ex, struct weight *w, uint8_t *arena,
		   size_t *off)
{
	size_t size;

	if (!w->data || w->layout != EK_LAYOUT_ROWS || !ek_x16_preferred(w->dtype))
		return;
	size = ek_x16_size(w->dtype, w->n_out, w->n_in);
	if (!size)
		return;
	if (arena) {
		struct pack_job j = { w, arena + *off };

		ex->run(ex->ctx, pack_task, &j, ex->nthreads);
		drop_pages(w->data, w->stride * w->n_out);
		w->data = j.dst;
		w->layout = EK_LAYOUT_X16;
	}
	*off += (size + 63) & ~(size_t)63;
}

/* Every matmul weight once (tied: the embedding is the output matrix).
 * The output matrix, the largest, goes first: memory then peaks at the
 * repacked weights plus one layer's matrix, not plus the largest. */
static void repack_all(const struct ek_exec *ex, struct ember_model *m,
		       uint8_t *arena, size_t *off)
{
	if (m->info.tied_embeddings) {
		repack(ex, &m->tok_embd, arena, off);
		m->output = m->tok_embd;
	} else {
		repack(ex, &m->output, arena, off);
	}
	for (uint32_t i = 0; i < m->info.n_layer; i++) {
		struct layer *l = &m->layers[i];
		struct weight *ws[] = { &l->wq, &l->wk, &l->wv, &l->wo, &l->gate,
					&l->up, &l->down };

		for (size_t j = 0; j < sizeof(ws) / sizeof(ws[0]); j++)
			repack(ex, ws[j], arena, off);
	}
}

/* size bytes (a multiple of HUGE_PAGE) at a HUGE_PAGE boundary, in huge
 * pages where the kernel allows; NULL if out of memory. */
static void *map_huge(size_t size)
{
	uint8_t *p = mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t a;
	size_t head;

	if (p == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
	head = a - (uintptr_t)p;
	if (head)
		munmap(p, head);
	munmap((uint8_t *)a + size, HUGE_PAGE - head);
	madvise((void *)a, size, MADV_HUGEPAGE);
	return (void *)a;
}

void model_repack(struct ember_model *m)
{
	struct ek_pool *pool;
	struct ek_exec ex;
	size_t size = 0;

	repack_all(&ek_exec_serial, m, NULL, &size);
	if (!size)
		return;
	/* one mapping in 2 MiB pages: decode streams all of it every token,
	 * and with 4 KiB pages every page costs a TLB walk */
	size = (size + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
	m->arena = map_huge(size);
	if (!m->arena)	/* the rows stay: slower, not an error */
		return;
	m->arena_size = size;
	/* on every core: packing reads the file and faults the arena in */
	pool = ek_pool_create(0);
	ex = pool ? ek_pool_exec(pool) : ek_exec_serial;
	size = 0;
	repack_all(&ex, m, m->arena, &size);
	ek_pool_destroy(pool);
}
