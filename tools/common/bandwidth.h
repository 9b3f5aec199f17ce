/* SPDX-License-Identifier: MIT */
/* The machine's read bandwidth: the baseline of every memory-bound figure
 * that ember-bench and ember-run --bench print. */
#ifndef EMBER_TOOLS_BANDWIDTH_H
#define EMBER_TOOLS_BANDWIDTH_H

#include <stddef.h>
#include <stdint.h>

#include <ember/kernels.h>

/*
 * Bytes per second read from a fresh buffer of `bytes` (far larger than
 * the caches) by ex's threads, each streaming its share. Tries 1, 2 and 4
 * sequential streams per thread and returns the best of `reps` passes of
 * each, so the bound it gives is the best this machine showed, not the
 * best one access pattern showed. 0 if the buffer cannot be allocated.
 */
double ember_read_bandwidth(const struct ek_exec *ex, size_t bytes, int reps);

/* One timed pass of ex's threads over buf (bytes, 64-byte aligned) in
 * 1, 2 or 4 streams per thread: bytes per second (0 for another count).
 * For probes repeated on a buffer the caller keeps; an untimed empty job
 * first wakes the pool's sleeping workers. */
double ember_read_pass(const struct ek_exec *ex, const void *buf,
		       size_t bytes, int streams);

/* Read passes repeated through a run: each reads the next of `slices`
 * buffers of `slice` bytes, so that none is still in the caches from its
 * last pass (one buffer read again and again kept ~10% of itself in this
 * VM's 32 MiB L3 and read that much fast). */
struct ember_read_ring {
	uint8_t *buf;
	size_t slice;
	unsigned int slices, next;
};
int ember_read_ring_init(struct ember_read_ring *r, size_t slice,
			 unsigned int slices);	/* 0 or -ENOMEM */
/* ember_read_pass() over the next slice: bytes per second */
double ember_read_ring_pass(struct ember_read_ring *r, const struct ek_exec *ex,
			    int streams);
void ember_read_ring_free(struct ember_read_ring *r);	/* zeroed or inited */

#endif
