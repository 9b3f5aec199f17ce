/* SPDX-License-Identifier: MIT */
/* How large a working set must be to come from DRAM on this machine: the
 * benchmarks size their "cold" buffers from the last-level cache they
 * read, not from one host's (a fixed 256 MiB sits in a 480 MiB L3). */
#ifndef EMBER_TOOLS_CACHE_SIZE_H
#define EMBER_TOOLS_CACHE_SIZE_H

#include <stddef.h>

/* Bytes of the largest cache level of CPU 0 (sysfs, else sysconf), or 0
 * when neither tells. */
size_t ember_llc_bytes(void);

/* max(floor, 4 x the last-level cache): cycling through that many bytes
 * finds nearly nothing of them still cached. */
size_t ember_cold_bytes(size_t floor);

#endif
