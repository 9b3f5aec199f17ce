/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ember NPU: the struct ember_hal the firmware runs on. map() hands out, in
 * this order of preference:
 *   - a cached view of the range (ember-view.c): no page walk, no copy;
 *   - a new view, when the range translates (device MMU) to shared,
 *     fd-backed guest RAM: no copy, cached for the next map;
 *   - the guest RAM itself (pci_dma_map), when it is one physically
 *     contiguous run;
 *   - a bounce buffer: a host copy read at map time and, for write access,
 *     written back at unmap time, counted in PERF_BYTES_COPIED.
 * parallel() runs the firmware's tasks on the device's compute-thread pool.
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "hw/pci/pci_device.h"

#include "ember/kernels.h"
#include "ember-npu.h"

/* Largest range one map() serves (a BO is at most 4 GiB): bounds the
 * page walk and the host memory a guest can make the device allocate. */
#define EMBER_MAP_MAX (4ull << 30)

typedef struct EmberMapping {
    void *ptr;
    uint64_t len;
    unsigned int access;
    EmberView *view;    /* a view (one use of it) */
    bool direct;        /* pci_dma_map */
    GArray *runs;       /* bounce only: where the copy came from */
} EmberMapping;

static DMADirection dma_dir(unsigned int access)
{
    return (access & EMBER_ACCESS_WRITE) ? DMA_DIRECTION_FROM_DEVICE
                                         : DMA_DIRECTION_TO_DEVICE;
}

/* Track @m until unmap; @copied bytes were bounced to set it up. */
static void *mapping_add(EmberNpuState *s, EmberMapping *m, uint64_t copied)
{
    qemu_mutex_lock(&s->map_lock);
    g_ptr_array_add(s->maps, m);
    s->job_bytes_copied += copied;
    qemu_mutex_unlock(&s->map_lock);
    return m->ptr;
}

uint64_t ember_hal_take_copied(EmberNpuState *s)
{
    uint64_t n;

    qemu_mutex_lock(&s->map_lock);
    n = s->job_bytes_copied;
    s->job_bytes_copied = 0;
    qemu_mutex_unlock(&s->map_lock);
    return n;
}

static EmberMapping *mapping_take(EmberNpuState *s, void *ptr)
{
    EmberMapping *m = NULL;
    guint i;

    qemu_mutex_lock(&s->map_lock);
    for (i = 0; i < s->maps->len; i++) {
        EmberMapping *c = g_ptr_array_index(s->maps, i);

        if (c->ptr == ptr) {
            m = g_ptr_array_steal_index_fast(s->maps, i);
            break;
        }
    }
    qemu_mutex_unlock(&s->map_lock);
    return m;
}

static void mapping_release(EmberNpuState *s, EmberMapping *m)
{
    PCIDevice *pdev = PCI_DEVICE(s);
    bool wr = m->access & EMBER_ACCESS_WRITE;

    if (m->view) {
        ember_view_put(s, m->view, m->len);
    } else if (m->direct) {
        pci_dma_unmap(pdev, m->ptr, m->len, dma_dir(m->access),
                      wr ? m->len : 0);
    } else {
        uint64_t off = 0;
        guint i;

        for (i = 0; wr && i < m->runs->len; i++) {
            EmberRun *r = &g_array_index(m->runs, EmberRun, i);

            /* RAM at map time; if that changed, the data is dropped. */
            ember_dma_write(s, r->pa, (uint8_t *)m->ptr + off, r->len);
            off += r->len;
        }
        if (wr) {
            qemu_mutex_lock(&s->map_lock);
            s->job_bytes_copied += m->len;
            qemu_mutex_unlock(&s->map_lock);
        }
        g_free(m->ptr);
        g_array_free(m->runs, true);
    }
    g_free(m);
}

/*
 * A range that outgrew its cached view (a KV cache, a row per token): walk
 * up to twice the old length, or less, as far as the MMU maps it with
 * @access, so that the next ops hit the view. Returns the length walked
 * into @runs, or 0 (nothing walked: map just [va, va + n)).
 */
static uint64_t view_ahead(EmberNpuState *s, uint32_t as, uint64_t va,
                           uint64_t n, unsigned int access, uint64_t shorter,
                           GArray *runs)
{
    uint64_t ext = MIN(MAX(2 * shorter, n), EMBER_MAP_MAX);
    struct ember_mmu_fault probe;
    int tries;

    for (tries = 0; tries < 3 && ext > n; tries++) {
        memset(&probe, 0, sizeof(probe));
        if (ember_mmu_translate(s, as, va, ext, access, runs, &probe)) {
            return ext;
        }
        g_array_set_size(runs, 0);
        ext = n + (ext - n) / 4;    /* the end of the mapping is nearer */
    }
    return 0;
}

/* Keeps the first @n bytes of @runs (they follow the VA range in order). */
static void runs_truncate(GArray *runs, uint64_t n)
{
    guint i;

    for (i = 0; i < runs->len && n; i++) {
        EmberRun *r = &g_array_index(runs, EmberRun, i);

        r->len = MIN(r->len, n);
        n -= r->len;
    }
    g_array_set_size(runs, i);
}

