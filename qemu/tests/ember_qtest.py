#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Host test of the ember-npu QEMU device through QEMU's qtest protocol.

No guest kernel: the test plays the driver. It programs the BARs and MSI-X
through PCI config space, writes firmware images, page tables, ring entries
and command streams straight into guest RAM, and checks registers, results
and the MSI-X messages (aimed at guest RAM so they can be read back).

usage: ember_qtest.py [path/to/qemu-system-x86_64]
       (default: the binary scripts/build-qemu.sh prints)
Prints TAP and a final "N passed, N failed" line; exit status 1 on failure.
"""
import os
import socket
import struct
import subprocess
import sys
import time
import zlib

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.dirname(__file__))
import ember_hw as hw  # noqa: E402  (constants parsed from hw.h / uapi)

BAR0 = 0xE0000000
BAR2 = 0xE0100000
MSI_ADDR = 0x00100000          # MSI-X messages land here (vector v: +4*v)
FW_ADDR = 0x00200000
RING = 0x00400000
RING_SIZE = 16
PT_ROOT = 0x00500000           # root, L1, L2 tables: 3 consecutive pages
DATA = 0x01000000              # backing pages, handed out in reverse
VA = 0x40000000                # device VA of the mapped buffer
NPAGES = 64
SLOT = 3


class Qtest:
    def __init__(self, qemu, props="", memfd=False):
        """QEMU with the device (@props: its properties). Guest RAM is plain
        anonymous memory (the device bounces scattered buffers), or with
        @memfd a shared memfd as scripts/run-guest.sh boots (views)."""
        dev = "ember-npu,addr=04.0" + ("," + props if props else "")
        self.mon_path = "/tmp/ember-qtest-%d-%d.mon" % (os.getpid(), id(self))
        ram = ["-machine", "q35"]
        if memfd:
            ram = ["-object", "memory-backend-memfd,id=ram,size=256M,share=on",
                   "-machine", "q35,memory-backend=ram"]
        self.p = subprocess.Popen(
            [qemu] + ram + ["-accel", "qtest", "-qtest", "stdio",
             "-qtest-log", "/dev/null", "-display", "none", "-nodefaults",
             "-m", "256M", "-L", "/usr/share/seabios", "-L", "/usr/share/qemu",
             "-monitor", "unix:%s,server=on,wait=off" % self.mon_path,
             "-device", dev],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.cmd("readl 0x0")       # QEMU is up (and the monitor socket too)

    def hmp(self, line):
        """Run one human-monitor command and wait until the prompt returns."""
        with socket.socket(socket.AF_UNIX) as m:
            m.connect(self.mon_path)
            buf = b""
            while b"(qemu)" not in buf:
                buf += m.recv(4096)
            m.sendall(line.encode() + b"\n")
            buf = b""
            while buf.count(b"(qemu)") < 1:
                buf += m.recv(4096)
        return buf.decode(errors="replace")

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        while True:
            r = self.p.stdout.readline()
            if not r:
                raise RuntimeError("qemu exited during: " + line)
            if r.startswith("OK") or r.startswith("FAIL"):
                if r.startswith("FAIL"):
                    raise RuntimeError(line + ": " + r)
                return r.split()[1] if len(r.split()) > 1 else None

    def close(self):
        """Stop QEMU the way a host does (SIGTERM); 0 if it shut down cleanly."""
        self.p.terminate()
        try:
            self.p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        if os.path.exists(self.mon_path):
            os.unlink(self.mon_path)
        return self.p.returncode

    # memory
    def writel(self, a, v): self.cmd("writel 0x%x 0x%x" % (a, v & 0xffffffff))
    def writeq(self, a, v): self.cmd("writeq 0x%x 0x%x" % (a, v & (2**64 - 1)))
    def readl(self, a): return int(self.cmd("readl 0x%x" % a), 16)
    def readq(self, a): return int(self.cmd("readq 0x%x" % a), 16)

    def write(self, a, data):
        for off in range(0, len(data), 4096):
            chunk = data[off:off + 4096]
            self.cmd("write 0x%x 0x%x 0x%s" % (a + off, len(chunk), chunk.hex()))

    def read(self, a, n):
        return bytes.fromhex(self.cmd("read 0x%x 0x%x" % (a, n))[2:])

    # PCI config space of 00:04.0 through the 0xcf8/0xcfc ports
    def cfg_addr(self, reg): self.cmd("outl 0xcf8 0x%x" % (0x80000000 | (4 << 11) | (reg & 0xfc)))

    def cfg_readl(self, reg):
        self.cfg_addr(reg)
        return int(self.cmd("inl 0xcfc"), 16)

    def cfg_writel(self, reg, v):
        self.cfg_addr(reg)
        self.cmd("outl 0xcfc 0x%x" % v)

    def cfg_readw(self, reg):
        return (self.cfg_readl(reg & ~3) >> (8 * (reg & 2))) & 0xffff

    def cfg_writew(self, reg, v):
        old = self.cfg_readl(reg & ~3)
        sh = 8 * (reg & 2)
        self.cfg_writel(reg & ~3, (old & ~(0xffff << sh)) | (v << sh))

    # device registers
    def reg(self, off): return self.readl(BAR0 + off)
    def reg64(self, off): return self.readq(BAR0 + off)
    def set(self, off, v): self.writel(BAR0 + off, v)
    def set64(self, off, v): self.writeq(BAR0 + off, v)


# ---- test bookkeeping ---------------------------------------------------
results = []


def check(name, cond, detail=""):
    results.append(bool(cond))
    print("%s %d - %s%s" % ("ok" if cond else "not ok", len(results), name,
                            "" if cond else "  # " + detail))
    sys.stdout.flush()


def wait_for(fn, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.01)
    return fn()


# ---- driver pieces ------------------------------------------------------
def build_id(qemu):
    """The firmware build id compiled into @qemu (build-qemu.sh stores it
    beside the binary), else the one of the current sources."""
    if os.path.exists(qemu + ".build-id"):
        return int(open(qemu + ".build-id").read().strip(), 16)
    out = subprocess.run(["sh", os.path.join(ROOT, "firmware/build-id.sh"), ROOT],
                         check=True, capture_output=True, text=True).stdout
    return int(out.strip().splitlines()[-1], 16)


def fw_image(bid, magic=None, abi=None, corrupt=False, payload=b"ember" * 100):
    version = ("1.0.0+%08x" % (bid >> 32)).encode().ljust(32, b"\0")
    crc = zlib.crc32(payload) & 0xffffffff
    if corrupt:
        crc ^= 1
    hdr = struct.pack("<IHHIIQII32s", hw.EMBER_FW_MAGIC if magic is None else magic,
                      hw.EMBER_FW_ABI_MAJOR if abi is None else abi,
                      hw.EMBER_FW_ABI_MINOR, 64, len(payload), bid, crc, 0, version)
    return hdr + payload


def probe(q):
    """Map the BARs, enable memory + bus mastering, MSI-X to guest RAM."""
    q.cfg_writel(0x10, BAR0)
    q.cfg_writel(0x14, 0)
    q.cfg_writel(0x18, BAR2)
    q.cfg_writew(0x04, 0x6)
    cap = q.cfg_readl(0x34) & 0xff
    msix = None
    while cap:
        hdr = q.cfg_readl(cap)
        if hdr & 0xff == 0x11:
            msix = cap
        cap = (hdr >> 8) & 0xff
    q.msix_cap = msix
    if msix is None:
        return
    q.cfg_writew(msix + 2, 0x8000)              # MSI-X enable, unmasked
    for v in range(hw.EMBER_MSIX_COUNT):
        e = BAR2 + 16 * v
        q.writel(e, MSI_ADDR + 4 * v)
        q.writel(e + 4, 0)
        q.writel(e + 8, 0xE0 + v)
        q.writel(e + 12, 0)                     # vector control: unmasked
        q.writel(MSI_ADDR + 4 * v, 0)


def msi(q, v):
    """Return and clear the message count marker of vector v."""
    got = q.readl(MSI_ADDR + 4 * v)
    q.writel(MSI_ADDR + 4 * v, 0)
    return got


def boot(q, image):
    q.write(FW_ADDR, image)
    q.set64(hw.EMBER_REG_FW_ADDR, FW_ADDR)
    q.set(hw.EMBER_REG_FW_SIZE, len(image))
    q.set(hw.EMBER_REG_FW_CTRL, hw.EMBER_FW_CTRL_BOOT)
    return wait_for(lambda: q.reg(hw.EMBER_REG_FW_STATUS) != hw.EMBER_FW_STATUS_BOOTING
                    and q.reg(hw.EMBER_REG_FW_STATUS))


def map_pages(q, writable_from=0):
    """Map NPAGES at VA in SLOT, backed by pages in reverse physical order
    (so the device must bounce); pages >= writable_from are writable."""
    l1, l2 = PT_ROOT + 0x1000, PT_ROOT + 0x2000
    q.write(PT_ROOT, bytes(3 * 4096))
    q.writeq(PT_ROOT + 8 * ((VA >> 30) & 511), l1 | hw.EMBER_PTE_VALID)
    q.writeq(l1 + 8 * ((VA >> 21) & 511), l2 | hw.EMBER_PTE_VALID)
    ptes = b""
    for i in range(NPAGES):
        perm = hw.EMBER_PTE_VALID | hw.EMBER_PTE_READ
        if i >= writable_from:
            perm |= hw.EMBER_PTE_WRITE
        ptes += struct.pack("<Q", page_pa(i) | perm)
    q.write(l2 + 8 * ((VA >> 12) & 511), ptes)
    q.set64(hw.EMBER_REG_AS_ROOT(SLOT), PT_ROOT)
    q.set(hw.EMBER_REG_MMU_INVALIDATE, SLOT)


def page_pa(i):
    return DATA + (NPAGES - 1 - i) * 4096


def va_write(q, va, data):
    """Write through the test's own page tables (host side)."""
    off = va - VA
    while data:
        pg, po = divmod(off, 4096)
        n = min(len(data), 4096 - po)
        q.write(page_pa(pg) + po, data[:n])
        data, off = data[n:], off + n


