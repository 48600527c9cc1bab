/**
 * Replays: exact counters on hand-built stride traces (worked out by hand
 * for a tiny TLB), determinism, parallel equal to serial, and divergence
 * reported with the record where it shows.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TlbGeometry } from '../../src/mmu/defaults.js';
import { writeStrideTrace } from '../../src/trace/handmade.js';
import { fileSink, TraceWriter } from '../../src/trace/writer.js';
import { DivergenceError, replayBinary, replayImported, OS_DEFAULTS, type ReplayResult } from '../../src/trace/replayer.js';
import { runJobs, type ReplayJob } from '../../src/trace/parallel.js';
import { accessOp, FORMAT_VERSION, R_CHECK } from '../../src/trace/format.js';
import { ACC_USER } from '../../src/mmu/paging/bits.js';

const tmp = mkdtempSync(join(tmpdir(), 'vmmu-replay-'));
const a = (entries: number, ways: number): { entries: number; ways: number } => ({ entries, ways });
/** One 4-entry L1 set and one 8-entry L2 set, both true LRU; no walk caches. */
const TINY: TlbGeometry = {
  name: 'tiny', l1d: { k4: a(4, 4), m2: a(4, 4), g1: a(4, 4) }, l1i: { k4: a(4, 4), m2: a(4, 4) }, l2: { k4m2: a(8, 8), g1: a(4, 4) },
  pwc: { pml5e: a(0, 1), pml4e: a(0, 1), pdpte: a(0, 1), pde: a(0, 1) }, nestedTlb: a(0, 1),
};

function stride(pages: number, rounds: number): string {
  const path = join(tmp, `stride-${pages}x${rounds}.vmt`);
  writeStrideTrace(fileSink(path), { pages, stride: 1, accesses: pages * rounds });
  return path;
}

async function counters(path: string, mode: 'naive' | 'shadow' | 'slat'): Promise<Record<string, number>> {
  const r = await replayBinary(path, { mode, tlb: TINY, slat: { pwc: false, nestedTlb: false }, readerThread: false });
  return r.report.counters;
}

describe('a stride over P pages, 10 rounds, with a 4-entry L1 and an 8-entry L2', () => {
  it('does P=4 miss each TLB level once per page and then always hit L1?', async () => {
    const s = await counters(stride(4, 10), 'shadow');
    expect([s['access.read'], s['tlb.l1d.hit'], s['tlb.l1d.miss'], s['tlb.l2.hit'], s['tlb.l2.miss'], s['walk.count']]).toEqual([40, 36, 4, 0, 4, 4]);
    // Shadow: a 4-level shadow walk reads 4 entries; each page's first touch is a hidden page fault; paging on is one CR exit.
    expect([s['walk.refs'], s['walk.refs.shadow'], s['exit.hidden_pf'], s['exit.cr'], s['exit.total']]).toEqual([16, 16, 4, 1, 5]);
  });

  it('does P=6 thrash the L1 (LRU, 6 > 4) but hit the L2 after the first round?', async () => {
    const s = await counters(stride(6, 10), 'shadow');
    expect([s['tlb.l1d.hit'], s['tlb.l1d.miss'], s['tlb.l2.hit'], s['tlb.l2.miss'], s['walk.count']]).toEqual([0, 60, 54, 6, 6]);
  });

  it('does P=12 miss both levels on every access, and a 2D walk then cost 24 references?', async () => {
    const path = stride(12, 10);
    const s = await counters(path, 'shadow');
    expect([s['tlb.l1d.miss'], s['tlb.l2.miss'], s['walk.count'], s['walk.refs']]).toEqual([120, 120, 120, 480]);
    const t = await counters(path, 'slat');
    // 4 guest entries, each translated by a 4-level EPT walk, plus the final gpa: 4 + 5 * 4 = 24.
    expect([t['walk.count'], t['walk.refs'], t['walk.refs.guest'], t['walk.refs.nested']]).toEqual([120, 2880, 480, 2400]);
    // EPT violations: the 12 data frames and the 4 table frames, once each.
    expect(t['exit.ept_violation']).toBe(16);
    expect(t['exit.total']).toBe(16);
  });

  it('does naive mode walk the guest table in software once per virtual-TLB miss?', async () => {
    const s4 = await counters(stride(4, 10), 'naive');
    expect([s4['sw.vtlb.miss'], s4['sw.vtlb.hit'], s4['sw.walk.refs'], s4['sw.translate'], s4['exit.total']]).toEqual([4, 36, 16, 40, 0]);
    const s12 = await counters(stride(12, 10), 'naive');
    expect([s12['sw.vtlb.miss'], s12['sw.walk.refs']]).toEqual([120, 480]);
  });
});

