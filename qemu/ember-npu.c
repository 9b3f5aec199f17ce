/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Ember NPU: the PCI device (-device ember-npu). Identity, BARs and MSI-X
 * per hw.h, properties (compute threads, fault injection), realize,
 * unrealize and reset. See ember-npu.h for the map of the other parts and
 * docs/hardware.md for the programming model.
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "hw/pci/msix.h"
#include "hw/pci/pcie.h"
#include "hw/qdev-properties.h"
#include "hw/resettable.h"
#include "migration/vmstate.h"

#include "ember/kernels.h"
#include "ember-npu.h"

#define EMBER_MAX_COMPUTE_THREADS 64
#define EMBER_PCIE_CAP_OFFSET 0xe0

static void ember_vectors_use(PCIDevice *pdev)
{
    unsigned int v;

    /* msix_notify() drops vectors that are not marked used. */
    for (v = 0; v < EMBER_MSIX_COUNT; v++) {
        msix_vector_use(pdev, v);
    }
}

static void ember_realize(PCIDevice *pdev, Error **errp)
{
    EmberNpuState *s = EMBER_NPU(pdev);
    sigset_t all, old;

    if (s->compute_threads < 1 ||
        s->compute_threads > EMBER_MAX_COMPUTE_THREADS) {
        error_setg(errp, "ember-npu: compute-threads must be 1..%d, not %u",
                   EMBER_MAX_COMPUTE_THREADS, s->compute_threads);
        return;
    }
    if (pci_is_express(pdev) &&
        pcie_endpoint_cap_init(pdev, EMBER_PCIE_CAP_OFFSET) < 0) {
        error_setg(errp, "ember-npu: cannot add the PCIe capability");
        return;
    }

    memory_region_init_io(&s->regs, OBJECT(s), &ember_regs_ops, s,
                          "ember-npu-regs", EMBER_REGS_SIZE);
    pci_register_bar(pdev, EMBER_BAR_REGS,
                     PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_TYPE_64, &s->regs);
    if (msix_init_exclusive_bar(pdev, EMBER_MSIX_COUNT, EMBER_BAR_MSIX,
                                errp)) {
        return;
    }
    ember_vectors_use(pdev);

    /* The pool's threads are plain pthreads: let them inherit a full
     * signal mask, as QEMU's own threads have, so signals go elsewhere. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    s->pool = ek_pool_create(s->compute_threads);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!s->pool) {
        error_setg(errp, "ember-npu: cannot start %u compute threads",
                   s->compute_threads);
        msix_uninit_exclusive_bar(pdev);
        return;
    }

    s->caps_ops = ember_fw_caps_ops() & s->caps_ops_mask;
    s->caps_dtypes = ember_fw_caps_dtypes() & s->caps_dtypes_mask;
    qemu_mutex_init(&s->lock);
    qemu_cond_init(&s->cond);
    ember_hal_init(s);
    s->irq_bh = qemu_bh_new_guarded(ember_irq_bh, s,
                                    &DEVICE(s)->mem_reentrancy_guard);
    ember_ring_start(s);
}

static void ember_exit(PCIDevice *pdev)
{
    EmberNpuState *s = EMBER_NPU(pdev);

    ember_ring_stop(s);
    qemu_bh_delete(s->irq_bh);
    s->irq_bh = NULL;
    ember_hal_cleanup(s);
    ek_pool_destroy(s->pool);
    s->pool = NULL;
    qemu_cond_destroy(&s->cond);
    qemu_mutex_destroy(&s->lock);
    msix_unuse_all_vectors(pdev);
    msix_uninit_exclusive_bar(pdev);
}

static void ember_reset_hold(Object *obj, ResetType type)
{
    EmberNpuState *s = EMBER_NPU(obj);
    PCIDevice *pdev = PCI_DEVICE(obj);

    if (!s->irq_bh) {
        return;         /* not realized */
    }
    ember_soft_reset(s);
    msix_unuse_all_vectors(pdev);
    ember_vectors_use(pdev);
}

static const VMStateDescription ember_vmstate = {
    .name = TYPE_EMBER_NPU,
    .unmigratable = 1,  /* jobs run on host threads against guest memory */
};

