/**
 * Recording at the MMU boundary: a replay of a recorded trace must give
 * the guest's translations exactly (same gpa, same faults: every access is
 * checked) in every mode, and in the recorded mode the same counters as a
 * run without the recorder.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Mmu } from '../../src/mmu/mmu.js';
import { MODE_NAMES, type ModeName } from '../../src/mmu/modes/mode.js';
import {
  ACC_FETCH, ACC_RMW_R, ACC_RMW_W, ACC_WRITE, CR0_PE, CR0_PG, CR0_WP, CR4_PAE, CR4_PCIDE, CR4_PGE, CR4_SMAP, EFER_LMA, EFER_LME, EFER_NXE, PTE_G, PTE_P, PTE_RW, PTE_US,
} from '../../src/mmu/paging/bits.js';
import { KERNEL_APART, SyntheticOs, type OsFormat } from '../../src/workload/synthetic-os.js';
import { TraceRecorder } from '../../src/trace/recorder.js';
import { replayBinary } from '../../src/trace/replayer.js';
import { TraceReader } from '../../src/trace/reader.js';
import { KIND_READ, KIND_WRITE, OP_ACCESS, OP_KIND_SHIFT, OP_RMW, R_PAGING } from '../../src/trace/format.js';

const tmp = mkdtempSync(join(tmpdir(), 'vmmu-record-'));
let seq = 0;

/** A guest workload on the synthetic OS: 3 processes, switches, unmaps, reads, writes, fetches. */
function osWorkload(mmu: Mmu, format: OsFormat, n: number, reclaim = false): SyntheticOs {
  const os = new SyntheticOs(mmu, { format, reclaim });
  for (let p = 0; p < 3; p++) os.createProcess();
  let s = 12345;
  const rand = (): number => { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return (s >>> 0) / 4294967296; };
  os.switchTo(0);
  let pid = 0;
  for (let i = 0; i < n; i++) {
    if (i % 3000 === 2999) {
      pid = (pid + 1) % 3;
      os.switchTo(pid);
      if (i % 9000 === 8999) os.unmap(0x10000000 + Math.floor(rand() * 200) * 4096, 0, 16);
    }
    const acc = (i & 3) === 3 ? ACC_FETCH : rand() < 0.3 ? ACC_WRITE : 0;
    const gva = acc & ACC_FETCH ? 0x400000 + ((i * 16) % 40960) : 0x10000000 + Math.floor(rand() * 300) * 4096 + (Math.floor(rand() * 1024) << 2);
    os.access(gva, 0, acc | (4 << 12));
  }
  return os;
}

/** Runs `work` on a fresh Mmu in `mode`, with a recorder when `path` is given. */
function run(mode: ModeName, work: (m: Mmu) => void, path?: string, memory = 16 << 20, notes: Record<string, unknown> = {}): { mmu: Mmu; recorder?: TraceRecorder } {
  const mmu = new Mmu({ mode, guestMemory: memory, measure: true });
  const recorder = path !== undefined ? new TraceRecorder(mmu, path, { checkEvery: 1, notes }) : undefined;
  recorder?.start();
  work(mmu);
  recorder?.close();
  return { mmu, ...(recorder ? { recorder } : {}) };
}

/**
 * Records `work` in `mode`, then replays it in every mode; the recorded
 * mode's counters must equal an unrecorded run's. A synthetic-OS workload
 * is recorded with the KERNEL_APART note, as `vmmu record` does.
 */
async function roundTrip(mode: ModeName, work: (m: Mmu) => void, memory = 16 << 20, notes: Record<string, unknown> = {}): Promise<void> {
  const path = join(tmp, `t${seq++}.vmt`);
  const live = run(mode, work, undefined, memory).mmu.report().counters;
  run(mode, work, path, memory, notes);
  for (const m of MODE_NAMES) {
    const r = await replayBinary(path, { mode: m }); // every access is checked: a wrong gpa or fault throws
    expect(r.counts.checks).toBe(r.counts.accesses + r.counts.kernelAccesses);
    expect(r.counts.kernelAccesses > 0).toBe(notes[KERNEL_APART] === true);
    if (m === mode) expect(r.report.counters).toEqual(live);
  }
}

const OS_NOTES = { [KERNEL_APART]: true };

