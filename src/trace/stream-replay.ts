/**
 * The replay of a text trace from a parse-once stream (stream.ts): the
 * synthetic OS over a fresh Mmu, fed the parsed record chunks. Apart from
 * replayer.ts (binary traces, direct imports, recording) so that a replay
 * thread of a text trace loads only this path: the Mmu, the synthetic OS
 * and the chunk views, not the binary reader, the recorder or the
 * importers. replayer.ts re-exports everything here.
 */
import { Mmu, type MmuReport } from '../mmu/mmu.js';
import type { ModeName } from '../mmu/modes/mode.js';
import type { CostProfile, TlbGeometry } from '../mmu/defaults.js';
import type { ShadowOptions } from '../mmu/modes/shadow.js';
import type { SlatOptions } from '../mmu/modes/slat.js';
import { SyntheticOs, type OsStats } from '../workload/synthetic-os.js';
import { ACC_OF_OP, OP_HI } from './format.js';
import type { ImportStats } from './importers.js';
import { AddressFolder } from './fold.js';
import { chunkViews } from './packed.js';
import type { StreamReader } from './stream-reader.js';
import type { OsReplayOptions } from './os-options.js';

/** How the replaying Mmu is built (besides what the trace header fixes). */
export interface MmuReplayOptions {
  mode: ModeName;
  /** modeled TLB geometry (default Skylake) */
  tlb?: TlbGeometry;
  costProfile?: Partial<CostProfile>;
  vpid?: boolean;
  shadow?: ShadowOptions;
  slat?: SlatOptions;
  /** binary traces: check CHECK records (default true) */
  verify?: boolean;
  /**
   * binary traces: read, inflate and decode in a separate reader thread
   * (default false). It pays when a core is idle; when every core already
   * runs a replay, reading in the replaying thread is faster.
   */
  readerThread?: boolean;
}

/** What a replay saw in the trace. */
export interface TraceCounts {
  records: number;
  /** the trace's accesses: access records, or text-trace accesses, without the synthetic kernel's own */
  accesses: number;
  /**
   * the synthetic guest OS's own stores to page-table entries (text traces,
   * and binary traces whose notes carry KERNEL_APART): played with the cost
   * model paused, so in no access, TLB or walk counter
   */
  kernelAccesses: number;
  /** accesses that faulted (binary traces: as recorded; imported: demand-paging faults) */
  faults: number;
  pageImages: number;
  ptWrites: number;
  registerLoads: number;
  invalidations: number;
  flushes: number;
  switches: number;
  /** CHECK records verified */
  checks: number;
  /** CHECK records that did not match (only counted with verify off) */
  mismatches: number;
}

export interface ReplayResult {
  mode: ModeName;
  report: MmuReport;
  counts: TraceCounts;
  seconds: number;
  /** imported traces: the synthetic OS's statistics, the import's, and folded granules */
  os?: OsStats;
  import?: ImportStats;
  folded?: { moved: number; collisions: number };
}

/** Called as a replay goes: bytes of the file consumed, records replayed. */
export type Progress = (bytes: number, records: number) => void;

export function newCounts(): TraceCounts {
  return { records: 0, accesses: 0, kernelAccesses: 0, faults: 0, pageImages: 0, ptWrites: 0, registerLoads: 0, invalidations: 0, flushes: 0, switches: 0, checks: 0, mismatches: 0 };
}

export function mmuFor(o: MmuReplayOptions, extra: { guestMemory: number; seed: number; holes?: { gpa: number; bytes: number }[]; rom?: { gpa: number; bytes: number }[]; maxPhysAddr?: number; gbPages?: boolean; softTlbBits?: number }): Mmu {
  return new Mmu({
    mode: o.mode, measure: true, ...extra,
    ...(o.tlb ? { tlb: o.tlb } : {}), ...(o.costProfile ? { costProfile: o.costProfile } : {}),
    ...(o.vpid !== undefined ? { vpid: o.vpid } : {}), ...(o.shadow ? { shadow: o.shadow } : {}), ...(o.slat ? { slat: o.slat } : {}),
  });
}

export function osCounts(os: SyntheticOs, accesses: number): TraceCounts {
  const c = newCounts();
  c.records = accesses;
  c.accesses = accesses;
  c.kernelAccesses = os.stats.kernelStores;
  c.faults = os.stats.pageFaults;
  c.switches = os.stats.switches;
  return c;
}

/**
 * Runs the parsed record chunks of a text trace (a parse-once stream, see
 * stream.ts) on a synthetic OS over `mmu`: the same processes, quantum and
 * order of accesses as driveImported, each process with its own cursor
 * into the one stream. Tells the broker which chunks it has passed.
 */
