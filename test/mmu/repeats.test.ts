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
import { Mmu } from '../../src/mmu/index.js';
import { REPEATS_BY_KIND, REPEATS_IN_A_ROW, REPEATS_NONE } from '../../src/mmu/modes/mode.js';
import { SKYLAKE_TLB, type TlbGeometry } from '../../src/mmu/defaults.js';
import { chunksOf, lackey, markModifies, NO_PWC, randomGeometry, replayChunks as replay, rng } from './repeats.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const a = (entries: number, ways: number): { entries: number; ways: number } => ({ entries, ways });
const GEOMETRIES: Record<string, TlbGeometry> = {
  skylake: SKYLAKE_TLB,
  'one way, one set': { name: 'one', l1d: { k4: a(1, 1) }, l1i: { k4: a(1, 1) }, l2: { k4m2: a(2, 2) }, pwc: NO_PWC, nestedTlb: a(1, 1) } as unknown as TlbGeometry,
  'two sets of two': { name: 'two', l1d: { k4: a(4, 2), m2: a(2, 2) }, l1i: { k4: a(4, 2) }, l2: { k4m2: a(8, 2), g1: a(2, 2) }, pwc: NO_PWC, nestedTlb: a(2, 1) } as unknown as TlbGeometry,
  'no 4 KiB L1 for data': { name: 'nol1d', l1d: { m2: a(4, 4) }, l1i: { k4: a(4, 4) }, l2: { k4m2: a(16, 4) }, pwc: NO_PWC, nestedTlb: a(4, 4) } as unknown as TlbGeometry,
  'an empty L1 for fetches': { name: 'emptyl1i', l1d: { k4: a(8, 4) }, l1i: { k4: a(0, 1) }, l2: { k4m2: a(16, 4) }, pwc: NO_PWC, nestedTlb: a(4, 4) } as unknown as TlbGeometry,
};

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

  it.each(['naive', 'shadow', 'slat'] as const)('with read-modify-write pairs among the accesses (a modify line as one instruction), does %s count the same, each pair as one read and one write?', async (mode) => {
    const chunks = chunksOf(Buffer.from(lackey(11, 20_000)));
    const plain = await replay(chunks, mode, GEOMETRIES['two sets of two']!, false);
    expect(markModifies(chunks)).toBeGreaterThan(2000);
    for (const tlb of [GEOMETRIES['two sets of two']!, GEOMETRIES['one way, one set']!, SKYLAKE_TLB]) {
      const on = await replay(chunks, mode, tlb, true);
      expect(on.essence).toEqual((await replay(chunks, mode, tlb, false)).essence);
    }
    // the marks change no access count: a read-modify-write's read counts as a read
    const marked = await replay(chunks, mode, GEOMETRIES['two sets of two']!, false);
    const counts = (r: typeof plain): unknown => (r.essence as { counters: Record<string, number> }).counters;
    const pick = (c: Record<string, number>): number[] => [c['access.read']!, c['access.write']!, c['access.fetch']!];
    expect(pick(counts(marked) as Record<string, number>)).toEqual(pick(counts(plain) as Record<string, number>));
  });

  it('does every mode count the same on 12 random small geometries (the soak\'s `repeats` part runs more)?', async () => {
    const rnd = rng(99);
    for (let k = 0; k < 12; k++) {
      const tlb = randomGeometry(rnd);
      const chunks = chunksOf(Buffer.from(lackey(100 + k, 4000)));
      for (const mode of ['naive', 'shadow', 'slat'] as const) {
        const on = await replay(chunks, mode, tlb, true);
        expect(on.essence, `${mode}, ${JSON.stringify(tlb)}`).toEqual((await replay(chunks, mode, tlb, false)).essence);
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
