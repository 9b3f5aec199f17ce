// SPDX-License-Identifier: MIT
/* The fake device of fake_hal.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_hal.h"

#define PAGE EMBER_PAGE_SIZE

bool fake_dev_init(struct fake_dev *d, size_t npages, bool threaded,
		   int nthreads)
{
	memset(d, 0, sizeof(*d));
	d->mem = calloc(npages, PAGE);
	if (!d->mem)
		return false;
	for (int i = 0; i < EMBER_NUM_AS; i++) {
		d->perm[i] = calloc(npages, 1);
		if (!d->perm[i]) {
			fake_dev_free(d);
			return false;
		}
	}
	d->npages = npages;
	d->threaded = threaded;
	d->nthreads = nthreads;
	return true;
}

void fake_dev_free(struct fake_dev *d)
{
	for (int i = 0; i < FAKE_MAX_MAPS; i++)
		free(d->live[i].ptr);
	for (int i = 0; i < EMBER_NUM_AS; i++)
		free(d->perm[i]);
	free(d->mem);
	memset(d, 0, sizeof(*d));
}

static bool page_index(const struct fake_dev *d, uint64_t va, size_t *idx)
{
	if (va < FAKE_VA_BASE || (va - FAKE_VA_BASE) / PAGE >= d->npages)
		return false;
	*idx = (va - FAKE_VA_BASE) / PAGE;
	return true;
}

void fake_dev_set_perm(struct fake_dev *d, uint32_t as, uint64_t va,
		       uint64_t len, unsigned int perm)
{
	uint64_t first = va & ~(PAGE - 1);

	for (uint64_t p = first; p < va + len; p += PAGE) {
		size_t idx;

		if (!page_index(d, p, &idx)) {
			fprintf(stderr, "fake_dev_set_perm: VA 0x%llx outside the fake memory\n",
				(unsigned long long)p);
			abort();
		}
		d->perm[as][idx] = (uint8_t)perm;
	}
}

void *fake_dev_ptr(struct fake_dev *d, uint64_t va)
{
	size_t idx;

	if (!page_index(d, va, &idx)) {
		fprintf(stderr, "fake_dev_ptr: VA 0x%llx outside the fake memory\n",
			(unsigned long long)va);
		abort();
	}
	return d->mem + (va - FAKE_VA_BASE);
}

unsigned int fake_dev_live_maps(const struct fake_dev *d)
{
	unsigned int n = 0;

	for (int i = 0; i < FAKE_MAX_MAPS; i++)
		n += d->live[i].ptr != NULL;
	return n;
}

/* Check every page like the device MMU would; fill @f on the first bad one. */
static bool translate(struct fake_dev *d, uint32_t as, uint64_t va,
		      uint64_t len, unsigned int access,
		      struct ember_mmu_fault *f)
{
	uint64_t first = va & ~(PAGE - 1);

	f->access = access;
	if (as >= EMBER_NUM_AS) {
		f->va = va;
		f->reason = EMBER_MMU_REASON_SLOT;
		return false;
	}
	if (len == 0 || va + len < va || va + len > (1ull << EMBER_VA_BITS)) {
		f->va = va;
		f->reason = EMBER_MMU_REASON_RANGE;
		return false;
	}
	for (uint64_t p = first; p < va + len; p += PAGE) {
		uint64_t at = p < va ? va : p;
		size_t idx;
		unsigned int perm;

		if (!page_index(d, p, &idx) || !d->perm[as][idx]) {
			f->va = at;
			f->reason = EMBER_MMU_REASON_NOT_PRESENT;
			return false;
		}
		perm = d->perm[as][idx];
		if (((access & EMBER_ACCESS_READ) && !(perm & EMBER_PTE_READ)) ||
		    ((access & EMBER_ACCESS_WRITE) && !(perm & EMBER_PTE_WRITE))) {
			f->va = at;
			f->reason = EMBER_MMU_REASON_PERMISSION;
			return false;
		}
	}
	return true;
}