export async function driveStream(os: SyntheticOs, reader: StreamReader, o: OsReplayOptions, progress?: Progress): Promise<{ folded?: { moved: number; collisions: number }; accesses: number }> {
  const n = o.processes;
  for (let p = 0; p < n; p++) os.createProcess();
  const folder = o.format === '32-bit' || o.format === 'pae' ? new AddressFolder() : null;
  // per process: the chunk it is in (-1 before the first), the next record and operand in it
  const ci = new Array<number>(n).fill(-1);
  const at = new Array<number>(n).fill(0);
  const ga = new Array<number>(n).fill(0);
  const len = new Array<number>(n).fill(0);
  const bytes = new Array<number>(n).fill(0);
  const opsOf: Uint16Array[] = new Array<Uint16Array>(n).fill(new Uint16Array(0));
  const addrOf: Int32Array[] = new Array<Int32Array>(n).fill(new Int32Array(0));
  const argsOf: Int32Array[] = new Array<Int32Array>(n).fill(new Int32Array(0));
  const done = new Array<boolean>(n).fill(false);
  let live = n;
  let pid = 0;
  let accesses = 0;
  const release = (): void => {
    let low = Infinity;
    for (let p = 0; p < n; p++) if (!done[p]) low = Math.min(low, ci[p]!);
    reader.release(low === Infinity ? Math.max(...ci) + 1 : Math.max(low, 0));
  };
  os.switchTo(0);
  while (live > 0) {
    let budget = o.quantum;
    while (budget > 0) {
      if (at[pid]! >= len[pid]!) {
        const ch = await reader.chunk(ci[pid]! + 1);
        if (ch === null) {
          done[pid] = true;
          live--;
          release();
          break;
        }
        const v = chunkViews(ch);
        ci[pid] = ch.index;
        opsOf[pid] = v.ops;
        addrOf[pid] = v.addr;
        argsOf[pid] = v.args;
        at[pid] = 0;
        ga[pid] = 0;
        len[pid] = ch.n;
        bytes[pid] = ch.bytes;
        release();
      }
      const start = at[pid]!;
      const end = Math.min(len[pid]!, start + budget);
      ga[pid] = folder !== null
        ? playFolded(os, folder, opsOf[pid]!, addrOf[pid]!, argsOf[pid]!, start, end, ga[pid]!)
        : playText(os, opsOf[pid]!, addrOf[pid]!, argsOf[pid]!, start, end, ga[pid]!);
      accesses += end - start;
      budget -= end - start;
      at[pid] = end;
      if (progress && pid === 0) progress(bytes[0]!, accesses);
    }
    if (live === 0) break;
    do pid = (pid + 1) % n; while (done[pid]);
    os.switchTo(pid);
  }
  return { accesses, ...(folder !== null ? { folded: { moved: folder.moved, collisions: folder.collisions } } : {}) };
}

/**
 * The accesses of records i..end-1 of a parsed chunk, on the synthetic OS:
 * the whole run is handed to SyntheticOs.accessRun (one loop over the typed
 * arrays in the Mmu for the accesses that hit the software TLB, instead of
 * a call per access). Returns the operand cursor.
 */
function playText(os: SyntheticOs, ops: Uint16Array, addr: Int32Array, args: Int32Array, i: number, end: number, g: number): number {
  return os.accessRun(ops, addr, args, ACC_OF_OP, OP_HI, i, end, g);
}

/** playText for a 32-bit or PAE guest: 64-bit addresses folded into its user space. */
function playFolded(os: SyntheticOs, folder: AddressFolder, ops: Uint16Array, addr: Int32Array, args: Int32Array, i: number, end: number, g: number): number {
  for (; i < end; i++) {
    const op = ops[i]!;
    os.access(folder.fold(addr[i]!, op & OP_HI ? args[g++]! : 0), 0, ACC_OF_OP[op & 0x3fff]!);
  }
  return g;
}

/**
 * Replays a text trace in one mode on the synthetic OS, reading the chunks
 * of a parse-once stream (stream.ts). The result is the one replayImported
 * gives for the same trace; the import's statistics are the parse's.
 */
export async function replayStream(reader: StreamReader, osOptions: OsReplayOptions, o: MmuReplayOptions, progress?: Progress): Promise<ReplayResult> {
  try {
    // The broker sends the first chunks while the Mmu allocates guest memory.
    const mmu = mmuFor(o, { guestMemory: osOptions.memory, seed: osOptions.seed });
    const os = new SyntheticOs(mmu, { format: osOptions.format, pageSize: osOptions.pageSize, reclaim: osOptions.reclaim });
    const start = performance.now();
    const r = await driveStream(os, reader, osOptions, progress);
    const seconds = (performance.now() - start) / 1000;
    const stats: ImportStats = reader.stats ?? { lines: 0, accesses: 0, skipped: 0, errors: [], bytes: 0 };
    return { mode: o.mode, report: mmu.report(), counts: osCounts(os, r.accesses), seconds, os: { ...os.stats }, import: { ...stats, errors: [...stats.errors] }, ...(r.folded ? { folded: r.folded } : {}) };
  } finally {
    reader.close();
  }
}

