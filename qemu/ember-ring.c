/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ember NPU job ring. A dedicated worker thread runs the entries between
 * HEAD and TAIL in order through the firmware (ember_fw_run_job), writes
 * each entry's result fields with done_seqno last, advances HEAD and
 * raises JOB_DONE. A ring entry the device cannot read or does not accept
 * stops the ring with QUEUE_ERROR (HEAD stays on that entry).
 */
#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "qemu/rcu.h"
#include "qemu/timer.h"

#include "ember_accel.h"
#include "ember-npu.h"

#define RESULT_OFF offsetof(struct ember_hw_job, status)
#define RESULT_LEN (offsetof(struct ember_hw_job, done_seqno) - RESULT_OFF)

QEMU_BUILD_BUG_ON(sizeof(struct ember_hw_job) != 64);

static void queue_error_locked(EmberNpuState *s)
{
    s->ring_stopped = true;
    ember_irq_post_locked(s, EMBER_IRQ_QUEUE_ERROR);
}

void ember_ring_ctrl_locked(EmberNpuState *s, uint32_t ctrl)
{
    uint32_t size = s->cq_size_reg;

    if (!(ctrl & EMBER_CQ_CTRL_ENABLE)) {
        s->cq_ctrl = 0;         /* the job in flight still completes */
        return;
    }
    if (s->cq_ctrl & EMBER_CQ_CTRL_ENABLE) {
        return;
    }
    if (size < 2 || size > 4096 || !is_power_of_2(size) ||
        (s->cq_base_reg & 63) || !s->cq_base_reg) {
        queue_error_locked(s);
        return;
    }
    s->cq_base = s->cq_base_reg;
    s->cq_size = size;
    s->cq_head = 0;
    s->cq_tail = 0;
    s->ring_stopped = false;
    s->cq_ctrl = EMBER_CQ_CTRL_ENABLE;
}

void ember_ring_doorbell_locked(EmberNpuState *s, uint32_t tail)
{
    s->cq_tail = tail;
    if (!(s->cq_ctrl & EMBER_CQ_CTRL_ENABLE) ||
        s->fw_status != EMBER_FW_STATUS_READY ||
        tail - s->cq_head > s->cq_size) {
        queue_error_locked(s);
        return;
    }
    qemu_cond_broadcast(&s->cond);
}

static bool runnable_locked(EmberNpuState *s)
{
    return (s->cq_ctrl & EMBER_CQ_CTRL_ENABLE) && !s->ring_stopped &&
           !s->abort && s->fw_status == EMBER_FW_STATUS_READY &&
           s->cq_head != s->cq_tail;
}

/*
 * Fault injection before job @n runs (s->lock held): true if the job is
 * not to run (it hangs until a reset, or the firmware crashed and a reset
 * boots it again). A slow job just waits first, unless a reset comes.
 */
static bool inject_before_locked(EmberNpuState *s, uint32_t n)
{
    bool hang = s->inject_hang || n == s->inject_hang_job ||
                n == s->inject_dead_job;

    if (n == s->inject_dead_job) {
        s->dead = true;
    }
    if (n == s->inject_fw_crash_job) {
        s->fw_status = EMBER_FW_STATUS_ERROR | EMBER_FW_ERR_CRASH;
        ember_irq_post_locked(s, EMBER_IRQ_FW_ERROR);
        hang = true;
    }
    if (n == s->inject_slow_job) {
        int64_t end = qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
                      s->inject_slow_ms;
        int64_t left;

        while (!s->abort && !s->worker_stop &&
               (left = end - qemu_clock_get_ms(QEMU_CLOCK_REALTIME)) > 0) {
            qemu_cond_timedwait(&s->cond, &s->lock, left);
        }
        return s->abort || s->worker_stop;
    }
    /* the job never completes; only a reset ends it */
    while (hang && !s->abort && !s->worker_stop) {
        qemu_cond_wait(&s->cond, &s->lock);
    }
    return hang;
}

static bool write_result(EmberNpuState *s, uint64_t entry,
                         const struct ember_job_result *res, uint64_t busy_ns,
                         uint64_t seqno)
{
    struct ember_hw_job j;
    uint64_t done = cpu_to_le64(seqno);

    j.status = cpu_to_le32(res->status);
    j.fault_op = cpu_to_le32(res->fault_op);
    j.fault_va = cpu_to_le64(res->fault_va);
    j.busy_ns = cpu_to_le64(busy_ns);
    if (!ember_dma_write(s, entry + RESULT_OFF, (uint8_t *)&j + RESULT_OFF,
                         RESULT_LEN)) {
        return false;
    }
    smp_wmb();
    return ember_dma_write(s, entry + offsetof(struct ember_hw_job, done_seqno),
                           &done, sizeof(done));
}

