/* SPDX-License-Identifier: MIT */
/*
 * A persistent thread pool implementing struct ek_exec (host only: it uses
 * pthreads and reads the CPU topology from sysfs; the ops themselves do no
 * I/O). By default one thread per physical core. The calling thread
 * runs tasks too, so a pool of n threads starts n - 1 workers. Dispatch is
 * a generation counter: idle workers spin on it briefly (an op follows
 * another within microseconds during inference) and then sleep on a
 * condition variable. Tasks are claimed through one 64-bit counter that
 * holds (generation, next index), so a worker that is late for a job can
 * never claim a task of the next one.
 *
 * run() calls from different threads are serialised; a task that calls
 * run() on its own pool (nested) runs the inner tasks itself. A job of at
 * most nthreads tasks, run from outside the pool, gets a thread for each
 * task (every worker joins every job it has not seen), so such tasks may
 * wait for one another.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ek_internal.h"

/*
 * Polls of the generation before a worker sleeps (~50 us: a pause is
 * 10-100 cycles depending on the CPU), and of the done count before the
 * caller starts yielding (~10 us). Short on purpose: when the machine has
 * other load, a spinning thread steals the CPU the late thread needs.
 */
#define POOL_SPIN 2000
#define POOL_WAIT_SPIN 400
#define POOL_BARRIER_SPIN 4000

struct ek_pool {
	int nthreads;		/* including the caller */
	int nworkers;
	pthread_t *workers;
	pthread_mutex_t run_lock;	/* one job at a time */
	pthread_mutex_t sleep_lock;
	pthread_cond_t wake;

	/* the current job, written by run() before the generation bump */
	_Atomic(ek_task_fn) fn;
	_Atomic(void *) arg;
	atomic_int n;
	atomic_uint gen;
	atomic_ullong claim;	/* gen << 32 | next index */
	atomic_int done;
	atomic_int sleepers;
	atomic_bool stop;
	atomic_ulong owner;	/* id of the thread inside run(), or 0 */
};

/* pthread_t as a number (it is an integer or pointer where we run). */
static unsigned long thread_id(void)
{
	pthread_t self = pthread_self();
	unsigned long id = 0;

	_Static_assert(sizeof(pthread_t) <= sizeof(id), "pthread_t size");
	memcpy(&id, &self, sizeof(self));
	return id;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* Claim and run tasks of generation g until none are left. */
static void pool_work(struct ek_pool *pool, unsigned int g)
{
	ek_task_fn fn = atomic_load_explicit(&pool->fn, memory_order_acquire);
	void *arg = atomic_load_explicit(&pool->arg, memory_order_acquire);
	int n = atomic_load_explicit(&pool->n, memory_order_acquire);
	unsigned long long c = atomic_load(&pool->claim);

	for (;;) {
		if ((unsigned int)(c >> 32) != g ||
		    (unsigned int)(c & 0xffffffffu) >= (unsigned int)n)
			return;
		if (!atomic_compare_exchange_weak(&pool->claim, &c, c + 1))
			continue;
		fn(arg, (int)(c & 0xffffffffu), n);
		atomic_fetch_add_explicit(&pool->done, 1, memory_order_release);
		c = atomic_load(&pool->claim);
	}
}

static void *pool_worker(void *p)
{
	struct ek_pool *pool = p;
	/*
	 * Generation 0 is the pool's start, not the value now: a worker that
	 * starts after the first jobs were published must still join the
	 * current one, since a job of nthreads tasks that wait for one
	 * another needs every thread.
	 */
	unsigned int seen = 0;

	for (;;) {
		unsigned int g = atomic_load_explicit(&pool->gen,
						      memory_order_acquire);

		for (int s = 0; g == seen && s < POOL_SPIN; s++) {
			cpu_relax();
			g = atomic_load_explicit(&pool->gen,
						 memory_order_acquire);
		}
		if (g == seen) {
			pthread_mutex_lock(&pool->sleep_lock);
			atomic_fetch_add(&pool->sleepers, 1);
			while ((g = atomic_load(&pool->gen)) == seen &&
			       !atomic_load(&pool->stop))
				pthread_cond_wait(&pool->wake,
						  &pool->sleep_lock);
			atomic_fetch_sub(&pool->sleepers, 1);
			pthread_mutex_unlock(&pool->sleep_lock);
		}
		if (atomic_load(&pool->stop))
			return NULL;
		seen = g;
		pool_work(pool, g);
	}
}

static bool pool_is_worker(const struct ek_pool *pool)
{
	pthread_t self = pthread_self();

	for (int i = 0; i < pool->nworkers; i++)
		if (pthread_equal(self, pool->workers[i]))
			return true;
	return false;
}

static void pool_run(void *ctx, ek_task_fn fn, void *arg, int n)
{
	struct ek_pool *pool = ctx;

	if (n <= 0)
		return;
	if (n == 1 || pool->nworkers == 0 || pool_is_worker(pool) ||
	    atomic_load_explicit(&pool->owner, memory_order_relaxed) ==
	    thread_id()) {
		for (int i = 0; i < n; i++)
			fn(arg, i, n);
		return;
	}
	pthread_mutex_lock(&pool->run_lock);
	atomic_store_explicit(&pool->owner, thread_id(), memory_order_relaxed);
	unsigned int g = atomic_load(&pool->gen) + 1;

	/*
	 * Close the claim counter before the job's fields change: a worker
	 * late for the previous job may read the new fn, arg or n, but its
	 * next look at the counter then shows another generation and it
	 * claims nothing. (Without this, a late worker could pair the new n
	 * with the old, exhausted counter and run task n_old of the new job
	 * a second time, or on the old job's freed arg.)
	 */
	atomic_store(&pool->claim, (unsigned long long)g << 32 | 0xffffffffu);
	atomic_store_explicit(&pool->fn, fn, memory_order_release);
	atomic_store_explicit(&pool->arg, arg, memory_order_release);
	atomic_store_explicit(&pool->n, n, memory_order_release);
	atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
	atomic_store(&pool->claim, (unsigned long long)g << 32);	/* open */
	atomic_store(&pool->gen, g);	/* publishes the job */
	if (atomic_load(&pool->sleepers) > 0) {
		pthread_mutex_lock(&pool->sleep_lock);
		pthread_cond_broadcast(&pool->wake);
		pthread_mutex_unlock(&pool->sleep_lock);
	}
	pool_work(pool, g);
	for (int s = 0; atomic_load_explicit(&pool->done,
					     memory_order_acquire) < n; s++) {
		if (s < POOL_WAIT_SPIN)
			cpu_relax();
		else
			sched_yield();
	}
	atomic_store_explicit(&pool->owner, 0, memory_order_relaxed);
	pthread_mutex_unlock(&pool->run_lock);
}

void ek_barrier_init(struct ek_barrier *b)
{
	atomic_init(&b->arrived, 0);
	atomic_init(&b->gen, 0);
}

/* The last to arrive resets the count, then moves the generation on; the
 * others spin (a share of a decode step takes microseconds), then yield. */
void ek_barrier_wait(struct ek_barrier *b, int n)
{
	unsigned int g = atomic_load_explicit(&b->gen, memory_order_acquire);

	if (atomic_fetch_add_explicit(&b->arrived, 1, memory_order_acq_rel) ==
	    (unsigned int)n - 1) {
		atomic_store_explicit(&b->arrived, 0, memory_order_relaxed);
		atomic_store_explicit(&b->gen, g + 1, memory_order_release);
		return;
	}
	for (int s = 0; atomic_load_explicit(&b->gen, memory_order_acquire) == g; s++) {
		if (s < POOL_BARRIER_SPIN)
			cpu_relax();
		else
			sched_yield();
	}
}

/* Is cpu the first SMT sibling of its core? (true when unknown) */
static bool first_sibling(int cpu)
{
	char path[96];
	FILE *f;
	int first;
	bool r = true;

	snprintf(path, sizeof(path),
		 "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list",
		 cpu);
	f = fopen(path, "r");
	if (!f)
		return true;
	if (fscanf(f, "%d", &first) == 1)
		r = first == cpu;
	fclose(f);
	return r;
}

/* One thread per physical core we may run on: SMT siblings share the
 * FMA units and the bandwidth, and an extra thread only adds waiting. */
static int cpu_count(void)
{
#ifdef CPU_COUNT
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) {
		int cores = 0;

		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &set) && first_sibling(c))
				cores++;
		return cores > 0 ? cores : CPU_COUNT(&set);
	}