def va_read(q, va, n):
    off, out = va - VA, b""
    while n:
        pg, po = divmod(off, 4096)
        k = min(n, 4096 - po)
        out += q.read(page_pa(pg) + po, k)
        n, off = n - k, off + k
    return out


def ring_init(q):
    q.write(RING, bytes(64 * RING_SIZE))
    q.set64(hw.EMBER_REG_CQ_BASE, RING)
    q.set(hw.EMBER_REG_CQ_SIZE, RING_SIZE)
    q.set(hw.EMBER_REG_CQ_CTRL, hw.EMBER_CQ_CTRL_ENABLE)
    q.tail = 0


def submit(q, seqno, cmd_va, cmd_size, slot=SLOT, flags=0):
    e = RING + 64 * (q.tail % RING_SIZE)
    q.write(e, struct.pack("<QQIHHQIIQQQ", seqno, cmd_va, cmd_size, slot, flags,
                           0, 0xdead, 0, 0, 0, 0))
    q.tail += 1
    q.set(hw.EMBER_REG_CQ_TAIL, q.tail)
    return e


def result(q, e):
    """(status, fault_op, fault_va, busy_ns, done_seqno) of a ring entry."""
    return struct.unpack("<IIQQQ", q.read(e + 32, 32))


def wait_head(q, n, timeout=20.0):
    return wait_for(lambda: q.reg(hw.EMBER_REG_CQ_HEAD) == n, timeout)