static void *hal_map(void *ctx, uint32_t as, uint64_t va, uint64_t len,
                     unsigned int access, struct ember_mmu_fault *fault)
{
    EmberNpuState *s = ctx;
    uint64_t n = len ? len : 1;
    EmberMapping *m;
    EmberView *v;
    GArray *runs;
    uint64_t off, shorter, vlen;
    uint32_t gen;
    bool aborting;
    guint i;

    qemu_mutex_lock(&s->lock);
    aborting = s->abort || s->worker_stop;
    qemu_mutex_unlock(&s->lock);
    if (aborting || !access || (access & ~(EMBER_ACCESS_READ |
                                           EMBER_ACCESS_WRITE))) {
        /* A reset is dropping this job: end it fast, record nothing. */
        fault->va = va;
        fault->reason = EMBER_MMU_REASON_PERMISSION;
        fault->access = access;
        return NULL;
    }

    if (n > EMBER_MAP_MAX) {
        fault->va = va + EMBER_MAP_MAX;
        fault->reason = EMBER_MMU_REASON_RANGE;
        fault->access = access;
        ember_mmu_report_fault(s, as, fault);
        return NULL;
    }

    m = g_new0(EmberMapping, 1);
    m->len = n;
    m->access = access;
    v = ember_view_get(s, as, va, n, access, &shorter);
    if (v) {
        m->view = v;
        m->ptr = ember_view_ptr(v);
        return mapping_add(s, m, 0);
    }

    gen = ember_view_gen(s, as);
    runs = g_array_new(false, false, sizeof(EmberRun));
    vlen = view_ahead(s, as, va, n, access, shorter, runs);
    if (!vlen && !ember_mmu_translate(s, as, va, n, access, runs, fault)) {
        g_array_free(runs, true);
        g_free(m);
        ember_mmu_report_fault(s, as, fault);
        return NULL;
    }

    v = ember_view_create(s, as, va, vlen ? vlen : n, access, runs, gen);
    if (v) {
        g_array_free(runs, true);
        m->view = v;
        m->ptr = ember_view_ptr(v);
        return mapping_add(s, m, 0);
    }
    if (vlen) {
        runs_truncate(runs, n);     /* the copy paths take the op's range */
    }
    if (runs->len == 1) {
        EmberRun *r = &g_array_index(runs, EmberRun, 0);
        dma_addr_t plen = n;
        void *p = NULL;

        if (ember_dma_is_ram(s, r->pa, n, access & EMBER_ACCESS_WRITE)) {
            p = pci_dma_map(PCI_DEVICE(s), r->pa, &plen, dma_dir(access));
        }
        if (p && plen == n) {
            g_array_free(runs, true);
            m->ptr = p;
            m->direct = true;
            return mapping_add(s, m, 0);
        }
        if (p) {
            pci_dma_unmap(PCI_DEVICE(s), p, plen, dma_dir(access), 0);
        }
    }

    /* Bounce: scattered pages that no view maps (RAM not fd-backed, ...). */
    m->ptr = g_try_malloc(n);
    m->runs = runs;
    for (i = 0, off = 0; m->ptr && i < runs->len; i++) {
        EmberRun *r = &g_array_index(runs, EmberRun, i);

        if (!ember_dma_read(s, r->pa, (uint8_t *)m->ptr + off, r->len)) {
            break;
        }
        off += r->len;
    }
    if (!m->ptr || i < runs->len) {
        /* The PTE points at something that is not RAM (or no memory for
         * the copy): there is nothing the device can access there. */
        fault->va = va + off;
        fault->reason = EMBER_MMU_REASON_NOT_PRESENT;
        ember_mmu_report_fault(s, as, fault);
        g_free(m->ptr);
        g_array_free(runs, true);
        g_free(m);
        return NULL;
    }
    return mapping_add(s, m, n);
}

static void hal_unmap(void *ctx, void *ptr, uint64_t len, unsigned int access)
{
    EmberNpuState *s = ctx;
    EmberMapping *m = mapping_take(s, ptr);

    if (!m) {
        warn_report_once("ember-npu: firmware unmapped an unknown pointer");
        return;
    }
    if (len != m->len && !(len == 0 && m->len == 1)) {
        warn_report_once("ember-npu: firmware unmapped with a different size");
    }
    mapping_release(s, m);
}

static void hal_parallel(void *ctx, void (*fn)(void *arg, int i, int n),
                         void *arg, int n)
{
    EmberNpuState *s = ctx;
    struct ek_exec ex = ek_pool_exec(s->pool);

    ex.run(ex.ctx, fn, arg, n);
}

void ember_hal_init(EmberNpuState *s)
{
    qemu_mutex_init(&s->map_lock);
    s->maps = g_ptr_array_new();
    ember_view_init(s);
    s->hal = (struct ember_hal) {
        .ctx = s,
        .map = hal_map,
        .unmap = hal_unmap,
        .parallel = hal_parallel,
        .nthreads = s->compute_threads,
        .caps_ops = s->caps_ops,
        .caps_dtypes = s->caps_dtypes,
    };
}

void ember_hal_end_job(EmberNpuState *s)
{
    EmberMapping *m;

    /* Mappings the firmware forgot: release them (writing back). */
    for (;;) {
        qemu_mutex_lock(&s->map_lock);
        m = s->maps->len ? g_ptr_array_steal_index_fast(s->maps, 0) : NULL;
        qemu_mutex_unlock(&s->map_lock);
        if (!m) {
            break;
        }
        warn_report_once("ember-npu: firmware left a mapping at job end");
        mapping_release(s, m);
    }
}

void ember_hal_cleanup(EmberNpuState *s)
{
    if (s->maps) {
        ember_hal_end_job(s);
        ember_view_cleanup(s);
        g_ptr_array_free(s->maps, true);
        s->maps = NULL;
        qemu_mutex_destroy(&s->map_lock);
    }
}
