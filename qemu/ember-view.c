/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ember NPU: zero-copy views of scattered guest RAM.
 *
 * When guest RAM is a shared, fd-backed RAMBlock (-object
 * memory-backend-memfd,share=on), the scattered guest pages behind a
 * device-VA range are mapped a second time, from that fd, at consecutive
 * host addresses: a view. The firmware then reads and writes guest memory
 * in place, as a device behind an IOMMU does, instead of through a copy.
 *
 * Views are cached like TLB entries, keyed by (slot, va, access): a hit, a
 * view at least as long as asked, maps an operand without walking the page
 * tables. A miss on a view that is too short builds a longer one in its
 * place (ember-hal.c maps twice the length ahead when the MMU allows), so a
 * KV cache that grows by a row per token is remapped a few times per
 * generation, not at every op. MMU_INVALIDATE of the
 * slot (or ALL), a write to the slot's AS_ROOT, and reset drop them; a view
 * still in use by the running op is unmapped when that use ends. A view
 * built while its slot was invalidated serves its one mapping and is not
 * cached.
 *
 * The cache is bounded in views (property "views") and in host mappings
 * (property "view-maps": each view holds one VMA per run of pages that is
 * not contiguous in the RAM file, and VMAs count against the host's
 * vm.max_map_count). Unused views are evicted least recently used first.
 * When a view cannot be made (RAM not fd-backed or not shared, huge pages,
 * a vIOMMU in front of the device, a budget exhausted, mmap failing) the
 * caller maps the RAM directly or bounces through a copy: nothing here
 * fails a job.
 *
 * Locking: view_lock guards the table, the LRU list, the budgets, the slot
 * generations and each view's use count and flags. It is a leaf lock; mmap
 * and munmap run outside it.
 */
#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/rcu.h"
#include "exec/memory.h"
#include "exec/ramblock.h"      /* RAMBlock.fd_offset, as vhost-user reads it */
#include "hw/pci/pci.h"
#include "hw/pci/pci_device.h"

#include "ember-npu.h"

struct EmberView {
    /* key */
    uint32_t as;
    unsigned int access;
    uint64_t va;
    uint64_t len;

    uint8_t *base;          /* host address of the page holding va */
    uint64_t size;          /* bytes mapped at base, whole pages */
    uint32_t nmaps;         /* host mappings (VMAs) it holds */
    GArray *runs;           /* write views: the guest RAM behind it */
    uint32_t users;         /* mappings of it the firmware holds */
    bool cached;            /* in the table and on the LRU list */
    QTAILQ_ENTRY(EmberView) lru;
};

/* A run of the RAM file, mapped as one host mapping. */
typedef struct EmberPiece {
    int fd;
    uint64_t off;
    uint64_t len;
} EmberPiece;

static guint view_hash(gconstpointer p)
{
    const EmberView *v = p;

    return g_int64_hash(&v->va) ^ (v->as << 2 | v->access);
}

static gboolean view_equal(gconstpointer a, gconstpointer b)
{
    const EmberView *x = a, *y = b;

    return x->as == y->as && x->access == y->access && x->va == y->va;
}

void ember_view_init(EmberNpuState *s)
{
    qemu_mutex_init(&s->view_lock);
    s->views = g_hash_table_new(view_hash, view_equal);
    QTAILQ_INIT(&s->view_lru);
    /*
     * A view maps guest pages one by one: host pages must be that small.
     * Behind a vIOMMU the device's DMA addresses are not guest-physical,
     * and a cached view would miss the guest's IOMMU unmaps: no views.
     */
    s->view_ok = qemu_real_host_page_size() == EMBER_PAGE_SIZE &&
                 pci_device_iommu_address_space(PCI_DEVICE(s)) ==
                 &address_space_memory;
}

static void view_destroy(EmberView *v)
{
    munmap(v->base, v->size);
    if (v->runs) {
        g_array_free(v->runs, true);
    }
    g_free(v);
}

static void destroy_all(GPtrArray *dead)
{
    guint i;

    for (i = 0; i < dead->len; i++) {
        view_destroy(g_ptr_array_index(dead, i));
    }
    g_ptr_array_free(dead, true);
}

/* Take @v out of the cache; if nobody uses it, onto @dead. */
static void uncache_locked(EmberNpuState *s, EmberView *v, GPtrArray *dead)
{
    g_hash_table_remove(s->views, v);
    QTAILQ_REMOVE(&s->view_lru, v, lru);
    v->cached = false;
    if (!v->users) {
        s->view_count--;
        s->view_maps -= v->nmaps;
        g_ptr_array_add(dead, v);
    }
}

/*
 * Evict unused views, least recently used first, until one more view with
 * @nmaps mappings fits the budgets; then count it. False if it cannot fit.
 */