def op_nop():
    return struct.pack("<HHI", hw.EMBER_OP_NOP, 8, 0)


def op_matmul(m, n, k, a_va, w_va, c_va, flags=0, bias_va=0):
    return struct.pack("<HHIIIIBBBBQQQQQQQ", hw.EMBER_OP_MATMUL, 80, flags, m, n, k,
                       hw.EMBER_DTYPE_F32, hw.EMBER_DTYPE_F32, hw.EMBER_DTYPE_F32, 0,
                       a_va, w_va, c_va, bias_va, 4 * k, 4 * k, 4 * n)


def f32s(vals):
    return struct.pack("<%df" % len(vals), *vals)


# ---- the tests ----------------------------------------------------------
def test_identity(q):
    check("PCI vendor/device", q.cfg_readl(0) == (hw.EMBER_PCI_DEVICE_ID << 16 | hw.EMBER_PCI_VENDOR_ID),
          hex(q.cfg_readl(0)))
    rc = q.cfg_readl(8)
    check("PCI class/revision", rc == (hw.EMBER_PCI_CLASS << 16 | hw.EMBER_PCI_REVISION), hex(rc))
    check("BAR0 is 64-bit memory", q.cfg_readl(0x10) & 0x7 == 0x4, hex(q.cfg_readl(0x10)))
    check("MSI-X capability present", q.msix_cap is not None)
    if q.msix_cap:
        ctl = q.cfg_readw(q.msix_cap + 2)
        tbl = q.cfg_readl(q.msix_cap + 4)
        check("MSI-X: 2 vectors, table in BAR 2",
              (ctl & 0x7ff) + 1 == hw.EMBER_MSIX_COUNT and tbl & 7 == hw.EMBER_BAR_MSIX,
              "ctl %#x tbl %#x" % (ctl, tbl))
    check("ID register", q.reg(hw.EMBER_REG_ID) == hw.EMBER_ID_MAGIC)
    check("HW_VERSION", q.reg(hw.EMBER_REG_HW_VERSION) == hw.EMBER_HW_VERSION)
    check("NUM_AS", q.reg(hw.EMBER_REG_NUM_AS) == hw.EMBER_NUM_AS)
    check("COMPUTE_UNITS = compute-threads (2)", q.reg(hw.EMBER_REG_COMPUTE_UNITS) == 2)
    ops = q.reg(hw.EMBER_REG_CAPS_OPS)
    check("CAPS_OPS has NOP and MATMUL", ops & 3 == 3, hex(ops))
    check("CAPS_DTYPES has F32", q.reg(hw.EMBER_REG_CAPS_DTYPES) & 1)
    check("FW_STATUS is OFF", q.reg(hw.EMBER_REG_FW_STATUS) == hw.EMBER_FW_STATUS_OFF)


def test_boot_errors(q, bid):
    q.set(hw.EMBER_REG_IRQ_MASK, 0xf)
    cases = [("short image", fw_image(bid)[:40], hw.EMBER_FW_ERR_SIZE),
             ("bad magic", fw_image(bid, magic=0x12345678), hw.EMBER_FW_ERR_MAGIC),
             ("bad checksum", fw_image(bid, corrupt=True), hw.EMBER_FW_ERR_CHECKSUM),
             ("bad ABI major", fw_image(bid, abi=hw.EMBER_FW_ABI_MAJOR + 1), hw.EMBER_FW_ERR_ABI),
             ("other build id", fw_image(bid ^ 1), hw.EMBER_FW_ERR_BUILD_ID)]
    for name, img, code in cases:
        msi(q, hw.EMBER_MSIX_ERROR)
        st = boot(q, img)
        irq = q.reg(hw.EMBER_REG_IRQ_STATUS)
        sent = wait_for(lambda: q.readl(MSI_ADDR + 4 * hw.EMBER_MSIX_ERROR), 2)
        check("boot fails: %s -> ERROR|%d, FW_ERROR irq, MSI-X vector 1" % (name, code),
              st == (hw.EMBER_FW_STATUS_ERROR | code) and irq & hw.EMBER_IRQ_FW_ERROR
              and sent == 0xE1, "status %#x irq %#x msi %#x" % (st, irq, sent))
        q.set(hw.EMBER_REG_IRQ_STATUS, hw.EMBER_IRQ_FW_ERROR)
    q.set64(hw.EMBER_REG_FW_ADDR, 0xfffffff000)     # no memory there
    q.set(hw.EMBER_REG_FW_SIZE, 4096)
    q.set(hw.EMBER_REG_FW_CTRL, hw.EMBER_FW_CTRL_BOOT)
    st = q.reg(hw.EMBER_REG_FW_STATUS)
    check("boot fails: unreadable image -> ERROR|DMA",
          st == hw.EMBER_FW_STATUS_ERROR | hw.EMBER_FW_ERR_DMA, hex(st))
    q.set(hw.EMBER_REG_IRQ_STATUS, 0xf)
    q.cfg_writew(0x04, 0x2)                         # bus mastering off
    st = boot(q, fw_image(bid))
    q.cfg_writew(0x04, 0x6)
    check("boot fails without bus mastering -> ERROR|DMA",
          st == hw.EMBER_FW_STATUS_ERROR | hw.EMBER_FW_ERR_DMA, hex(st))
    q.set(hw.EMBER_REG_IRQ_STATUS, 0xf)


