/* SPDX-License-Identifier: MIT */
/*
 * Cache-line ping-pong: the caller sets a flag to 1, the partner thread
 * sets it back to 0, and the time per exchange is the round trip of the
 * line between the two cores. Each batch stops after 20 ms, so a loaded
 * machine (the partner waiting for a CPU) costs time, not a hang.
 */
#include "handoff.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 20000
#define BATCHES 5
#define BATCH_SECONDS 0.02

struct pingpong {
	_Alignas(64) atomic_int flag;
	_Alignas(64) atomic_bool stop;	/* a line of its own */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *pong(void *arg)
{
	struct pingpong *p = arg;

	while (!atomic_load_explicit(&p->stop, memory_order_relaxed))
		for (int i = 0; i < 4096; i++)
			if (atomic_load_explicit(&p->flag, memory_order_acquire) == 1)
				atomic_store_explicit(&p->flag, 0, memory_order_release);
	return NULL;
}

double ember_handoff_ns(void)
{
	struct pingpong p;
	pthread_t t;
	double best = 0;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return 0;
	atomic_init(&p.flag, 0);
	atomic_init(&p.stop, false);
	if (pthread_create(&t, NULL, pong, &p))
		return 0;
	for (int b = 0; b < BATCHES; b++) {
		double t0 = now(), dt;
		int i = 0;

		while (i < ROUNDS) {
			atomic_store_explicit(&p.flag, 1, memory_order_release);
			while (atomic_load_explicit(&p.flag, memory_order_acquire))
				;
			if (++i % 256 == 0 && now() - t0 > BATCH_SECONDS)
				break;
		}
		dt = (now() - t0) / i * 1e9;
		if (!best || dt < best)
			best = dt;
	}
	atomic_store(&p.stop, true);
	pthread_join(t, NULL);
	return best;
}
