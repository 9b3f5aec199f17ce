/* SPDX-License-Identifier: MIT */
/*
 * The thread pool: every task index runs exactly once per dispatch, with
 * the right n; thousands of back-to-back dispatches (the spin / sleep
 * hand-off); dispatch after the workers went to sleep; two threads sharing
 * one pool; nested dispatch from a task; a pool with more threads than
 * CPUs; a job of tasks that wait for one another gets a thread per task,
 * even published before the workers start; ek_barrier; default size = CPUs.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kt.h"

#define MAX_N 1000

struct count_job {
	atomic_int hits[MAX_N];
	atomic_int bad_n;
	int n;
};

static void count_task(void *arg, int i, int n)
{
	struct count_job *j = arg;

	if (n != j->n || i < 0 || i >= n)
		atomic_fetch_add(&j->bad_n, 1);
	else
		atomic_fetch_add(&j->hits[i], 1);
}

static bool dispatch_ok(const struct ek_exec *ex, int n)
{
	struct count_job *j = calloc(1, sizeof(*j));
	bool ok;

	j->n = n;
	ex->run(ex->ctx, count_task, j, n);
	ok = atomic_load(&j->bad_n) == 0;
	for (int i = 0; i < n; i++)
		ok = ok && atomic_load(&j->hits[i]) == 1;
	free(j);
	return ok;
}

struct share_arg {
	const struct ek_exec *ex;
	int fails;
};

static void *share_thread(void *p)
{
	struct share_arg *s = p;

	for (int r = 0; r < 500; r++)
		if (!dispatch_ok(s->ex, 1 + r % 17))
			s->fails++;
	return NULL;
}

struct nest_arg {
	const struct ek_exec *ex;
	atomic_int inner;
};

static void inner_task(void *arg, int i, int n)
{
	struct nest_arg *a = arg;

	(void)i;
	(void)n;
	atomic_fetch_add(&a->inner, 1);
}

static void outer_task(void *arg, int i, int n)
{
	struct nest_arg *a = arg;

	(void)i;
	(void)n;
	/* runs on the caller and on workers alike */
	a->ex->run(a->ex->ctx, inner_task, a, 3);
}

/* Tasks that wait for one another: each arrives, then waits (at most
 * about a second) until all n have arrived. */
struct meet_job {
	atomic_int arrived, timed_out;
};

static void meet_task(void *arg, int i, int n)
{
	struct meet_job *j = arg;
	struct timespec ts = { 0, 1000 * 1000 };

	(void)i;
	atomic_fetch_add(&j->arrived, 1);
	for (int w = 0; atomic_load(&j->arrived) < n; w++) {
		if (w == 1000) {
			atomic_store(&j->timed_out, 1);
			return;
		}
		nanosleep(&ts, NULL);
	}
}

/* A job of nthreads meeting tasks, published as soon as the pool exists
 * (before its workers may have started): every task gets its own thread. */
static int meet_fresh_pools(int threads, int rounds)
{
	int bad = 0;

	for (int r = 0; r < rounds; r++) {
		struct ek_pool *pool = ek_pool_create(threads);
		struct meet_job j = { 0 };

		if (!pool)
			return rounds;
		struct ek_exec ex = ek_pool_exec(pool);

		ex.run(ex.ctx, meet_task, &j, threads);
		bad += atomic_load(&j.timed_out) != 0;
		ek_pool_destroy(pool);
	}
	return bad;
}

/* ek_barrier: in each of 100 rounds every task adds 1, waits, and must
 * see all n additions; then waits again before the next round. */
struct bar_job {
	struct ek_barrier b;
	atomic_int count, bad;
};

static void bar_task(void *arg, int i, int n)
{
	struct bar_job *j = arg;

	(void)i;
	for (int r = 0; r < 100; r++) {
		atomic_fetch_add(&j->count, 1);
		ek_barrier_wait(&j->b, n);
		if (atomic_load(&j->count) != n * (r + 1))
			atomic_fetch_add(&j->bad, 1);
		ek_barrier_wait(&j->b, n);
	}
}