def test_boot_ok(q, bid):
    st = boot(q, fw_image(bid))
    check("boot: READY", st == hw.EMBER_FW_STATUS_READY, hex(st))
    check("FW_ABI", q.reg(hw.EMBER_REG_FW_ABI) == (hw.EMBER_FW_ABI_MAJOR << 16 | hw.EMBER_FW_ABI_MINOR))
    lo, hi = q.reg(hw.EMBER_REG_FW_BUILD_ID), q.reg(hw.EMBER_REG_FW_BUILD_ID + 4)
    check("FW_BUILD_ID (two 32-bit reads)", (hi << 32 | lo) == bid, "%x%08x" % (hi, lo))
    check("FW_BUILD_ID (one 64-bit read)", q.reg64(hw.EMBER_REG_FW_BUILD_ID) == bid)


def test_jobs(q):
    q.set(hw.EMBER_REG_IRQ_MASK, 0xf)
    map_pages(q, writable_from=32)
    ring_init(q)
    # NOP
    va_write(q, VA, op_nop() * 3)
    msi(q, hw.EMBER_MSIX_JOB)
    e = submit(q, 101, VA, 24)
    ok = wait_head(q, 1)
    st, fop, fva, busy, done = result(q, e)
    check("NOP job completes: HEAD 1, OK, done_seqno", ok and st == 0 and done == 101,
          "head %d status %d done %d" % (q.reg(hw.EMBER_REG_CQ_HEAD), st, done))
    check("JOB_DONE status + MSI-X vector 0",
          q.reg(hw.EMBER_REG_IRQ_STATUS) & hw.EMBER_IRQ_JOB_DONE and
          wait_for(lambda: q.readl(MSI_ADDR), 2) == 0xE0)
    q.set(hw.EMBER_REG_IRQ_STATUS, hw.EMBER_IRQ_JOB_DONE)
    check("IRQ_STATUS write-1-to-clear", q.reg(hw.EMBER_REG_IRQ_STATUS) & 1 == 0)

    # MATMUL across pages (bounced), C in the writable half
    m, n, k = 3, 5, 40
    a = [((i * 7) % 11 - 5) * 0.25 for i in range(m * k)]
    w = [((i * 5) % 13 - 6) * 0.125 for i in range(n * k)]
    a_va, w_va, c_va, cmd_va = VA + 4000, VA + 0x3000 - 100, VA + 32 * 4096 + 8, VA + 0x8000
    va_write(q, a_va, f32s(a))
    va_write(q, w_va, f32s(w))
    va_write(q, c_va, f32s([0.0] * m * n))
    va_write(q, cmd_va, op_matmul(m, n, k, a_va, w_va, c_va))
    e = submit(q, 102, cmd_va, 80)
    ok = wait_head(q, 2)
    st = result(q, e)[0]
    c = struct.unpack("<%df" % (m * n), va_read(q, c_va, 4 * m * n))
    ref = [sum(a[i * k + j] * w[r * k + j] for j in range(k)) for i in range(m) for r in range(n)]
    err = max(abs(x - y) for x, y in zip(c, ref))
    check("MATMUL f32 through the MMU matches the reference", ok and st == 0 and err < 1e-4,
          "status %d err %g c %s" % (st, err, c[:4]))
    perf_jobs = q.reg64(hw.EMBER_REG_PERF_JOBS)
    perf_ops = q.reg64(hw.EMBER_REG_PERF_OPS)
    rd = q.reg64(hw.EMBER_REG_PERF_BYTES_RD)
    wr = q.reg64(hw.EMBER_REG_PERF_BYTES_WR)
    check("perf counters: jobs 2, ops 4, bytes moved",
          perf_jobs == 2 and perf_ops == 4 and rd > 0 and wr >= 4 * m * n,
          "jobs %d ops %d rd %d wr %d" % (perf_jobs, perf_ops, rd, wr))
    check("PERF_BUSY_NS advanced", q.reg64(hw.EMBER_REG_PERF_BUSY_NS) > 0)
    # A and W straddle two scattered pages: bounced (read once each). C and
    # the command streams sit in one page each: mapped directly.
    copied = q.reg64(hw.EMBER_REG_PERF_BYTES_COPIED)
    check("PERF_BYTES_COPIED: the bounced operands A and W (4 * (m + n) * k)",
          copied == 4 * (m + n) * k, "copied %d" % copied)
    lo = q.reg(hw.EMBER_REG_PERF_BYTES_COPIED)
    hi = q.reg(hw.EMBER_REG_PERF_BYTES_COPIED + 4)
    check("PERF_BYTES_COPIED (two 32-bit reads)", hi << 32 | lo == copied)

    test_contiguous(q)
    check("contiguous operands copy nothing",
          q.reg64(hw.EMBER_REG_PERF_BYTES_COPIED) == copied,
          str(q.reg64(hw.EMBER_REG_PERF_BYTES_COPIED)))

    # A writable operand that straddles pages: read at map, written back
    c2_va = VA + 33 * 4096 - 20
    va_write(q, c2_va, f32s([0.0] * m * n))
    va_write(q, cmd_va, op_matmul(m, n, k, a_va, w_va, c2_va))
    e = submit(q, 108, cmd_va, 80)
    wait_head(q, 4)
    c = struct.unpack("<%df" % (m * n), va_read(q, c2_va, 4 * m * n))
    err = max(abs(x - y) for x, y in zip(c, ref))
    got = q.reg64(hw.EMBER_REG_PERF_BYTES_COPIED) - copied
    check("bounced output: correct, PERF_BYTES_COPIED counts A, W and C twice",
          result(q, e)[0] == 0 and err < 1e-4 and
          got == 4 * (m + n) * k + 2 * 4 * m * n, "status %d err %g copied %d" % (
              result(q, e)[0], err, got))

    # MMU faults: write to a read-only page, read an unmapped VA, empty slot
    va_write(q, cmd_va, op_matmul(m, n, k, a_va, w_va, VA + 8))
    msi(q, hw.EMBER_MSIX_ERROR)
    e = submit(q, 103, cmd_va, 80)
    wait_head(q, 5)
    st, fop, fva, _, done = result(q, e)
    fs = q.reg(hw.EMBER_REG_MMU_FAULT_STATUS)
    check("write to read-only page: job MMU_FAULT, fault_va",
          st == hw.EMBER_JOB_MMU_FAULT and fva == VA + 8 and done == 103,
          "status %d fva %#x" % (st, fva))
    check("MMU_FAULT_STATUS: valid, write, PERMISSION, slot",
          fs & hw.EMBER_MMU_FAULT_VALID and fs & hw.EMBER_MMU_FAULT_WRITE and
          (fs >> 4) & 0xf == hw.EMBER_MMU_REASON_PERMISSION and (fs >> 16) & 0xff == SLOT
          and q.reg64(hw.EMBER_REG_MMU_FAULT_ADDR) == VA + 8, hex(fs))
    check("MMU_FAULT irq on MSI-X vector 1",
          q.reg(hw.EMBER_REG_IRQ_STATUS) & hw.EMBER_IRQ_MMU_FAULT and
          wait_for(lambda: q.readl(MSI_ADDR + 4), 2) == 0xE1)
    q.set(hw.EMBER_REG_MMU_FAULT_STATUS, 1)
    q.set(hw.EMBER_REG_IRQ_STATUS, 0xf)
    check("MMU_FAULT_STATUS write-1-to-clear", q.reg(hw.EMBER_REG_MMU_FAULT_STATUS) == 0)

    e = submit(q, 104, VA + NPAGES * 4096, 8)
    wait_head(q, 6)
    st, _, fva, _, _ = result(q, e)
    fs = q.reg(hw.EMBER_REG_MMU_FAULT_STATUS)
    check("unmapped command stream: MMU_FAULT, NOT_PRESENT",
          st == hw.EMBER_JOB_MMU_FAULT and fva == VA + NPAGES * 4096 and
          (fs >> 4) & 0xf == hw.EMBER_MMU_REASON_NOT_PRESENT and not fs & 2, "st %d fs %#x" % (st, fs))
    q.set(hw.EMBER_REG_MMU_FAULT_STATUS, 1)
    e = submit(q, 105, VA, 8, slot=5)
    wait_head(q, 7)
    fs = q.reg(hw.EMBER_REG_MMU_FAULT_STATUS)
    check("slot without root: MMU_FAULT, reason SLOT",
          result(q, e)[0] == hw.EMBER_JOB_MMU_FAULT and (fs >> 4) & 0xf == hw.EMBER_MMU_REASON_SLOT
          and (fs >> 16) & 0xff == 5, hex(fs))
    q.set(hw.EMBER_REG_MMU_FAULT_STATUS, 1)
    e = submit(q, 106, (1 << 39) - 4, 8)
    wait_head(q, 8)
    fs = q.reg(hw.EMBER_REG_MMU_FAULT_STATUS)
    check("range beyond 39 bits: reason RANGE", (fs >> 4) & 0xf == hw.EMBER_MMU_REASON_RANGE, hex(fs))
    q.set(hw.EMBER_REG_MMU_FAULT_STATUS, 1)
    check("PERF_FAULTS counted 4", q.reg64(hw.EMBER_REG_PERF_FAULTS) == 4,
          str(q.reg64(hw.EMBER_REG_PERF_FAULTS)))

    # bad command stream: a job status, ring goes on
    va_write(q, cmd_va, struct.pack("<HHI", 99, 8, 0))
    e = submit(q, 107, cmd_va, 8)
    wait_head(q, 9)
    check("unknown opcode: BAD_OP", result(q, e)[0] == hw.EMBER_JOB_BAD_OP, str(result(q, e)))

    # many jobs in flight, ring wraps
    va_write(q, VA, op_nop())
    for i in range(20):
        if i and i % 8 == 0:
            wait_head(q, 9 + i)
        submit(q, 200 + i, VA, 8)
    ok = wait_head(q, 29)
    last = result(q, RING + 64 * ((q.tail - 1) % RING_SIZE))
    check("20 queued jobs complete in order across the wrap", ok and last[4] == 219, str(last))

    # bad ring entry -> QUEUE_ERROR, ring stops, HEAD stays
    q.set(hw.EMBER_REG_IRQ_STATUS, 0xf)
    submit(q, 300, VA, 8, slot=hw.EMBER_NUM_AS)
    submit(q, 301, VA, 8)
    time.sleep(0.3)
    check("bad as_slot: QUEUE_ERROR, HEAD stays",
          q.reg(hw.EMBER_REG_IRQ_STATUS) & hw.EMBER_IRQ_QUEUE_ERROR and
          q.reg(hw.EMBER_REG_CQ_HEAD) == 29, "irq %#x head %d" % (
              q.reg(hw.EMBER_REG_IRQ_STATUS), q.reg(hw.EMBER_REG_CQ_HEAD)))
    # doorbell overflow
    ring_init(q)
    q.set(hw.EMBER_REG_IRQ_STATUS, 0xf)
    q.set(hw.EMBER_REG_CQ_TAIL, RING_SIZE + 1)
    check("doorbell beyond ring size: QUEUE_ERROR",
          wait_for(lambda: q.reg(hw.EMBER_REG_IRQ_STATUS) & hw.EMBER_IRQ_QUEUE_ERROR, 2))


