/**
 * Mmu.translateRun counts an access that repeats the page of the two
 * accesses before it, instead of modeling it, where the mode says that is
 * only L1 hits (Mode.repeats: shadow and slat by kind, fetches and data
 * apart; naive in a row; each with its 4 KiB L1 arrays). The counters, cycles and the synthetic OS's work
 * must be exactly those of modeling every access, whatever the geometry
 * (one set of one way, L1 arrays absent or empty), the paging format, the mix of
 * fetches, reads, writes and page crossings, and the trace.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Mmu, type ModeName } from '../../src/mmu/index.js';
import { REPEATS_BY_KIND, REPEATS_IN_A_ROW, REPEATS_NONE } from '../../src/mmu/modes/mode.js';
import { SKYLAKE_TLB, type TlbGeometry } from '../../src/mmu/defaults.js';
import { LineParser, newImportStats, type RecordChunk } from '../../src/trace/importers.js';
import { packChunk, type StreamChunk } from '../../src/trace/packed.js';
import { driveStream, OS_DEFAULTS } from '../../src/trace/replayer.js';
import type { StreamReader } from '../../src/trace/stream.js';
import { SyntheticOs, type OsFormat, type OsPageSize } from '../../src/workload/synthetic-os.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const a = (entries: number, ways: number): { entries: number; ways: number } => ({ entries, ways });
const NO_PWC = { pml5e: a(0, 1), pml4e: a(0, 1), pdpte: a(0, 1), pde: a(0, 1) };
const GEOMETRIES: Record<string, TlbGeometry> = {
  skylake: SKYLAKE_TLB,
  'one way, one set': { name: 'one', l1d: { k4: a(1, 1) }, l1i: { k4: a(1, 1) }, l2: { k4m2: a(2, 2) }, pwc: NO_PWC, nestedTlb: a(1, 1) },
  'two sets of two': { name: 'two', l1d: { k4: a(4, 2), m2: a(2, 2) }, l1i: { k4: a(4, 2) }, l2: { k4m2: a(8, 2), g1: a(2, 2) }, pwc: NO_PWC, nestedTlb: a(2, 1) },
  'no 4 KiB L1 for data': { name: 'nol1d', l1d: { m2: a(4, 4) }, l1i: { k4: a(4, 4) }, l2: { k4m2: a(16, 4) }, pwc: NO_PWC, nestedTlb: a(4, 4) },
  'an empty L1 for fetches': { name: 'emptyl1i', l1d: { k4: a(8, 4) }, l1i: { k4: a(0, 1) }, l2: { k4m2: a(16, 4) }, pwc: NO_PWC, nestedTlb: a(4, 4) },
};

/** A lackey trace from a seeded generator: runs on a few pages, pages in one L1 set, fetches between data, page crossings, writes after reads. */
function lackey(seed: number, lines: number): string {
  let s = seed >>> 0;
  const rnd = (n: number): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
  const out: string[] = [];
  let code = 0x400000, data = 0x10000000;
  for (let i = 0; i < lines; i++) {
    if (rnd(8) === 0) code = 0x400000 + rnd(6) * 0x1000 * (rnd(2) ? 1 : 16); // pages 16 apart share a set
    if (rnd(5) === 0) data = 0x10000000 + rnd(10) * 0x1000 * (rnd(3) ? 1 : 16) + (rnd(4) === 0 ? 0x100000000 * rnd(3) : 0);
    out.push(`I  ${(code + rnd(4096)).toString(16)},${1 + rnd(15)}`);
    const k = rnd(6);
    const at = (data + (rnd(5) === 0 ? 4093 : rnd(4000))).toString(16);
    if (k === 0) out.push(` L ${at},8`);
    else if (k === 1) out.push(` S ${at},4`);
    else if (k === 2) out.push(` M ${at},8`);
    else if (k === 3) out.push(` L ${at},4`, ` L ${at},4`, ` S ${at},4`);
  }
  return out.join('\n') + '\n';
}

function chunksOf(text: Buffer): StreamChunk[] {
  const p = new LineParser('gen.lackey', { format: 'lackey' }, newImportStats());
  const keep: StreamChunk[] = [];
  const take = (cs: RecordChunk[]): void => { for (const c of cs) keep.push(packChunk(c, keep.length, 0)); };
  take(p.feed(text, false));
  take(p.feed(Buffer.alloc(0), true));
  return keep;
}

