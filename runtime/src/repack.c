/* SPDX-License-Identifier: MIT */
/*
 * Repacking of the matmul weights at load: where the kernels say this CPU
 * multiplies Q8_0 / Q4_0 faster in the X4 layout (four rows interleaved,
 * ember/kernels.h), each such matrix is copied into it once, and the
 * file's pages of the original are dropped, so that memory holds one copy.
 * The GGUF mapping stays valid (those pages read back from the file), so
 * other backends can still use the rows as stored.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((size_t)2 << 20)

#include "error.h"
#include "model.h"

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

/* Packs w into the arena at *off (if this CPU prefers X4 for its type). */
static void repack(struct weight *w, uint8_t *arena, size_t *off)
{
	size_t size;

	if (!w->data || w->layout != EK_LAYOUT_ROWS || !ek_x4_preferred(w->dtype))
		return;
	size = ek_x4_size(w->dtype, w->n_out, w->n_in);
	if (!size)
		return;
	if (arena) {
		ek_x4_pack(w->dtype, w->data, w->stride, w->n_out, w->n_in, arena + *off);
		drop_pages(w->data, w->stride * w->n_out);
		w->data = arena + *off;
		w->layout = EK_LAYOUT_X4;
	}
	*off += (size + 63) & ~(size_t)63;
}

/* Every matmul weight once (tied: the embedding is the output matrix).
 * The output matrix, the largest, goes first: memory then peaks at the
 * repacked weights plus one layer's matrix, not plus the largest. */
static void repack_all(struct ember_model *m, uint8_t *arena, size_t *off)
{
	if (m->info.tied_embeddings) {
		repack(&m->tok_embd, arena, off);
		m->output = m->tok_embd;
	} else {
		repack(&m->output, arena, off);
	}
	for (uint32_t i = 0; i < m->info.n_layer; i++) {
		struct layer *l = &m->layers[i];
		struct weight *ws[] = { &l->wq, &l->wk, &l->wv, &l->wo, &l->gate,
					&l->up, &l->down };

		for (size_t j = 0; j < sizeof(ws) / sizeof(ws[0]); j++)
			repack(ws[j], arena, off);
	}
}

int model_repack(struct ember_model *m, struct ember_error *err)
{
	size_t size = 0;
	void *arena;

	repack_all(m, NULL, &size);
	if (!size)
		return 0;
	/* one mapping in 2 MiB pages where the kernel allows: decode streams
	 * all of it every token, and 4 KiB pages cost a TLB walk each */
	size = (size + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
	arena = mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (arena == MAP_FAILED)
		return ember_fail(err, -ENOMEM, "%s: out of memory for %zu MiB of repacked weights",
				  m->path, size >> 20);
	{
		uintptr_t a = ((uintptr_t)arena + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
		size_t head = a - (uintptr_t)arena;

		if (head)
			munmap(arena, head);
		if (HUGE_PAGE - head)
			munmap((uint8_t *)a + size, HUGE_PAGE - head);
		arena = (void *)a;
	}
	if (!getenv("EMBER_NOHUGE"))
		madvise(arena, size, MADV_HUGEPAGE);
	m->arena = arena;
	m->arena_size = size;
	size = 0;
	repack_all(m, arena, &size);
	return 0;
}