def test_contiguous(q):
    """A range that is physically contiguous goes through pci_dma_map
    (zero copy); results must match the bounced path."""
    slot, root, data, va = 4, 0x00600000, 0x02000000, 0x80000000
    l1, l2 = root + 0x1000, root + 0x2000
    q.write(root, bytes(3 * 4096))
    q.writeq(root + 8 * ((va >> 30) & 511), l1 | hw.EMBER_PTE_VALID)
    q.writeq(l1 + 8 * ((va >> 21) & 511), l2 | hw.EMBER_PTE_VALID)
    q.write(l2, b"".join(struct.pack("<Q", (data + 4096 * i) | 7) for i in range(16)))
    q.set64(hw.EMBER_REG_AS_ROOT(slot), root)
    m, n, k = 4, 8, 64
    a = [((i * 3) % 7 - 3) * 0.5 for i in range(m * k)]
    w = [((i * 11) % 5 - 2) * 0.25 for i in range(n * k)]
    bias = [float(i) for i in range(n)]
    q.write(data, f32s(a))
    q.write(data + 0x2000, f32s(w))
    q.write(data + 0x5000, f32s([1.0] * m * n))
    q.write(data + 0x6000, f32s(bias))
    q.write(data + 0x7000, op_matmul(m, n, k, va, va + 0x2000, va + 0x5000,
                                     flags=hw.EMBER_MATMUL_ACCUMULATE | hw.EMBER_MATMUL_BIAS,
                                     bias_va=va + 0x6000))
    head = q.reg(hw.EMBER_REG_CQ_HEAD)
    e = submit(q, 150, va + 0x7000, 80, slot=slot)
    ok = wait_head(q, head + 1)
    c = struct.unpack("<%df" % (m * n), q.read(data + 0x5000, 4 * m * n))
    ref = [1.0 + bias[r] + sum(a[i * k + j] * w[r * k + j] for j in range(k))
           for i in range(m) for r in range(n)]
    err = max(abs(x - y) for x, y in zip(c, ref))
    check("MATMUL (bias, accumulate) on contiguous memory, zero-copy path",
          ok and result(q, e)[0] == 0 and err < 1e-4, "status %d err %g" % (result(q, e)[0], err))