describe('reading', () => {
  it('does a replay reading through a reader thread give exactly the inline result?', async () => {
    const path = join(tmp, 'many-chunks.vmt');
    writeStrideTrace(fileSink(path), { pages: 40, stride: 3, accesses: 50_000, writes: true }, { chunkRecords: 1000 });
    const inline = await replayBinary(path, { mode: 'slat', tlb: TINY });
    const threaded = await replayBinary(path, { mode: 'slat', tlb: TINY, readerThread: true });
    expect(threaded.report.counters).toEqual(inline.report.counters);
    expect(threaded.counts).toEqual(inline.counts);
    expect(inline.counts.accesses).toBe(50_000);
  });
});

describe('replays', () => {
  const lackey = join(tmp, 'mix.lackey');
  let text = '';
  for (let i = 0; i < 30_000; i++) {
    text += `I  ${(0x401000 + ((i * 5) % 20000)).toString(16)},1\n`;
    if (i % 3 === 0) text += ` L ${(0x7ff000000 + ((i * 4096 * 7) % (600 * 4096)) + (i % 512) * 8).toString(16)},8\n`;
    if (i % 5 === 0) text += ` M ${(0x601000 + (i % 300) * 64).toString(16)},4\n`;
  }
  writeFileSync(lackey, text);
  const os = { ...OS_DEFAULTS, memory: 32 << 20 };
  const imp = { format: 'lackey' as const };
  const strip = (r: ReplayResult): unknown => ({ ...r, seconds: 0 });

  it('does replaying the same trace twice give identical reports?', async () => {
    const x = await replayImported(lackey, imp, os, { mode: 'slat' });
    const y = await replayImported(lackey, imp, os, { mode: 'slat' });
    expect(strip(y)).toEqual(strip(x));
    expect(x.report.counters['access.fetch']).toBe(30_000);
  });

  it('do replays in worker threads give exactly the serial results?', async () => {
    const source = { kind: 'text' as const, path: lackey, import: imp, os };
    const jobs: ReplayJob[] = (['naive', 'shadow', 'slat'] as const).flatMap((mode) => [
      { label: `${mode} skylake`, options: { mode } },
      { label: `${mode} tiny`, options: { mode, tlb: TINY } },
    ]);
    const serial = await runJobs(source, jobs, 1);
    const parallel = await runJobs(source, jobs, 2);
    expect(parallel.map(strip)).toEqual(serial.map(strip));
    expect(new Set(serial.map((r) => r.report.counters['guest.pf'])).size).toBe(1);
    expect(serial[1]!.report.counters['tlb.l2.miss']).toBeGreaterThan(serial[0]!.report.counters['tlb.l2.miss']);
  });

  it('do several processes each fault in their own copy, with a switch every quantum?', async () => {
    const one = await replayImported(lackey, imp, os, { mode: 'shadow' });
    const three = await replayImported(lackey, imp, { ...os, processes: 3, quantum: 5000 }, { mode: 'shadow' });
    expect(three.os!.pageFaults).toBe(3 * one.os!.pageFaults);
    expect(three.counts.accesses).toBe(3 * one.counts.accesses);
    const total = one.counts.accesses * 3;
    expect(three.os!.switches).toBeGreaterThanOrEqual(Math.ceil(total / 5000) - 1);
    expect(three.report.counters['exit.cr3']).toBeGreaterThan(0);
  });

  it('does a CHECK record that disagrees stop the replay naming the record?', async () => {
    // Two accesses with paging off, then a CHECK record whose hash cannot be right.
    const w = new TraceWriter(fileSink(join(tmp, 'bad-check2.vmt')), {
      version: FORMAT_VERSION, source: 0, format: 0, maxPhysAddr: 36, gbPages: true, softTlbBits: 13, cpl: 0, ac: false, checkEvery: 2,
      seed: 1, guestMemory: 16 << 20, holes: [], cr0: 0, cr3Lo: 0, cr3Hi: 0, cr4: 0, efer: 0, pkru: 0, pdpte: [0, 0, 0, 0, 0, 0, 0, 0], notes: {},
    });
    w.access(accessOp(ACC_USER, 0, 4), 0x1000, 0);
    w.access(accessOp(ACC_USER, 0, 4), 0x2000, 0);
    w.event(R_CHECK, 12345, 2, 0);
    w.close();
    await expect(replayBinary(join(tmp, 'bad-check2.vmt'), { mode: 'shadow' })).rejects.toThrow(DivergenceError);
    await expect(replayBinary(join(tmp, 'bad-check2.vmt'), { mode: 'shadow' })).rejects.toThrow(/record 2 \(in the chunk at offset \d+\): the replay diverged/);
    const lenient = await replayBinary(join(tmp, 'bad-check2.vmt'), { mode: 'shadow', verify: false });
    expect(lenient.counts.mismatches).toBe(1);
  });
});