describe('recording the synthetic OS', () => {
  for (const format of ['32-bit', 'pae', '4-level', '5-level'] as const) {
    it(`does a ${format} guest replay exactly in every mode, and like the unrecorded run in its own?`, async () => {
      await roundTrip(format === '4-level' ? 'slat' : format === 'pae' ? 'naive' : 'shadow', (m) => { osWorkload(m, format, 20_000); }, 16 << 20, OS_NOTES);
    });
  }

  it('does a guest that reclaims pages under memory pressure replay exactly?', async () => {
    let evictions = 0;
    await roundTrip('shadow', (m) => { evictions = osWorkload(m, '4-level', 20_000, true).stats.evictions; }, 3 << 20, OS_NOTES);
    expect(evictions).toBeGreaterThan(100);
  });

  it('does the OS enabling paging with setPaging become one PAGING record?', async () => {
    const path = join(tmp, 'paging.vmt');
    run('shadow', (m) => { osWorkload(m, 'pae', 100); }, path);
    const reader = await TraceReader.open(path);
    let paging = 0;
    for await (const ch of reader.chunks()) for (const op of ch.ops) if (op === R_PAGING) paging++;
    await reader.close();
    expect(paging).toBe(1);
  });

  it('does a recording started in the middle of a run replay exactly from the header registers?', async () => {
    const path = join(tmp, 'mid.vmt');
    const mmu = new Mmu({ mode: 'slat', guestMemory: 16 << 20, measure: true });
    const os = osWorkload(mmu, '4-level', 5000);
    const rec = new TraceRecorder(mmu, path, { checkEvery: 1 });
    rec.start();
    for (let i = 0; i < 5000; i++) os.access(0x10000000 + (i % 400) * 4096, 0, i % 7 === 0 ? ACC_WRITE : 0);
    os.switchTo(2);
    for (let i = 0; i < 2000; i++) os.access(0x20000000 + (i % 50) * 4096, 0, 0);
    const st = rec.close();
    expect(st.pageImages).toBeGreaterThan(4);
    for (const m of MODE_NAMES) {
      const r = await replayBinary(path, { mode: m });
      expect(r.counts.accesses).toBe(st.accesses);
      expect(r.counts.checks).toBe(st.accesses);
    }
  });
});

/**
 * A hand-driven guest: 4-level paging with PCIDs and global pages, page
 * tables changed by CPU stores through their own mapping and by DMA, of
 * 4 and 8 bytes (PTWRITE8), INVLPG, INVPCID, flushes, CR0.WP and
 * CR4.PGE/SMAP changes, faults, a page-crossing access and instruction
 * fetches.
 */
