/**
 * The synthetic guest OS under imported traces: large pages where the
 * aligned region allows them, fallbacks where it does not, and 64-bit
 * traces folded into a 32-bit guest.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OS_DEFAULTS, replayImported } from '../../src/trace/replayer.js';
import { ACC_WRITE, Mmu } from '../../src/mmu/index.js';
import { SyntheticOs, type OsFormat } from '../../src/workload/synthetic-os.js';

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
    // With 4 KiB pages the user walks take four (the kernel's own stores, through its 2 MiB direct map, take three).
    expect(small.report.counters['walk.refs.guest'] / small.report.counters['walk.count']).toBeGreaterThan(3.5);
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
