/* SPDX-License-Identifier: MIT */
/* How far apart two threads of this machine are: printed next to the read
 * bandwidth, because the development VM's two vCPUs are sometimes on one
 * core complex and sometimes on two (docs/performance.md). */
#ifndef EMBER_TOOLS_HANDOFF_H
#define EMBER_TOOLS_HANDOFF_H

/*
 * Round trip (ns) of one cache line between the calling thread and a
 * second one, best of a few batches: ~50 ns when they share a Zen 4 core
 * complex, several hundred when they do not. 0 with one CPU or when a
 * thread cannot be started.
 */
double ember_handoff_ns(void);

#endif
