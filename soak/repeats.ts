/**
 * Counting repeated pages (Mmu.countRepeats, docs/mmu.md, "Replaying runs
 * of accesses"): random lackey traces of random shapes, on random small
 * TLB geometries, every mode, paging format and user page size, replayed
 * with the counting on and off. The counters, cycles and the synthetic
 * OS's work must be the same; a difference is reported with the seed and
 * the case that reproduce it.
 *
 * npm test runs a few cases (test/mmu/repeats.test.ts); this part runs for
 * minutes: npm run soak -- --only repeats --seconds N.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ModeName } from '../src/mmu/index.js';
import type { OsFormat, OsPageSize } from '../src/workload/synthetic-os.js';
import { chunksOf, lackey, markModifies, randomGeometry, replayChunks, rng } from '../test/mmu/repeats.js';
import type { SoakOptions, SoakPart } from './parts.js';

const MODES: readonly ModeName[] = ['naive', 'shadow', 'slat'];
const FORMATS: readonly OsFormat[] = ['32-bit', 'pae', '4-level', '5-level'];

export const repeats: SoakPart = {
  name: 'repeats',
  what: 'replays with repeated pages counted and with every access modeled: the same counters on random traces and TLB geometries',
  run: async (o: SoakOptions): Promise<string> => {
    const end = Date.now() + (o.seconds ?? 120) * 1000;
    let cases = 0, accesses = 0, lastLog = Date.now();
    for (let k = 0; Date.now() < end; k++) {
      const rnd = rng(o.seed * 1_000_003 + k);
      const tlb = randomGeometry(rnd);
      const shape = { codePages: 1 + rnd(24), dataPages: 1 + rnd(40), codeEvery: 1 + rnd(16), dataEvery: 1 + rnd(12) };
      const chunks = chunksOf(Buffer.from(lackey(rnd(1 << 30), 2000 + rnd(12_000), shape)));
      const mode = MODES[rnd(MODES.length)]!;
      const format = FORMATS[rnd(FORMATS.length)]!;
      const pageSize: OsPageSize = format === '32-bit' || rnd(3) !== 0 ? '4k' : '2m';
      // in half the cases each read followed by a write of its address is a read-modify-write's two halves
      const rmw = rnd(2) === 0 && markModifies(chunks) > 0;
      const on = await replayChunks(chunks, mode, tlb, true, format, pageSize);
      const off = await replayChunks(chunks, mode, tlb, false, format, pageSize);
      if (!isDeepStrictEqual(on.essence, off.essence)) {
        throw new Error(`seed ${o.seed}, case ${k}: ${mode}, ${format}, ${pageSize} pages${rmw ? ', read-modify-writes marked' : ''}, TLB ${JSON.stringify(tlb)}, trace ${JSON.stringify(shape)}: the counts differ with repeats counted\n` +
          `counted: ${JSON.stringify(on.essence)}\nmodeled: ${JSON.stringify(off.essence)}`);
      }
      cases++;
      accesses += (on.essence as { accesses: number }).accesses;
      if (Date.now() - lastLog > 60_000) {
        lastLog = Date.now();
        o.log(`${cases} cases, ${accesses.toLocaleString('en-US')} accesses replayed twice, no difference so far (case ${k})`);
      }
    }
    return `${cases} cases (every mode, format and page size; read-modify-writes marked in half; random TLB geometries), ${accesses.toLocaleString('en-US')} accesses replayed twice, no difference`;
  },
};
