/**
 * Replays for checking Mmu.countRepeats (test/mmu/repeats.test.ts and the
 * soak's `repeats` part): seeded lackey traces made to repeat pages in the
 * ways that matter (runs on a few pages, pages that share an L1 set,
 * fetches between data, writes after reads, page crossings, addresses
 * above 4 GiB), small random TLB geometries, and a replay of parsed chunks
 * through the synthetic OS with the counting on or off.
 */
import { Mmu, type ModeName } from '../../src/mmu/index.js';
import type { TlbArrayGeometry, TlbGeometry } from '../../src/mmu/defaults.js';
import { LineParser, newImportStats, type RecordChunk } from '../../src/trace/importers.js';
import { chunkViews, packChunk, type StreamChunk } from '../../src/trace/packed.js';
import { KIND_READ, KIND_WRITE, OP_ACCESS, OP_HI, OP_KIND_SHIFT, OP_RMW } from '../../src/trace/format.js';
import { driveStream, OS_DEFAULTS } from '../../src/trace/replayer.js';
import type { StreamReader } from '../../src/trace/stream.js';
import { SyntheticOs, type OsFormat, type OsPageSize } from '../../src/workload/synthetic-os.js';
import { Rng } from './rng.js';

/** The randomized MMU tests' generator as a function: rnd(n) in [0, n). */
export function rng(seed: number): (n: number) => number {
  const r = new Rng(seed);
  return (n: number): number => r.below(n);
}

/** How a generated trace moves: pages in its code and data pools, and how often it changes page. */
export interface TraceShape { codePages: number; dataPages: number; codeEvery: number; dataEvery: number }
export const SHAPE: TraceShape = { codePages: 6, dataPages: 10, codeEvery: 8, dataEvery: 5 };

/** A lackey trace of `lines` instructions (with their data accesses) from `seed`. */
export function lackey(seed: number, lines: number, shape: TraceShape = SHAPE): string {
  const rnd = rng(seed);
  const out: string[] = [];
  let code = 0x400000, data = 0x10000000;
  for (let i = 0; i < lines; i++) {
    // pages 16 apart share an L1 set in the small geometries
    if (rnd(shape.codeEvery) === 0) code = 0x400000 + rnd(shape.codePages) * 0x1000 * (rnd(2) ? 1 : 16);
    if (rnd(shape.dataEvery) === 0) data = 0x10000000 + rnd(shape.dataPages) * 0x1000 * (rnd(3) ? 1 : 16) + (rnd(4) === 0 ? 0x100000000 * rnd(3) : 0);
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

/** A lackey text's record chunks, as a replay's parse thread makes them. */
export function chunksOf(text: Buffer): StreamChunk[] {
  const p = new LineParser('gen.lackey', { format: 'lackey' }, newImportStats());
  const keep: StreamChunk[] = [];
  const take = (cs: RecordChunk[]): void => { for (const c of cs) keep.push(packChunk(c, keep.length, 0)); };
  take(p.feed(text, false));
  take(p.feed(Buffer.alloc(0), true));
  return keep;
}

/**
 * Marks each data read followed by a data write of the same address (a
 * lackey M line, and the L-then-S runs of lackey()) as the two halves of a
 * read-modify-write (OP_RMW), in place; returns how many pairs it marked.
 */
export function markModifies(chunks: StreamChunk[]): number {
  let pairs = 0;
  for (const c of chunks) {
    const { ops, addr } = chunkViews(c); // addr is indexed by record
    for (let i = 0; i + 1 < ops.length; i++) {
      const op = ops[i]!, next = ops[i + 1]!;
      if (!(op & OP_ACCESS)) continue;
      const isRead = ((op >> OP_KIND_SHIFT) & 3) === KIND_READ, nextWrite = (next & OP_ACCESS) !== 0 && ((next >> OP_KIND_SHIFT) & 3) === KIND_WRITE;
      if (isRead && nextWrite && (op & OP_HI) === 0 && (next & OP_HI) === 0 && addr[i] === addr[i + 1] && (op & OP_RMW) === 0) {
        ops[i] = op | OP_RMW;
        ops[i + 1] = next | OP_RMW;
        pairs++;
      }
    }
  }
  return pairs;
}

const a = (entries: number, ways: number): TlbArrayGeometry => ({ entries, ways });
export const NO_PWC = { pml5e: a(0, 1), pml4e: a(0, 1), pdpte: a(0, 1), pde: a(0, 1) };

/** A random geometry of small arrays (some L1 arrays missing or empty, some paging-structure caches on). */
export function randomGeometry(rnd: (n: number) => number): TlbGeometry {
  const arr = (maxLog: number): TlbArrayGeometry => {
    const ways = 1 << rnd(3);
    return a(ways * (1 << rnd(maxLog)), ways);
  };
  const maybe = (g: TlbArrayGeometry): TlbArrayGeometry | undefined => (rnd(5) === 0 ? undefined : rnd(8) === 0 ? a(0, 1) : g);
  const l1d: Record<string, TlbArrayGeometry> = {}, l1i: Record<string, TlbArrayGeometry> = {};
  for (const [k, g] of [['k4', maybe(arr(3))], ['m2', maybe(arr(2))], ['g1', maybe(arr(1))]] as const) if (g) l1d[k] = g;
  for (const [k, g] of [['k4', maybe(arr(3))], ['m2', maybe(arr(2))]] as const) if (g) l1i[k] = g;
  const pwc = rnd(2) === 0 ? NO_PWC : { pml5e: arr(1), pml4e: arr(1), pdpte: arr(2), pde: arr(3) };
  return { name: 'random', l1d, l1i, l2: { k4m2: arr(4), ...(rnd(2) ? { g1: arr(1) } : {}) }, pwc, nestedTlb: arr(2) } as TlbGeometry;
}

/** One replay's result: what must not depend on countRepeats, and the modeled TLB hits (to see that the model ran). */
export interface RepeatsReplay { essence: unknown; hits: number }

export async function replayChunks(chunks: StreamChunk[], mode: ModeName, tlb: TlbGeometry, repeats: boolean, format: OsFormat = OS_DEFAULTS.format, pageSize: OsPageSize = '4k'): Promise<RepeatsReplay> {
  const mmu = new Mmu({ mode, measure: true, tlb, guestMemory: 64 << 20, seed: OS_DEFAULTS.seed });
  mmu.countRepeats = repeats;
  const os = new SyntheticOs(mmu, { format, pageSize, reclaim: OS_DEFAULTS.reclaim, globalKernel: format !== '32-bit' });
  const reader = { chunk: (i: number) => Promise.resolve(chunks[i] ?? null), release: () => {}, close: () => {}, stats: null } as unknown as StreamReader;
  const r = await driveStream(os, reader, OS_DEFAULTS);
  const rep = mmu.report();
  const c = rep.counters;
  return { essence: { counters: c, gauges: rep.gauges, cycles: rep.cycles, os: os.stats, accesses: r.accesses }, hits: (c['tlb.l1d.hit'] ?? 0) + (c['tlb.l1i.hit'] ?? 0) + (c['tlb.l2.hit'] ?? 0) };
}