static bool reserve_locked(EmberNpuState *s, uint32_t nmaps, GPtrArray *dead)
{
    EmberView *v, *next;

    QTAILQ_FOREACH_SAFE(v, &s->view_lru, lru, next) {
        if (s->view_count < s->view_max &&
            s->view_maps + nmaps <= s->view_max_maps) {
            break;
        }
        if (!v->users) {
            uncache_locked(s, v, dead);
        }
    }
    if (s->view_count >= s->view_max ||
        s->view_maps + nmaps > s->view_max_maps) {
        return false;
    }
    s->view_count++;
    s->view_maps += nmaps;
    return true;
}

EmberView *ember_view_get(EmberNpuState *s, uint32_t as, uint64_t va,
                          uint64_t len, unsigned int access,
                          uint64_t *shorter)
{
    EmberView key = { .as = as, .access = access, .va = va };
    EmberView *v;

    *shorter = 0;
    if (!s->view_max) {
        return NULL;
    }
    qemu_mutex_lock(&s->view_lock);
    v = g_hash_table_lookup(s->views, &key);
    if (v && v->len < len) {
        *shorter = v->len;
        v = NULL;
    }
    if (v) {
        v->users++;
        QTAILQ_REMOVE(&s->view_lru, v, lru);
        QTAILQ_INSERT_TAIL(&s->view_lru, v, lru);
    }
    qemu_mutex_unlock(&s->view_lock);
    return v;
}

uint32_t ember_view_gen(EmberNpuState *s, uint32_t as)
{
    uint32_t gen;

    if (as >= EMBER_NUM_AS) {
        return 0;           /* the walk faults: no view is made */
    }
    qemu_mutex_lock(&s->view_lock);
    gen = s->view_gen[as];
    qemu_mutex_unlock(&s->view_lock);
    return gen;
}

/*
 * The RAM file pieces behind @runs, widened to whole pages (the first run
 * starts @head bytes into its page), merged where the file is contiguous.
 * False if any of it is not page-sized, shared, fd-backed guest RAM.
 * Called under the RCU read lock (the RAMBlocks and their fds stay).
 */
static bool view_plan(EmberNpuState *s, const GArray *runs, uint64_t head,
                      bool is_write, GArray *pieces)
{
    AddressSpace *as = pci_get_address_space(PCI_DEVICE(s));
    guint i;

    for (i = 0; i < runs->len; i++) {
        const EmberRun *r = &g_array_index(runs, EmberRun, i);
        uint64_t pa = r->pa - (i ? 0 : head);
        uint64_t len = ROUND_UP(r->pa + r->len, EMBER_PAGE_SIZE) - pa;

        while (len) {
            hwaddr xlat, plen = len;
            MemoryRegion *mr = address_space_translate(as, pa, &xlat, &plen,
                                                       is_write,
                                                       MEMTXATTRS_UNSPECIFIED);
            RAMBlock *rb = mr->ram_block;
            EmberPiece *last = pieces->len ?
                &g_array_index(pieces, EmberPiece, pieces->len - 1) : NULL;
            uint64_t off;
            int fd;

            if (!plen || !memory_region_is_ram(mr) ||
                memory_region_is_ram_device(mr) || !rb ||
                !memory_access_is_direct(mr, is_write,
                                         MEMTXATTRS_UNSPECIFIED) ||
                qemu_ram_get_fd(rb) < 0 || !qemu_ram_is_shared(rb) ||
                qemu_ram_pagesize(rb) != EMBER_PAGE_SIZE ||
                ((xlat | plen) & (EMBER_PAGE_SIZE - 1))) {
                return false;
            }
            fd = qemu_ram_get_fd(rb);
            off = rb->fd_offset + xlat;
            if (last && last->fd == fd && last->off + last->len == off) {
                last->len += plen;
            } else {
                EmberPiece p = { .fd = fd, .off = off, .len = plen };

                g_array_append_val(pieces, p);
            }
            pa += plen;
            len -= plen;
        }
    }
    return true;
}

