/* SPDX-License-Identifier: MIT */
/*
 * A fake device for firmware host tests: flat simulated memory at device VA
 * FAKE_VA_BASE, a page permission map per address-space slot, a bouncing
 * map() (so ASan catches any access past a mapped range) and a parallel()
 * that runs serially or on real threads.
 */
#ifndef EMBER_FAKE_HAL_H
#define EMBER_FAKE_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ember/fw.h"

#define FAKE_VA_BASE	0x100000000ull	/* above 4 GiB: catches truncation */
#define FAKE_MAX_MAPS	64

struct fake_map {
	void *ptr;
	uint64_t va, len;
	uint32_t as;
	unsigned int access;
};

struct fake_dev {
	uint8_t *mem;			/* npages * 4 KiB */
	size_t npages;
	uint8_t *perm[EMBER_NUM_AS];	/* per page: EMBER_PTE_READ/WRITE */
	bool threaded;
	int nthreads;
	struct fake_map live[FAKE_MAX_MAPS];
	/* statistics and misuse the tests assert on */
	unsigned int maps, unmaps, faults;
	unsigned int errors;		/* bad unmap, too many maps, bad n */
	int max_parallel_n;
	struct ember_mmu_fault last_fault;
};

/* All pages start unmapped in every slot. Returns false on ENOMEM. */
bool fake_dev_init(struct fake_dev *d, size_t npages, bool threaded,
		   int nthreads);
void fake_dev_free(struct fake_dev *d);
/* Set the permissions (EMBER_PTE_READ | EMBER_PTE_WRITE, or 0) of every
 * page touching [va, va + len) in slot @as. */
void fake_dev_set_perm(struct fake_dev *d, uint32_t as, uint64_t va,
		       uint64_t len, unsigned int perm);
/* The host address of device VA @va (test setup and checking). */
void *fake_dev_ptr(struct fake_dev *d, uint64_t va);
/* A HAL for this device with the given caps. */
struct ember_hal fake_dev_hal(struct fake_dev *d, uint32_t caps_ops,
			      uint32_t caps_dtypes);
/* Number of mappings not yet unmapped. */
unsigned int fake_dev_live_maps(const struct fake_dev *d);

/* A bump allocator for device VAs in the fake memory. */
struct fake_heap {
	struct fake_dev *dev;
	uint64_t next;		/* next free VA */
};
void fake_heap_init(struct fake_heap *h, struct fake_dev *d);
/* @size bytes at an @align-aligned VA, mapped R+W in slot 0 and zeroed,
 * followed by one unmapped guard page. Aborts when memory runs out. */
uint64_t fake_alloc(struct fake_heap *h, uint64_t size, uint64_t align);

#endif /* EMBER_FAKE_HAL_H */