static const Property ember_properties[] = {
    DEFINE_PROP_UINT32("compute-threads", EmberNpuState, compute_threads, 2),
    DEFINE_PROP_UINT32("caps-ops-mask", EmberNpuState, caps_ops_mask,
                       UINT32_MAX),
    DEFINE_PROP_UINT32("caps-dtypes-mask", EmberNpuState, caps_dtypes_mask,
                       UINT32_MAX),
    DEFINE_PROP_BOOL("inject-hang", EmberNpuState, inject_hang, false),
    DEFINE_PROP_UINT32("inject-hang-job", EmberNpuState, inject_hang_job, 0),
    DEFINE_PROP_UINT32("inject-fault-job", EmberNpuState, inject_fault_job, 0),
    DEFINE_PROP_UINT32("inject-bad-completion-job", EmberNpuState,
                       inject_bad_completion_job, 0),
    DEFINE_PROP_UINT32("inject-fw-crash-job", EmberNpuState,
                       inject_fw_crash_job, 0),
    DEFINE_PROP_UINT32("inject-dead-job", EmberNpuState, inject_dead_job, 0),
    DEFINE_PROP_UINT32("inject-slow-job", EmberNpuState, inject_slow_job, 0),
    DEFINE_PROP_UINT32("inject-slow-ms", EmberNpuState, inject_slow_ms, 8000),
    DEFINE_PROP_UINT32("views", EmberNpuState, view_max, 4096),
    DEFINE_PROP_UINT32("view-maps", EmberNpuState, view_max_maps, 32768),
};

static void ember_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *pc = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    pc->realize = ember_realize;
    pc->exit = ember_exit;
    pc->vendor_id = EMBER_PCI_VENDOR_ID;
    pc->device_id = EMBER_PCI_DEVICE_ID;
    pc->class_id = EMBER_PCI_CLASS;
    pc->revision = EMBER_PCI_REVISION;
    rc->phases.hold = ember_reset_hold;
    dc->desc = "Ember NPU (neural processing unit)";
    dc->vmsd = &ember_vmstate;
    device_class_set_props(dc, ember_properties);
    object_class_property_set_description(klass, "compute-threads",
        "host threads that run op kernels (1..64)");
    object_class_property_set_description(klass, "caps-ops-mask",
        "ops to offer, bit n = opcode n (fault injection)");
    object_class_property_set_description(klass, "caps-dtypes-mask",
        "dtypes to offer, bit n = dtype n (fault injection)");
    object_class_property_set_description(klass, "inject-hang",
        "no job ever completes until a reset (fault injection)");
    object_class_property_set_description(klass, "inject-hang-job",
        "the Nth job since start hangs until a reset; 0 = off");
    object_class_property_set_description(klass, "inject-fault-job",
        "the Nth job since start faults the MMU at its command stream; 0 = off");
    object_class_property_set_description(klass, "inject-bad-completion-job",
        "the Nth job since start completes with a wrong done_seqno; 0 = off");
    object_class_property_set_description(klass, "inject-fw-crash-job",
        "the firmware crashes at the Nth job since start (FW_ERROR, the job "
        "never completes, a reset boots it again); 0 = off");
    object_class_property_set_description(klass, "inject-dead-job",
        "the Nth job since start hangs and every firmware boot after it "
        "fails: the device is gone until QEMU restarts; 0 = off");
    object_class_property_set_description(klass, "inject-slow-job",
        "the Nth job since start takes inject-slow-ms before it runs; 0 = off");
    object_class_property_set_description(klass, "inject-slow-ms",
        "how long inject-slow-job's job is delayed (default 8000, past the "
        "driver's 5 s job timeout)");
    object_class_property_set_description(klass, "views",
        "zero-copy views of guest RAM kept cached; 0 = no views");
    object_class_property_set_description(klass, "view-maps",
        "host mappings (VMAs) the cached views may hold");
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo ember_npu_info = {
    .name = TYPE_EMBER_NPU,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(EmberNpuState),
    .class_init = ember_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_PCIE_DEVICE },
        { INTERFACE_CONVENTIONAL_PCI_DEVICE },
        { }
    },
};

static void ember_register_types(void)
{
    type_register_static(&ember_npu_info);
}

type_init(ember_register_types)