/* Reserve @size bytes of host address space and map @pieces over it. */
static uint8_t *view_map(const GArray *pieces, uint64_t size, int prot)
{
    uint8_t *base = mmap(NULL, size, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    uint64_t off = 0;
    guint i;

    if (base == MAP_FAILED) {
        return NULL;
    }
    for (i = 0; i < pieces->len; i++) {
        const EmberPiece *p = &g_array_index(pieces, EmberPiece, i);

        if (mmap(base + off, p->len, prot, MAP_SHARED | MAP_FIXED, p->fd,
                 p->off) == MAP_FAILED) {
            munmap(base, size);
            return NULL;
        }
        off += p->len;
    }
    return base;
}

/*
 * Map the RAM behind @runs as one view, within the budgets; NULL if it
 * cannot be done. The RCU read lock keeps the RAMBlocks, and so their fds,
 * from going away until the mappings are made.
 */
static EmberView *view_build(EmberNpuState *s, uint64_t va,
                             unsigned int access, const GArray *runs,
                             GArray *pieces)
{
    bool is_write = access & EMBER_ACCESS_WRITE;
    GPtrArray *dead = g_ptr_array_new();
    uint64_t size = 0;
    EmberView *v;
    uint8_t *base;
    bool fits;
    guint i;

    RCU_READ_LOCK_GUARD();
    if (!view_plan(s, runs, va & (EMBER_PAGE_SIZE - 1), is_write, pieces) ||
        pieces->len > s->view_max_maps) {
        g_ptr_array_free(dead, true);
        return NULL;
    }
    for (i = 0; i < pieces->len; i++) {
        size += g_array_index(pieces, EmberPiece, i).len;
    }

    qemu_mutex_lock(&s->view_lock);
    fits = reserve_locked(s, pieces->len, dead);
    qemu_mutex_unlock(&s->view_lock);
    destroy_all(dead);
    if (!fits) {
        return NULL;
    }

    base = view_map(pieces, size, PROT_READ | (is_write ? PROT_WRITE : 0));
    if (!base) {
        warn_report_once("ember-npu: cannot map a view of guest RAM (%s); "
                         "copying instead", strerror(errno));
        qemu_mutex_lock(&s->view_lock);
        s->view_count--;
        s->view_maps -= pieces->len;
        qemu_mutex_unlock(&s->view_lock);
        return NULL;
    }
    v = g_new0(EmberView, 1);
    v->base = base;
    v->size = size;
    v->nmaps = pieces->len;
    return v;
}

EmberView *ember_view_create(EmberNpuState *s, uint32_t as, uint64_t va,
                             uint64_t len, unsigned int access,
                             const GArray *runs, uint32_t gen)
{
    GPtrArray *dead;
    GArray *pieces;
    EmberView *v, *old;

    if (!s->view_max || !s->view_ok || !runs->len) {
        return NULL;
    }
    pieces = g_array_new(false, false, sizeof(EmberPiece));
    v = view_build(s, va, access, runs, pieces);
    g_array_free(pieces, true);
    if (!v) {
        return NULL;
    }
    v->as = as;
    v->access = access;
    v->va = va;
    v->len = len;
    v->users = 1;
    if (access & EMBER_ACCESS_WRITE) {
        v->runs = g_array_copy((GArray *)runs);
    }

    /*
     * Cache it unless the slot was invalidated since its walk began, in
     * place of a shorter view of the same key (a longer one, made since,
     * stays).
     */
    dead = g_ptr_array_new();
    qemu_mutex_lock(&s->view_lock);
    old = g_hash_table_lookup(s->views, v);
    if (old && old->len < len) {
        uncache_locked(s, old, dead);
        old = NULL;
    }
    if (gen == s->view_gen[as] && !old) {
        g_hash_table_add(s->views, v);
        QTAILQ_INSERT_TAIL(&s->view_lru, v, lru);
        v->cached = true;
    }
    qemu_mutex_unlock(&s->view_lock);
    destroy_all(dead);
    return v;
}

void *ember_view_ptr(const EmberView *v)
{
    return v->base + (v->va & (EMBER_PAGE_SIZE - 1));
}

void ember_view_put(EmberNpuState *s, EmberView *v, uint64_t len)
{
    bool destroy;
    guint i;

    /* What the end of a DMA write does, for what the op could write:
     * dirty bits, TCG code. */
    for (i = 0; v->runs && i < v->runs->len && len; i++) {
        EmberRun *r = &g_array_index(v->runs, EmberRun, i);
        uint64_t n = MIN(r->len, len);

        ember_dma_mark_written(s, r->pa, n);
        len -= n;
    }

    qemu_mutex_lock(&s->view_lock);
    assert(v->users);
    destroy = !--v->users && !v->cached;
    if (destroy) {
        s->view_count--;
        s->view_maps -= v->nmaps;
    }
    qemu_mutex_unlock(&s->view_lock);
    if (destroy) {
        view_destroy(v);
    }
}

void ember_view_invalidate(EmberNpuState *s, uint32_t slots)
{
    GPtrArray *dead = g_ptr_array_new();
    EmberView *v, *next;
    uint32_t as;

    qemu_mutex_lock(&s->view_lock);
    for (as = 0; as < EMBER_NUM_AS; as++) {
        if (slots & (1u << as)) {
            s->view_gen[as]++;
        }
    }
    QTAILQ_FOREACH_SAFE(v, &s->view_lru, lru, next) {
        if (slots & (1u << v->as)) {
            uncache_locked(s, v, dead);
        }
    }
    qemu_mutex_unlock(&s->view_lock);
    destroy_all(dead);
}

void ember_view_cleanup(EmberNpuState *s)
{
    if (s->views) {
        ember_view_invalidate(s, EMBER_VIEW_ALL_SLOTS);
        g_hash_table_destroy(s->views);
        s->views = NULL;
        qemu_mutex_destroy(&s->view_lock);
    }
}