def test_soft_reset(q, bid):
    q.set(hw.EMBER_REG_RESET, hw.EMBER_RESET_SOFT)
    check("soft reset: FW OFF, ring off, HEAD 0, IRQ clear, roots and perf zero",
          q.reg(hw.EMBER_REG_FW_STATUS) == 0 and q.reg(hw.EMBER_REG_CQ_CTRL) == 0 and
          q.reg(hw.EMBER_REG_CQ_HEAD) == 0 and q.reg(hw.EMBER_REG_IRQ_STATUS) == 0 and
          q.reg64(hw.EMBER_REG_AS_ROOT(SLOT)) == 0 and q.reg64(hw.EMBER_REG_PERF_JOBS) == 0
          and q.reg64(hw.EMBER_REG_PERF_BYTES_COPIED) == 0)
    st = boot(q, fw_image(bid))
    map_pages(q)
    ring_init(q)
    q.set(hw.EMBER_REG_IRQ_MASK, 0xf)
    va_write(q, VA, op_nop())
    e = submit(q, 400, VA, 8)
    check("after soft reset the device runs jobs again",
          st == hw.EMBER_FW_STATUS_READY and wait_head(q, 1) and result(q, e)[4] == 400)


def set_pte(q, i, pa, perm=7):
    """Point page i of the mapping at VA to @pa (0: not present)."""
    l2 = PT_ROOT + 0x2000
    q.writeq(l2 + 8 * (((VA >> 12) + i) & 511), pa | perm if pa else 0)


def run_matmul(q, seqno, m, n, k, a_va, w_va, c_va, cmd_va):
    """One MATMUL job; returns (status, C, bytes copied by the job)."""
    copied = q.reg64(hw.EMBER_REG_PERF_BYTES_COPIED)
    head = q.reg(hw.EMBER_REG_CQ_HEAD)
    va_write(q, c_va, f32s([float("nan")] * m * n))
    va_write(q, cmd_va, op_matmul(m, n, k, a_va, w_va, c_va))
    e = submit(q, seqno, cmd_va, 80)
    wait_head(q, head + 1)
    c = struct.unpack("<%df" % (m * n), va_read(q, c_va, 4 * m * n))
    return result(q, e)[0], c, q.reg64(hw.EMBER_REG_PERF_BYTES_COPIED) - copied