static void *fake_map(void *ctx, uint32_t as, uint64_t va, uint64_t len,
		      unsigned int access, struct ember_mmu_fault *fault)
{
	struct fake_dev *d = ctx;
	struct fake_map *slot = NULL;
	void *p;

	d->maps++;
	if (access == 0 || access & ~(unsigned int)(EMBER_ACCESS_READ | EMBER_ACCESS_WRITE)) {
		fprintf(stderr, "fake_map: bad access %u\n", access);
		d->errors++;
	}
	if (!translate(d, as, va, len, access, fault)) {
		d->faults++;
		d->last_fault = *fault;
		return NULL;
	}
	for (int i = 0; i < FAKE_MAX_MAPS && !slot; i++)
		if (!d->live[i].ptr)
			slot = &d->live[i];
	/* A bounce copy of exactly len bytes: ASan reports any access beyond
	 * what the firmware asked to map. */
	p = slot ? malloc(len) : NULL;
	if (!p) {
		fprintf(stderr, "fake_map: out of mapping slots or memory\n");
		d->errors++;
		fault->va = va;
		fault->reason = EMBER_MMU_REASON_NOT_PRESENT;
		return NULL;
	}
	memcpy(p, fake_dev_ptr(d, va), len);
	*slot = (struct fake_map){ p, va, len, as, access };
	return p;
}

static void fake_unmap(void *ctx, void *ptr, uint64_t len, unsigned int access)
{
	struct fake_dev *d = ctx;

	d->unmaps++;
	for (int i = 0; i < FAKE_MAX_MAPS; i++) {
		struct fake_map *m = &d->live[i];

		if (m->ptr != ptr)
			continue;
		if (m->len != len || m->access != access) {
			fprintf(stderr, "fake_unmap: len/access %llu/%u differ from map's %llu/%u\n",
				(unsigned long long)len, access,
				(unsigned long long)m->len, m->access);
			d->errors++;
		}
		if (m->access & EMBER_ACCESS_WRITE)
			memcpy(fake_dev_ptr(d, m->va), m->ptr, m->len);
		free(m->ptr);
		memset(m, 0, sizeof(*m));
		return;
	}
	fprintf(stderr, "fake_unmap: %p was not mapped\n", ptr);
	d->errors++;
}

struct task {
	void (*fn)(void *arg, int i, int n);
	void *arg;
	int i, n;
};

static void *task_main(void *p)
{
	struct task *t = p;

	t->fn(t->arg, t->i, t->n);
	return NULL;
}

static void fake_parallel(void *ctx, void (*fn)(void *arg, int i, int n),
			  void *arg, int n)
{
	struct fake_dev *d = ctx;
	pthread_t th[64];
	struct task tasks[64];
	bool started[64];

	if (n < 1 || n > d->nthreads || n > 64) {
		fprintf(stderr, "fake_parallel: n = %d, nthreads = %d\n", n,
			d->nthreads);
		d->errors++;
		if (n < 1 || n > 64)
			return;
	}
	if (n > d->max_parallel_n)
		d->max_parallel_n = n;
	if (!d->threaded || n == 1) {
		for (int i = 0; i < n; i++)
			fn(arg, i, n);
		return;
	}
	for (int i = 1; i < n; i++) {
		tasks[i] = (struct task){ fn, arg, i, n };
		started[i] = pthread_create(&th[i], NULL, task_main,
					    &tasks[i]) == 0;
		if (!started[i])
			fn(arg, i, n);	/* run it here rather than lose it */
	}
	fn(arg, 0, n);
	for (int i = 1; i < n; i++)
		if (started[i])
			pthread_join(th[i], NULL);
}

struct ember_hal fake_dev_hal(struct fake_dev *d, uint32_t caps_ops,
			      uint32_t caps_dtypes)
{
	struct ember_hal h = {
		.ctx = d,
		.map = fake_map,
		.unmap = fake_unmap,
		.parallel = fake_parallel,
		.nthreads = d->nthreads,
		.caps_ops = caps_ops,
		.caps_dtypes = caps_dtypes,
	};
	return h;
}

void fake_heap_init(struct fake_heap *h, struct fake_dev *d)
{
	h->dev = d;
	h->next = FAKE_VA_BASE;
}

uint64_t fake_alloc(struct fake_heap *h, uint64_t size, uint64_t align)
{
	uint64_t va = (h->next + align - 1) & ~(align - 1);
	uint64_t end = va + size;

	if (end > FAKE_VA_BASE + h->dev->npages * PAGE - PAGE) {
		fprintf(stderr, "fake_alloc: fake device memory exhausted (%llu bytes asked)\n",
			(unsigned long long)size);
		abort();
	}
	fake_dev_set_perm(h->dev, 0, va, size, EMBER_PTE_READ | EMBER_PTE_WRITE);
	memset(fake_dev_ptr(h->dev, va), 0, size);
	/* next allocation starts after a guard page */
	h->next = ((end + PAGE - 1) & ~(PAGE - 1)) + PAGE;
	return va;
}
