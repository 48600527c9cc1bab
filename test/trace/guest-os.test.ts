/**
 * The synthetic guest OS under imported traces: large pages where the
 * aligned region allows them, fallbacks where it does not, and 64-bit
 * traces folded into a 32-bit guest.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OS_DEFAULTS, recordImported, replayBinary, replayImported } from '../../src/trace/replayer.js';
import { ACC_WRITE, Mmu } from '../../src/mmu/index.js';
import { KERNEL_APART, SyntheticOs, type OsFormat } from '../../src/workload/synthetic-os.js';
import { TraceRecorder } from '../../src/trace/recorder.js';
import { MODE_NAMES } from '../../src/mmu/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'vmmu-guestos-'));

/** A lackey trace reading 8 pages in each of `regions` 2 MiB regions, 4 rounds. */
function regions(n: number, base = 0x40000000): string {
  const p = join(tmp, `regions-${n}-${base}.lackey`);
  let t = '';
  for (let r = 0; r < 4; r++) for (let g = 0; g < n; g++) for (let k = 0; k < 8; k++) t += ` L ${(base + g * 0x200000 + k * 0x1000).toString(16)},8\n`;
  writeFileSync(p, t);
  return p;
}

const imp = { format: 'lackey' as const };

describe('large pages on the synthetic OS', () => {
  it('does --page-size 2m map each touched 2 MiB region with one page, shortening the guest walk?', async () => {
    const small = await replayImported(regions(4), imp, { ...OS_DEFAULTS, memory: 64 << 20 }, { mode: 'slat', slat: { pwc: false, nestedTlb: false } });
    const large = await replayImported(regions(4), imp, { ...OS_DEFAULTS, memory: 64 << 20, pageSize: '2m' }, { mode: 'slat', slat: { pwc: false, nestedTlb: false } });
    expect(small.os!.pagesMapped).toBe(32);
    expect(large.os!.pagesMapped).toBe(4);
    expect(large.os!.largePages).toBe(4);
    expect(large.os!.fallbacks).toBe(0);
    // A 2 MiB leaf is at level 2: three guest references per walk instead of four.
    const c = large.report.counters;
    expect(c['walk.refs.guest'] / c['walk.count']).toBe(3);
    // With 4 KiB pages every walk takes four: the kernel's own stores (through its 2 MiB direct map) are not modeled.
    expect(small.report.counters['walk.refs.guest'] / small.report.counters['walk.count']).toBe(4);
  });

  it('does a region with no aligned free 2 MiB of guest memory fall back to 4 KiB pages?', async () => {
    // 8 MiB of guest memory has three free aligned 2 MiB runs (the first holds the kernel's tables).
    const r = await replayImported(regions(6), imp, { ...OS_DEFAULTS, memory: 8 << 20, pageSize: '2m' }, { mode: 'shadow' });
    expect(r.os!.largePages).toBe(3);
    expect(r.os!.fallbacks).toBe(3 * 8);
    expect(r.os!.pagesMapped).toBe(3 + 3 * 8);
    expect(r.os!.segfaults).toBe(0);
  });

  it('does a 1g request fall back to 2 MiB pages when no aligned free GiB exists?', async () => {
    const r = await replayImported(regions(2), imp, { ...OS_DEFAULTS, memory: 64 << 20, pageSize: '1g' }, { mode: 'shadow' });
    expect(r.os!.largePages).toBe(2);
    expect(r.os!.fallbacks).toBe(2);
  });

  it('does a 32-bit guest use 4 MiB pages for 2m and fold 64-bit addresses below its kernel?', async () => {
    const r = await replayImported(regions(2, 0x7ff000000), imp, { ...OS_DEFAULTS, memory: 64 << 20, format: '32-bit', pageSize: '2m' }, { mode: 'shadow' });
    expect(r.folded).toEqual({ moved: 1, collisions: 0 });
    expect(r.os!.segfaults).toBe(0);
    expect(r.os!.largePages).toBe(1); // both 2 MiB regions lie in one 4 MiB page
  });

  it('does a 4-level guest keep 64-bit trace addresses as they are, without folding?', async () => {
    const r = await replayImported(regions(2, 0x7ff000000), imp, { ...OS_DEFAULTS, memory: 64 << 20 }, { mode: 'shadow' });
    expect(r.folded).toBeUndefined();
    expect(r.os!.segfaults).toBe(0);
    expect(r.os!.pagesMapped).toBe(16);
  });
});

/** [gva low, gva high] as int32 halves, the way the importers hand them over. */
type Gva = [number, number];
const gva = (hi: number, lo: number): Gva => [lo | 0, hi | 0];