def test_views(qemu, bid):
    """Guest RAM in a shared memfd (as run-guest.sh boots): scattered
    operands are mapped in place through views, nothing is copied, and the
    cached views follow MMU_INVALIDATE and AS_ROOT writes."""
    m, n, k = 3, 5, 40
    a = [((i * 7) % 11 - 5) * 0.25 for i in range(m * k)]
    w = [((i * 5) % 13 - 6) * 0.125 for i in range(n * k)]
    w2 = [((i * 3) % 7 - 3) * 0.5 for i in range(n * k)]
    # A, W and C each straddle two scattered pages (C: writable ones)
    a_va, w_va, c_va, cmd_va = VA + 4000, VA + 0x3000 - 100, VA + 33 * 4096 - 20, VA + 0x8000
    alt = DATA + 0x100000                       # other pages for W (pages 2, 3)

    def ref(wv):
        return [sum(a[i * k + j] * wv[r * k + j] for j in range(k))
                for i in range(m) for r in range(n)]

    def close(c, wv):
        return max(abs(x - y) for x, y in zip(c, ref(wv))) < 1e-4

    def setup(q):
        probe(q)
        boot(q, fw_image(bid))
        q.set(hw.EMBER_REG_IRQ_MASK, 0xf)
        map_pages(q, writable_from=32)
        ring_init(q)
        va_write(q, a_va, f32s(a))
        va_write(q, w_va, f32s(w))
        # the same bytes of W2 at the other pages, at W's offsets
        data = f32s(w2)
        off = (w_va - VA) - 2 * 4096
        q.write(alt + 4096 + off, data[:4096 - off])
        q.write(alt, data[4096 - off:])

    q = Qtest(qemu, memfd=True)
    try:
        setup(q)
        st, c, copied = run_matmul(q, 1, m, n, k, a_va, w_va, c_va, cmd_va)
        check("memfd RAM: MATMUL on scattered pages is correct, nothing copied",
              st == 0 and close(c, w) and copied == 0, "status %d copied %d c %s" % (
                  st, copied, c[:3]))
        st, c, copied = run_matmul(q, 2, m, n, k, a_va, w_va, c_va, cmd_va)
        check("memfd RAM: again from the cached views, nothing copied",
              st == 0 and close(c, w) and copied == 0, "status %d copied %d" % (st, copied))
        # W's pages move; without an invalidation the cached view still
        # reads the old ones, as a TLB would
        set_pte(q, 2, alt + 4096)
        set_pte(q, 3, alt)
        st, c, _ = run_matmul(q, 3, m, n, k, a_va, w_va, c_va, cmd_va)
        check("PTEs changed, no MMU_INVALIDATE: the cached view is used",
              st == 0 and close(c, w), "status %d c %s" % (st, c[:3]))
        q.set(hw.EMBER_REG_MMU_INVALIDATE, SLOT)
        st, c, copied = run_matmul(q, 4, m, n, k, a_va, w_va, c_va, cmd_va)
        check("MMU_INVALIDATE of the slot: the new pages are read, nothing copied",
              st == 0 and close(c, w2) and copied == 0, "status %d copied %d" % (st, copied))
        set_pte(q, 2, page_pa(2), 3)
        set_pte(q, 3, page_pa(3), 3)
        q.set64(hw.EMBER_REG_AS_ROOT(SLOT), PT_ROOT)
        st, c, _ = run_matmul(q, 5, m, n, k, a_va, w_va, c_va, cmd_va)
        check("AS_ROOT write drops the slot's views", st == 0 and close(c, w),
              "status %d c %s" % (st, c[:3]))
        set_pte(q, 3, 0)
        q.set(hw.EMBER_REG_MMU_INVALIDATE, hw.EMBER_MMU_INVALIDATE_ALL)
        st, _, _ = run_matmul(q, 6, m, n, k, a_va, w_va, c_va, cmd_va)
        fs = q.reg(hw.EMBER_REG_MMU_FAULT_STATUS)
        check("page unmapped + MMU_INVALIDATE ALL: MMU_FAULT NOT_PRESENT",
              st == hw.EMBER_JOB_MMU_FAULT and
              (fs >> 4) & 0xf == hw.EMBER_MMU_REASON_NOT_PRESENT, "status %d fs %#x" % (st, fs))
        q.set(hw.EMBER_REG_MMU_FAULT_STATUS, 1)
        set_pte(q, 3, page_pa(3), 3)
        q.set(hw.EMBER_REG_MMU_INVALIDATE, SLOT)
        st, c, copied = run_matmul(q, 7, m, n, k, a_va, w_va, c_va, cmd_va)
        check("mapped again: correct, nothing copied", st == 0 and close(c, w) and copied == 0,
              "status %d copied %d" % (st, copied))

        # A grows by a row per job, as a KV cache does per token: past two
        # rows its view is mapped twice as long, so the next job hits it
        def grow(rows, seqno):
            st, c, copied = run_matmul(q, seqno, rows, n, k, a_va, w_va, c_va, cmd_va)
            return st == 0 and copied == 0, c

        # (rows 1..3 are A; a 4th row reads the zeroes after it; C's
        # first 3 rows are compared)
        q.set(hw.EMBER_REG_MMU_INVALIDATE, SLOT)
        ok = all(grow(r, 7 + r)[0] for r in (1, 2, 3))  # 3: 4 rows mapped
        set_pte(q, 1, DATA + 0x200000, 3)       # A's second page: zeroes, no invalidation
        ok4, c = grow(4, 11)
        check("a growing operand's view is mapped ahead: the next, longer op hits it "
              "(old page read, as a TLB would), nothing copied",
              ok and ok4 and close(c, w), "ok %s %s c %s" % (ok, ok4, c[:3]))
        q.set(hw.EMBER_REG_MMU_INVALIDATE, SLOT)
        ok5, c = grow(4, 12)
        check("... and MMU_INVALIDATE drops it: the new (zero) page is read",
              ok5 and not close(c, w), "ok %s c %s" % (ok5, c[:3]))
    finally:
        check("qemu exits cleanly (memfd RAM)", q.close() == 0)

    bounced = 4 * (m + n) * k + 2 * 4 * m * n
    for props, why in (("views=0", "views=0"), ("view-maps=1", "view-maps=1 (too few maps)")):
        q = Qtest(qemu, props, memfd=True)
        try:
            setup(q)
            st, c, copied = run_matmul(q, 1, m, n, k, a_va, w_va, c_va, cmd_va)
            check("memfd RAM, %s: operands bounced, correct, copies counted" % why,
                  st == 0 and close(c, w) and copied == bounced,
                  "status %d copied %d (want %d)" % (st, copied, bounced))
        finally:
            check("qemu exits cleanly (%s)" % props, q.close() == 0)