void kt_test_pool(struct kt *t)
{
	static const int ns[] = { 1, 2, 3, 4, 7, 64, MAX_N };

	for (int threads = 1; threads <= 4; threads++) {
		struct ek_pool *pool = ek_pool_create(threads);
		struct ek_exec ex;

		KT_CHECK(t, pool != NULL, "pool of %d", threads);
		if (!pool)
			continue;
		ex = ek_pool_exec(pool);
		KT_CHECK(t, ex.nthreads == threads && ex.run, "exec of pool %d",
			 threads);
		for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
			KT_CHECK(t, dispatch_ok(&ex, ns[i]),
				 "pool %d: dispatch of %d tasks", threads, ns[i]);
		int bad = 0;

		for (int r = 0; r < 5000; r++)
			bad += !dispatch_ok(&ex, 1 + r % threads);
		KT_CHECK(t, bad == 0, "pool %d: %d of 5000 quick dispatches bad",
			 threads, bad);
		/* let the workers fall asleep, then wake them */
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		KT_CHECK(t, dispatch_ok(&ex, 8), "pool %d: dispatch after sleep",
			 threads);
		/* two callers share the pool */
		struct share_arg s1 = { &ex, 0 }, s2 = { &ex, 0 };
		pthread_t th;

		pthread_create(&th, NULL, share_thread, &s1);
		share_thread(&s2);
		pthread_join(th, NULL);
		KT_CHECK(t, s1.fails == 0 && s2.fails == 0,
			 "pool %d: shared by two threads", threads);
		/* a task that dispatches on its own pool from a worker */
		struct nest_arg na = { &ex, 0 };

		ex.run(ex.ctx, outer_task, &na, 4);
		KT_CHECK(t, atomic_load(&na.inner) == 12,
			 "pool %d: nested dispatch ran %d of 12", threads,
			 atomic_load(&na.inner));
		ek_pool_destroy(pool);
	}
	{
		/* more threads than CPUs: workers are preempted between reading
		 * a job and claiming from it, which is when a late worker once
		 * ran a task of the next job twice (a freed job, under load) */
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		int over = cpus > 0 && cpus < 8 ? 3 * (int)cpus : 8;
		struct ek_pool *pool = ek_pool_create(over);
		int bad = 0;

		if (pool) {
			struct ek_exec ex = ek_pool_exec(pool);

			for (int r = 0; r < 20000; r++)
				bad += !dispatch_ok(&ex, 2 + r % 5);
			ek_pool_destroy(pool);
		}
		KT_CHECK(t, pool && bad == 0,
			 "pool %d (oversubscribed): %d of 20000 dispatches bad", over, bad);
	}
	for (int threads = 2; threads <= 4; threads++) {
		struct ek_pool *pool = ek_pool_create(threads);
		struct bar_job bj;

		ek_barrier_init(&bj.b);
		atomic_init(&bj.count, 0);
		atomic_init(&bj.bad, 0);
		if (pool) {
			struct ek_exec ex = ek_pool_exec(pool);

			ex.run(ex.ctx, bar_task, &bj, threads);
			ek_pool_destroy(pool);
		}
		KT_CHECK(t, pool && atomic_load(&bj.bad) == 0 &&
			 atomic_load(&bj.count) == 100 * threads,
			 "pool %d: barrier rounds: %d bad, count %d", threads,
			 atomic_load(&bj.bad), atomic_load(&bj.count));
	}
	for (int threads = 2; threads <= 4; threads++) {
		int bad = meet_fresh_pools(threads, 200);

		KT_CHECK(t, bad == 0, "pool %d: %d of 200 jobs of waiting tasks, "
			 "published at once, did not get a thread each", threads, bad);
	}
	{
		struct ek_pool *pool = ek_pool_create(0);
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		KT_CHECK(t, pool && ek_pool_exec(pool).nthreads >= 1 &&
			 ek_pool_exec(pool).nthreads <= cpus,
			 "default pool size %d for %ld CPUs",
			 pool ? ek_pool_exec(pool).nthreads : -1, cpus);
		ek_pool_destroy(pool);
	}
	{
		struct ek_exec ex = ek_pool_exec(NULL);

		KT_CHECK(t, ex.nthreads == 1 && dispatch_ok(&ex, 5),
			 "exec of a NULL pool is serial");
		KT_CHECK(t, dispatch_ok(&ek_exec_serial, 9), "serial exec");
	}
	ek_pool_destroy(NULL);
}