describe('the user and kernel halves of the address space', () => {
  const HALVES: { format: OsFormat; user: Gva[]; notUser: Gva[] }[] = [
    {
      format: '32-bit',
      user: [gva(0, 0x1000), gva(0, 0xbffff000)],
      notUser: [gva(0, 0xc0000000), gva(0, 0xc0001000), gva(0, 0xfffff000), gva(1, 0x1000), gva(0xffffffff, 0xffff0000)],
    },
    {
      format: 'pae',
      user: [gva(0, 0x1000), gva(0, 0xbffff000)],
      notUser: [gva(0, 0xc0000000), gva(0, 0xc0001000), gva(0, 0xfffff000), gva(1, 0x1000), gva(0xffffffff, 0xffff0000)],
    },
    {
      format: '4-level',
      user: [gva(0, 0x1000), gva(0x7fff, 0xfffff000)],
      // the upper half from its first page, the direct map, its top page; and a non-canonical address
      notUser: [gva(0xffff8000, 0), gva(0xffff8880, 0x1000), gva(0xffffffff, 0xffff0000), gva(0x8000, 0)],
    },
    {
      format: '5-level',
      user: [gva(0, 0x1000), gva(0x00ffffff, 0xfffff000)],
      notUser: [gva(0xff000000, 0), gva(0xff110000, 0x1000), gva(0xffffffff, 0xffff0000), gva(0x01000000, 0)],
    },
  ];

  it.each(HALVES)('in $format paging, is a user-half address paged in and a kernel-half one a segfault, mapping nothing?', ({ format, user, notUser }) => {
    const mmu = new Mmu({ mode: 'shadow', guestMemory: 16 << 20 });
    const os = new SyntheticOs(mmu, { format });
    os.createProcess();
    os.switchTo(0);
    for (const [lo, hi] of user) expect(os.access(lo, hi, ACC_WRITE), `${format} 0x${(hi >>> 0).toString(16)}:${(lo >>> 0).toString(16)}`).toBeGreaterThanOrEqual(0);
    expect(os.stats).toMatchObject({ pagesMapped: user.length, segfaults: 0 });
    for (const [lo, hi] of notUser) expect(os.access(lo, hi, 0), `${format} 0x${(hi >>> 0).toString(16)}:${(lo >>> 0).toString(16)}`).toBe(-1);
    expect(os.stats).toMatchObject({ pagesMapped: user.length, segfaults: notUser.length });
  });

  it.each(['4-level', '5-level'] as const)('in %s paging, is the lackey line " L ffffffffffff0000,4" a segfault, as docs/trace-format.md says?', async (format) => {
    const p = join(tmp, `kernel-half-${format}.lackey`);
    writeFileSync(p, ' L 0000000000401000,4\n L ffffffffffff0000,4\n L ffff800000000000,8\n');
    const r = await replayImported(p, imp, { ...OS_DEFAULTS, format }, { mode: 'shadow' });
    expect(r.os!.pagesMapped).toBe(1);
    expect(r.os!.segfaults).toBe(2);
  });
});

describe("the kernel's own stores, apart from the trace's accesses", () => {
  const accessCounters = (c: Record<string, number>): number => c['access.read']! + c['access.write']! + c['access.fetch']!;
  /** 3000 reads and writes over 600 pages of 3 regions: every page is a page fault, a frame and entries stored by the kernel. */
  function spread(): string {
    const p = join(tmp, 'spread.lackey');
    let t = '';
    for (let i = 0; i < 3000; i++) t += ` ${i % 3 === 0 ? 'S' : 'L'} ${(0x10000000 * (1 + (i % 3)) + ((i * 7) % 600) * 0x1000 + (i % 64) * 8).toString(16)},8\n`;
    writeFileSync(p, t);
    return p;
  }

  it.each(MODE_NAMES)('in %s mode, do the access counters of a text replay equal the trace records, the kernel stores counted apart?', async (mode) => {
    const r = await replayImported(spread(), imp, { ...OS_DEFAULTS, memory: 32 << 20 }, { mode });
    expect(r.import!.accesses).toBe(3000);
    expect(r.counts.accesses).toBe(3000);
    expect(accessCounters(r.report.counters)).toBe(3000);
    expect(r.report.counters['access.write']).toBe(1000);
    // 600 pages, each a leaf entry of 8 bytes (two 4-byte stores), plus the tables above them
    expect(r.os!.pagesMapped).toBe(600);
    expect(r.counts.kernelAccesses).toBe(r.os!.kernelStores);
    expect(r.os!.kernelStores).toBeGreaterThanOrEqual(2 * 600);
    // L1 dTLB lookups: one per trace access in shadow and slat (naive's L1 counts the emulator's host accesses)
    if (mode !== 'naive') expect(r.report.counters['tlb.l1d.hit'] + r.report.counters['tlb.l1d.miss']).toBe(3000);
    // what the stores cost the hypervisor is still counted: shadow mode traps them
    if (mode === 'shadow') expect(r.report.counters['exit.pt_write']).toBeGreaterThan(0);
  });

  it('does the binary trace of record --import replay with the same counters, its kernel stores kept apart by the KERNEL_APART note?', async () => {
    const out = join(tmp, 'spread.vmt');
    const rec = await recordImported(spread(), out, imp, { ...OS_DEFAULTS, memory: 32 << 20 });
    for (const mode of MODE_NAMES) {
      const text = await replayImported(spread(), imp, { ...OS_DEFAULTS, memory: 32 << 20 }, { mode });
      const bin = await replayBinary(out, { mode });
      expect(bin.report.counters).toEqual(text.report.counters);
      expect(bin.counts.kernelAccesses).toBe(rec.os.kernelStores);
      // the access records: the trace's 3000, and a faulting first try for each of the 600 pages
      expect(bin.counts.accesses).toBe(3000 + 600);
      expect(bin.counts.faults).toBe(600);
      expect(accessCounters(bin.report.counters)).toBe(bin.counts.accesses - bin.counts.faults);
    }
  });

  it('does a recording without the note count the kernel stores as accesses, as a recorded guest kernel is?', async () => {
    const out = join(tmp, 'no-note.vmt');
    const mmu = new Mmu({ mode: 'shadow', guestMemory: 16 << 20 });
    const rec = new TraceRecorder(mmu, out);
    rec.start();
    const os = new SyntheticOs(mmu, {});
    os.createProcess();
    os.switchTo(0);
    for (let i = 0; i < 100; i++) os.access(0x10000000 + i * 0x1000, 0, 0);
    rec.close();
    expect(os.stats.kernelStores).toBeGreaterThanOrEqual(200);
    const r = await replayBinary(out, { mode: 'slat' });
    expect(r.counts.kernelAccesses).toBe(0);
    expect(accessCounters(r.report.counters)).toBe(100 + os.stats.kernelStores);
  });
});