function handDriven(m: Mmu): void {
  const link = PTE_P | PTE_RW | PTE_US;
  m.writePhys(0x1000, 4, 0x2000 | link); // PML4[0]
  m.writePhys(0x2000, 4, 0x3000 | link); // PDPT[0]
  m.writePhys(0x3000 + 2 * 8, 4, 0x4000 | link); // PD[2]: gva 0x400000
  for (let i = 0; i < 8; i++) m.writePhys(0x4000 + i * 8, 4, (0x10000 + i * 0x1000) | link | (i === 7 ? PTE_G : 0));
  m.writePhys(0x4000 + 6 * 8, 4, 0x16000 | PTE_P | PTE_US); // page 6 read-only
  m.writePhys(0x4000 + 8 * 8, 4, 0x4000 | PTE_P | PTE_RW); // the page table itself at 0x408000, supervisor
  m.setPaging({ cr0: CR0_PE | CR0_PG | CR0_WP, cr4: CR4_PAE | CR4_PGE | CR4_PCIDE, efer: EFER_LME | EFER_LMA | EFER_NXE, cr3Lo: 0x1000 });
  m.setPrivilege(3, false);
  for (let r = 0; r < 3; r++) for (let i = 0; i < 8; i++) { m.read32(0x400000 + i * 0x1000 + r * 4, 0); m.write8(0x400100 + i * 0x1000, 0, r); }
  m.clearFault(); // the writes to read-only page 6 faulted
  m.fetch8(0x400000, 0);
  m.read32(0x400ffe, 0); // crosses into page 1
  m.read32(0x407ffe, 0); // crosses into the supervisor page: #PF
  m.clearFault();
  m.write32(0x406000, 0, 1); // read-only page: #PF
  m.clearFault();
  m.setPrivilege(0, false);
  m.write32(0x408000 + 3 * 8, 0, 0x20000 | link); // the guest remaps page 3 with a CPU store
  m.invlpg(0x403000, 0);
  m.read32(0x403010, 0);
  m.write64(0x408000 + 4 * 8, 0, 0x21000 | link, 0); // page 4 with a 64-bit store: one write of 8 bytes (PTWRITE8)
  m.invlpg(0x404000, 0);
  m.read32(0x404010, 0);
  m.writePhys64(0x4000 + 2 * 8, 0x22000 | link, 0); // and page 2 by a device's 8-byte write
  m.invlpg(0x402000, 0);
  m.read32(0x402010, 0);
  m.writePhys(0x4000 + 5 * 8, 4, 0); // a device unmaps page 5
  m.flushTlb(false);
  m.setPrivilege(3, false);
  m.read32(0x405000, 0); // #PF: not present
  m.clearFault();
  // A new page table built while unlinked, then linked by DMA.
  const pt = new Uint8Array(4096);
  const dv = new DataView(pt.buffer);
  for (let i = 0; i < 4; i++) dv.setUint32(i * 8, (0x30000 + i * 0x1000) | link, true);
  m.writePhysBytes(0x5000, pt);
  m.writePhys64(0x3000 + 3 * 8, 0x5000 | link, 0); // PD[3]: gva 0x600000, one 8-byte write to a directory shadow keeps in sync
  m.writeCr3(0x1000, 0);
  for (let i = 0; i < 4; i++) m.write32(0x600000 + i * 0x1000, 0, i);
  // A second address space with PCID 1 sharing PML4[0]; a no-flush switch back; INVPCID.
  m.writePhys(0x6000, 4, 0x2000 | link);
  m.writeCr3(0x6000 | 1, 0);
  m.read32(0x400000, 0);
  m.writeCr3(0x1000, 0x80000000 | 0);
  m.invpcid(1, 1, 0, 0);
  m.invpcid(0, 0, 0x400000, 0);
  m.read32(0x400000, 0);
  // CR0.WP off: a supervisor write to the read-only page is allowed; then back on.
  m.setPrivilege(0, false);
  m.writeCr0(CR0_PE | CR0_PG);
  m.write32(0x406000, 0, 7);
  m.writeCr0(CR0_PE | CR0_PG | CR0_WP);
  m.write32(0x406004, 0, 7); // #PF now
  m.clearFault();
  // Global pages survive a CR3 load; a PGE toggle drops them.
  m.read32(0x407000, 0);
  m.writeCr4(CR4_PAE | CR4_PCIDE);
  m.writeCr4(CR4_PAE | CR4_PGE | CR4_PCIDE | CR4_SMAP);
  m.read32(0x400000, 0); // SMAP: supervisor read of a user page faults
  m.clearFault();
  m.setPrivilege(0, true); // EFLAGS.AC=1 allows it
  m.read32(0x400000, 0);
  m.readAcc(0x401000, 0, 4, 0); // an implicit supervisor access: SMAP applies
  m.clearFault();
  m.invpcid(2, 0, 0, 0);
  m.fetch32(0x402000, 0); // supervisor fetch from a user page (SMEP off): allowed
}

describe('recording a hand-driven guest', () => {
  for (const mode of MODE_NAMES) {
    it(`does a guest recorded in ${mode} mode (CPU and DMA table writes, PCIDs, INVLPG, INVPCID, WP, SMAP) replay exactly everywhere?`, async () => {
      await roundTrip(mode, handDriven);
    });
  }

  it('does the hand-driven guest fault where the SDM says (3 writes to a read-only page, a crossing, a read-only write, not present, WP, SMAP twice)?', () => {
    expect(run('slat', handDriven).mmu.report().counters['guest.pf']).toBe(9);
  });

  it('does the recorder leave the guest exactly as an unrecorded run, and drop its watches at the end?', () => {
    const a = run('shadow', handDriven).mmu;
    const { mmu: b } = run('shadow', handDriven, join(tmp, 'same.vmt'));
    expect(b.readPhysBytes(0, 0x40000)).toEqual(a.readPhysBytes(0, 0x40000));
    expect(b.observer).toBe(null);
    expect(Array.from(b.watch).some((w) => (w & 4) !== 0)).toBe(false);
  });
});

/**
 * Read-modify-writes of guest page tables (a LOCK OR of an accessed bit, an
 * XCHG of a PTE): 32-bit paging, the page directory at 0x1000 and the page
 * table at 0x2000 identity-mapped by the page table itself. Each RMW is a
 * read checked as a write (ACC_RMW_R) and then the write (ACC_RMW_W).
 */