def test_hang(qemu, bid):
    q = Qtest(qemu, "inject-hang-job=2")
    try:
        probe(q)
        boot(q, fw_image(bid))
        map_pages(q)
        ring_init(q)
        va_write(q, VA, op_nop())
        submit(q, 1, VA, 8)
        wait_head(q, 1)
        e = submit(q, 2, VA, 8)
        submit(q, 3, VA, 8)
        time.sleep(0.5)
        check("inject-hang-job=2: job 2 never completes",
              q.reg(hw.EMBER_REG_CQ_HEAD) == 1 and result(q, e)[4] == 0)
        t = time.time()
        q.set(hw.EMBER_REG_RESET, hw.EMBER_RESET_SOFT)
        check("soft reset ends the hung job promptly", time.time() - t < 2 and
              q.reg(hw.EMBER_REG_CQ_HEAD) == 0 and result(q, e)[4] == 0)
        boot(q, fw_image(bid))
        map_pages(q)
        ring_init(q)
        e = submit(q, 4, VA, 8)
        check("jobs complete after recovery", wait_head(q, 1) and result(q, e)[4] == 4)
    finally:
        check("qemu exits cleanly (inject-hang-job)", q.close() == 0)

    q = Qtest(qemu, "inject-hang-job=1")
    try:
        probe(q)
        boot(q, fw_image(bid))
        map_pages(q)
        ring_init(q)
        va_write(q, VA, op_nop())
        e = submit(q, 1, VA, 8)
        time.sleep(0.2)
        t = time.time()
        q.hmp("system_reset")
        took = time.time() - t
        probe(q)                                # the PCI reset cleared the BARs
        check("system_reset with a hung job: prompt, device back to reset state",
              took < 5 and q.reg(hw.EMBER_REG_FW_STATUS) == 0 and
              q.reg(hw.EMBER_REG_CQ_HEAD) == 0 and result(q, e)[4] == 0,
              "took %.1fs" % took)
        boot(q, fw_image(bid))
        map_pages(q)
        ring_init(q)
        q.set(hw.EMBER_REG_IRQ_MASK, 0xf)
        e = submit(q, 2, VA, 8)
        check("MSI-X and jobs work after system_reset",
              wait_head(q, 1) and result(q, e)[4] == 2 and
              wait_for(lambda: q.readl(MSI_ADDR), 2) == 0xE0)
    finally:
        check("qemu exits cleanly after system_reset", q.close() == 0)

    q = Qtest(qemu, "inject-hang=on")
    try:
        probe(q)
        boot(q, fw_image(bid))
        map_pages(q)
        ring_init(q)
        va_write(q, VA, op_nop())
        submit(q, 1, VA, 8)
        time.sleep(0.3)
        check("inject-hang=on: no job completes", q.reg(hw.EMBER_REG_CQ_HEAD) == 0)
    finally:
        check("qemu exits cleanly with a hung job", q.close() == 0)


def test_reset_storm(qemu, bid, memfd=False):
    """Soft resets and system resets land while jobs run: the device must
    never hang or crash, and must work again afterwards (with @memfd, while
    the jobs use views)."""
    what = " (memfd RAM)" if memfd else ""
    q = Qtest(qemu, "compute-threads=4", memfd=memfd)
    try:
        probe(q)
        alive = True
        for rnd in range(12):
            boot(q, fw_image(bid))
            map_pages(q, writable_from=32)
            ring_init(q)
            m, n, k = 8, 64, 256
            va_write(q, VA + 0x8000, op_matmul(m, n, k, VA, VA + 0x10000, VA + 32 * 4096))
            for i in range(RING_SIZE):
                submit(q, 1000 * rnd + i, VA + 0x8000, 80)
            time.sleep(0.001 * rnd)
            if rnd % 4 == 3:
                q.hmp("system_reset")
                probe(q)
            else:
                q.set(hw.EMBER_REG_RESET, hw.EMBER_RESET_SOFT)
            alive = alive and q.reg(hw.EMBER_REG_ID) == hw.EMBER_ID_MAGIC and \
                q.reg(hw.EMBER_REG_CQ_HEAD) == 0
        boot(q, fw_image(bid))
        map_pages(q, writable_from=32)
        ring_init(q)
        e = submit(q, 7, VA + 0x8000, 80)
        check("12 resets during running jobs: device sane, next job runs" + what,
              alive and wait_head(q, 1) and result(q, e)[:1] == (0,) and result(q, e)[4] == 7,
              str(result(q, e)))
    finally:
        check("qemu exits cleanly after the reset storm" + what, q.close() == 0)


def test_caps_mask(qemu, bid):
    q = Qtest(qemu, "caps-ops-mask=0x1,caps-dtypes-mask=0x1,compute-threads=3")
    try:
        probe(q)
        check("caps masks show in CAPS_OPS/CAPS_DTYPES",
              q.reg(hw.EMBER_REG_CAPS_OPS) == 1 and q.reg(hw.EMBER_REG_CAPS_DTYPES) == 1)
        check("compute-threads=3 shows in COMPUTE_UNITS", q.reg(hw.EMBER_REG_COMPUTE_UNITS) == 3)
        boot(q, fw_image(bid))
        map_pages(q)
        ring_init(q)
        va_write(q, VA + 0x100, op_matmul(1, 1, 32, VA, VA, VA + 0x2000))
        e = submit(q, 1, VA + 0x100, 80)
        wait_head(q, 1)
        check("masked-off op: UNSUPPORTED", result(q, e)[0] == hw.EMBER_JOB_UNSUPPORTED,
              str(result(q, e)))
    finally:
        q.close()


def main():
    qemu = sys.argv[1] if len(sys.argv) > 1 else subprocess.run(
        [os.path.join(ROOT, "scripts/build-qemu.sh")], check=True,
        capture_output=True, text=True).stdout.strip().splitlines()[-1]
    bid = build_id(qemu)
    q = Qtest(qemu)
    try:
        probe(q)
        test_identity(q)
        test_boot_errors(q, bid)
        test_boot_ok(q, bid)
        test_jobs(q)
        test_soft_reset(q, bid)
    finally:
        check("qemu exits cleanly", q.close() == 0)
    test_views(qemu, bid)
    test_hang(qemu, bid)
    test_caps_mask(qemu, bid)
    test_reset_storm(qemu, bid)
    test_reset_storm(qemu, bid, memfd=True)
    failed = results.count(False)
    print("1..%d" % len(results))
    print("%d passed, %d failed" % (len(results) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