/* Run the ring entry at @entry (DMA address); s->busy is set. */
static void run_entry(EmberNpuState *s, uint64_t entry)
{
    struct ember_job_result res = { 0 };
    struct ember_hw_job j;
    uint32_t as, n;
    int64_t t0, busy_ns;
    uint64_t copied, done_seqno;
    bool skip;

    if (!ember_dma_read(s, entry, &j, sizeof(j)) || le16_to_cpu(j.flags) ||
        le16_to_cpu(j.as_slot) >= EMBER_NUM_AS) {
        qemu_mutex_lock(&s->lock);
        if (!s->abort) {
            queue_error_locked(s);
        }
        qemu_mutex_unlock(&s->lock);
        return;
    }
    as = le16_to_cpu(j.as_slot);

    qemu_mutex_lock(&s->lock);
    n = ++s->jobs_started;
    skip = inject_before_locked(s, n);
    qemu_mutex_unlock(&s->lock);
    if (skip) {
        return;
    }

    t0 = get_clock();
    ember_hal_take_copied(s);   /* a job dropped by a reset left some */
    if (n == s->inject_fault_job) {
        /* as if the command stream were not mapped */
        struct ember_mmu_fault f = {
            .va = le64_to_cpu(j.cmd_va),
            .reason = EMBER_MMU_REASON_NOT_PRESENT,
            .access = EMBER_ACCESS_READ,
        };

        ember_mmu_report_fault(s, as, &f);
        res.status = EMBER_JOB_MMU_FAULT;
        res.fault_va = f.va;
    } else {
        ember_fw_run_job(&s->hal, as, le64_to_cpu(j.cmd_va),
                         le32_to_cpu(j.cmd_size), &res);
    }
    ember_hal_end_job(s);
    copied = ember_hal_take_copied(s);
    busy_ns = get_clock() - t0;
    done_seqno = le64_to_cpu(j.seqno) + (n == s->inject_bad_completion_job);

    qemu_mutex_lock(&s->lock);
    if (s->abort || s->worker_stop) {
        qemu_mutex_unlock(&s->lock);
        return;
    }
    /* Guest RAM only (ember-dma.c), so holding s->lock here is safe; it
     * orders the result against a concurrent reset. */
    if (!write_result(s, entry, &res, busy_ns, done_seqno)) {
        queue_error_locked(s);
    } else {
        s->cq_head++;
        s->perf[EMBER_PERF_BUSY_NS] += busy_ns;
        s->perf[EMBER_PERF_JOBS]++;
        s->perf[EMBER_PERF_OPS] += res.ops;
        s->perf[EMBER_PERF_BYTES_RD] += res.bytes_read;
        s->perf[EMBER_PERF_BYTES_WR] += res.bytes_written;
        s->perf[EMBER_PERF_BYTES_COPIED] += copied;
        ember_irq_post_locked(s, EMBER_IRQ_JOB_DONE);
    }
    qemu_mutex_unlock(&s->lock);
}

static void *ember_worker(void *opaque)
{
    EmberNpuState *s = opaque;

    rcu_register_thread();
    qemu_mutex_lock(&s->lock);
    for (;;) {
        uint64_t entry;

        while (!s->worker_stop && !runnable_locked(s)) {
            qemu_cond_wait(&s->cond, &s->lock);
        }
        if (s->worker_stop) {
            break;
        }
        entry = s->cq_base + (uint64_t)(s->cq_head & (s->cq_size - 1)) *
                sizeof(struct ember_hw_job);
        s->busy = true;
        qemu_mutex_unlock(&s->lock);

        run_entry(s, entry);

        qemu_mutex_lock(&s->lock);
        s->busy = false;
        qemu_cond_broadcast(&s->cond);
    }
    qemu_mutex_unlock(&s->lock);
    rcu_unregister_thread();
    return NULL;
}

void ember_ring_start(EmberNpuState *s)
{
    s->worker_stop = false;
    qemu_thread_create(&s->worker, "ember-npu", ember_worker, s,
                       QEMU_THREAD_JOINABLE);
}

void ember_ring_stop(EmberNpuState *s)
{
    qemu_mutex_lock(&s->lock);
    s->worker_stop = true;
    s->abort = true;
    qemu_cond_broadcast(&s->cond);
    qemu_mutex_unlock(&s->lock);
    qemu_thread_join(&s->worker);
}