#endif
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

static void pool_stop(struct ek_pool *pool, int started)
{
	pthread_mutex_lock(&pool->sleep_lock);
	atomic_store(&pool->stop, true);
	atomic_fetch_add(&pool->gen, 1);
	pthread_cond_broadcast(&pool->wake);
	pthread_mutex_unlock(&pool->sleep_lock);
	for (int i = 0; i < started; i++)
		pthread_join(pool->workers[i], NULL);
}

struct ek_pool *ek_pool_create(int nthreads)
{
	struct ek_pool *pool;

	if (nthreads <= 0)
		nthreads = cpu_count();
	if (nthreads > 1024)
		return NULL;
	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return NULL;
	pool->nthreads = nthreads;
	pool->nworkers = nthreads - 1;
	pool->workers = calloc((size_t)(pool->nworkers ? pool->nworkers : 1),
			       sizeof(pthread_t));
	if (!pool->workers) {
		free(pool);
		return NULL;
	}
	pthread_mutex_init(&pool->run_lock, NULL);
	pthread_mutex_init(&pool->sleep_lock, NULL);
	pthread_cond_init(&pool->wake, NULL);
	atomic_init(&pool->fn, NULL);
	atomic_init(&pool->arg, NULL);
	atomic_init(&pool->n, 0);
	atomic_init(&pool->gen, 0);
	atomic_init(&pool->claim, 0);
	atomic_init(&pool->done, 0);
	atomic_init(&pool->sleepers, 0);
	atomic_init(&pool->stop, false);
	atomic_init(&pool->owner, 0);
	for (int i = 0; i < pool->nworkers; i++) {
		if (pthread_create(&pool->workers[i], NULL, pool_worker,
				   pool) != 0) {
			pool_stop(pool, i);
			pthread_cond_destroy(&pool->wake);
			pthread_mutex_destroy(&pool->sleep_lock);
			pthread_mutex_destroy(&pool->run_lock);
			free(pool->workers);
			free(pool);
			return NULL;
		}
	}
	return pool;
}

void ek_pool_destroy(struct ek_pool *pool)
{
	if (!pool)
		return;
	pool_stop(pool, pool->nworkers);
	pthread_cond_destroy(&pool->wake);
	pthread_mutex_destroy(&pool->sleep_lock);
	pthread_mutex_destroy(&pool->run_lock);
	free(pool->workers);
	free(pool);
}

struct ek_exec ek_pool_exec(struct ek_pool *pool)
{
	struct ek_exec ex = { pool_run, pool, 0 };

	if (!pool)
		return ek_exec_serial;
	ex.nthreads = pool->nthreads;
	return ex;
}