const RMW_COUNT = 40;
/** What one read-modify-write cost: exits, write-protection exits, and whether it was of the page directory. */
type RmwProbe = (exits: number, ptWrites: number, directory: boolean) => void;
function rmwGuest(m: Mmu, probe?: RmwProbe): void {
  m.writePhys(0x1000, 4, 0x2000 | PTE_P | PTE_RW);
  for (let i = 0; i < 1024; i++) m.writePhys(0x2000 + i * 4, 4, (i << 12) | PTE_P | PTE_RW);
  m.setPaging({ cr0: CR0_PE | CR0_PG | CR0_WP, cr3Lo: 0x1000 });
  const rmw = (lin: number, f: (v: number) => number): void => {
    const c0 = probe ? m.countersByName() : null;
    const v = m.readAcc(lin, 0, 4, ACC_WRITE | ACC_RMW_R);
    m.writeAcc(lin, 0, 4, f(v), ACC_RMW_W);
    if (probe && c0) {
      const c1 = m.countersByName();
      probe(c1['exit.total']! - c0['exit.total']!, c1['exit.pt_write']! - c0['exit.pt_write']!, lin < 0x2000);
    }
  };
  for (let i = 0; i < RMW_COUNT; i++) {
    // the page directory (a root: shadow mode never lets it out of sync) through the identity map: entries 8..15 map nothing
    rmw(0x1000 + (8 + (i % 8)) * 4, (v) => v ^ 0x20);
    // the PTE of page 0x300 + i (a page table, which shadow mode may unsync), then a read through it
    rmw(0x2000 + (0x300 + (i % 16)) * 4, (v) => (v & 0xfff) | ((0x340 + i) << 12));
    m.invlpg((0x300 + (i % 16)) << 12, 0);
    m.read32((0x300 + (i % 16)) << 12, 0);
    m.write32(0x100000 + i * 4, 0, i);
    // a counter bumped three times in a row (a LOCK INC loop): runs of accesses to one page, RMW halves among them
    for (let k = 0; k < 3; k++) rmw(0x180000 + (i % 4) * 4, (v) => v + 1);
  }
}

describe('recording read-modify-writes', () => {
  it('does each RMW half become one record marked R, and replay with the live counters in every mode?', async () => {
    const path = join(tmp, `rmw${seq++}.vmt`);
    run('shadow', (m) => { rmwGuest(m); }, path);
    const reader = await TraceReader.open(path);
    let reads = 0, writes = 0;
    for await (const ch of reader.chunks()) {
      for (const op of ch.ops) {
        if (!(op & OP_ACCESS) || !(op & OP_RMW)) continue;
        if (((op >> OP_KIND_SHIFT) & 3) === KIND_READ) reads++;
        else if (((op >> OP_KIND_SHIFT) & 3) === KIND_WRITE) writes++;
      }
    }
    await reader.close();
    expect([reads, writes]).toEqual([5 * RMW_COUNT, 5 * RMW_COUNT]);
    for (const mode of MODE_NAMES) await roundTrip(mode, (m) => { rmwGuest(m); });
  });

  it('under shadow, does each RMW take at most one exit, one write-protection exit for the page directory, and count as one read and one write?', () => {
    const seen: [number, number, boolean][] = [];
    const rmw = run('shadow', (m) => { rmwGuest(m, (e, p, d) => { seen.push([e, p, d]); }); }).mmu.report().counters;
    expect(seen.length).toBe(5 * RMW_COUNT);
    expect(seen.filter(([e]) => e > 1)).toEqual([]);
    // the first RMW of the directory builds its shadow (one hidden page fault); every later one is emulated
    const dir = seen.filter(([, , d]) => d);
    expect(dir.slice(1).filter(([, p]) => p !== 1)).toEqual([]);
    // the same guest with each RMW's halves as a plain read and a plain write: the same accesses
    const plain = run('shadow', (m) => {
      const read = m.readAcc.bind(m), write = m.writeAcc.bind(m);
      m.readAcc = (lo, hi, size, acc) => read(lo, hi, size, acc & ~(ACC_WRITE | ACC_RMW_R));
      m.writeAcc = (lo, hi, size, v, acc) => write(lo, hi, size, v, acc & ~ACC_RMW_W);
      rmwGuest(m);
    }).mmu.report().counters;
    expect(rmw['access.read']).toBe(plain['access.read']);
    expect(rmw['access.write']).toBe(plain['access.write']);
    // with the write not marked, a read checked as a write and then a plain write: a second exit for each emulated RMW
    const unmarked = run('shadow', (m) => {
      const write = m.writeAcc.bind(m);
      m.writeAcc = (lo, hi, size, v, acc) => write(lo, hi, size, v, acc & ~ACC_RMW_W);
      rmwGuest(m);
    }).mmu.report().counters;
    expect(unmarked['exit.pt_write']).toBeGreaterThanOrEqual(rmw['exit.pt_write']! + dir.length - 1);
  });
});