async function replay(chunks: StreamChunk[], mode: ModeName, tlb: TlbGeometry, repeats: boolean, format: OsFormat = OS_DEFAULTS.format, pageSize: OsPageSize = '4k'): Promise<{ essence: unknown; hits: number }> {
  const mmu = new Mmu({ mode, measure: true, tlb, guestMemory: 64 << 20, seed: OS_DEFAULTS.seed });
  mmu.countRepeats = repeats;
  const os = new SyntheticOs(mmu, { format, pageSize, reclaim: OS_DEFAULTS.reclaim, globalKernel: format !== '32-bit' });
  const reader = { chunk: (i: number) => Promise.resolve(chunks[i] ?? null), release: () => {}, close: () => {}, stats: null } as unknown as StreamReader;
  const r = await driveStream(os, reader, OS_DEFAULTS);
  const rep = mmu.report();
  return { essence: { counters: rep.counters, gauges: rep.gauges, cycles: rep.cycles, os: os.stats, accesses: r.accesses }, hits: (rep.counters['tlb.l1d.hit'] ?? 0) + (rep.counters['tlb.l1i.hit'] ?? 0) + (rep.counters['tlb.l2.hit'] ?? 0) };
}

describe('counting repeated pages in a replay run (Mmu.countRepeats)', () => {
  const generated = chunksOf(Buffer.from(lackey(7, 40_000)));
  for (const [name, tlb] of Object.entries(GEOMETRIES)) {
    it.each(['naive', 'shadow', 'slat'] as const)(`does %s count exactly as when every access is modeled, with the TLB '${name}'?`, async (mode) => {
      const on = await replay(generated, mode, tlb, true);
      const off = await replay(generated, mode, tlb, false);
      expect(on.essence).toEqual(off.essence);
      expect(on.hits).toBeGreaterThan(0);
    });
  }

  it.each(['naive', 'shadow', 'slat'] as const)('does %s count the same under every paging format (kernel pages not global under 32-bit) and with 2 MiB pages, on three other seeds?', async (mode) => {
    for (const seed of [1, 2, 3]) {
      const chunks = chunksOf(Buffer.from(lackey(seed, 15_000)));
      for (const [format, size] of [['32-bit', '4k'], ['pae', '4k'], ['4-level', '4k'], ['5-level', '4k'], ['pae', '2m'], ['4-level', '2m']] as const) {
        const on = await replay(chunks, mode, GEOMETRIES['two sets of two']!, true, format, size);
        expect(on.essence, `seed ${seed}, ${format}, ${size}`).toEqual((await replay(chunks, mode, GEOMETRIES['two sets of two']!, false, format, size)).essence);
      }
    }
  });

  it('does a real trace (ls under lackey) count the same in every mode, and does each mode say which repeats it allows?', async () => {
    const chunks = chunksOf(gunzipSync(readFileSync(`${root}/traces/ls.lackey.gz`)));
    for (const mode of ['naive', 'shadow', 'slat'] as const) {
      const on = await replay(chunks, mode, SKYLAKE_TLB, true);
      expect(on.essence, mode).toEqual((await replay(chunks, mode, SKYLAKE_TLB, false)).essence);
    }
    // naive's host TLB sees fetched and data pages in one L1 array: only repeats in a row
    const modes = ['naive', 'shadow', 'slat'] as const;
    expect(modes.map((m) => new Mmu({ mode: m, guestMemory: 4 << 20 }).mode.repeats)).toEqual([REPEATS_IN_A_ROW, REPEATS_BY_KIND, REPEATS_BY_KIND]);
    expect(new Mmu({ mode: 'shadow', guestMemory: 4 << 20, tlb: GEOMETRIES['no 4 KiB L1 for data']! }).mode.repeats).toBe(REPEATS_NONE);
    expect(new Mmu({ mode: 'slat', guestMemory: 4 << 20, tlb: GEOMETRIES['an empty L1 for fetches']! }).mode.repeats).toBe(REPEATS_NONE);
  });
});
