/**
 * Replays traces against a fresh Mmu in a chosen mode, with the cost model
 * on, and returns the Mmu's report plus what the trace held.
 *
 * - A binary trace (.vmt) carries its own page tables: the replayer rebuilds
 *   the guest's memory size and scatter from the header, applies page images
 *   and recorded table writes as they come, loads registers, and plays each
 *   access with Mmu.translate, so the Mmu's own semantics (faults, A/D bits,
 *   shadow and EPT upkeep) apply. CHECK records prove the translations are
 *   the recorded ones; a mismatch is a DivergenceError naming the record.
 * - A text trace (lackey, cache-lab, pinatrace) carries virtual addresses of
 *   one process only: it runs on the synthetic guest OS, which pages in on
 *   demand and writes real page-table entries (see src/workload).
 *
 * The per-record loop is plain integer code over the typed arrays of a
 * decoded chunk: no objects, closures or pattern matching per record.
 */
import { rmSync } from 'node:fs';
import { createLog } from '../mmu/log.js';
import { Mmu, T_FAULT } from '../mmu/index.js';
import { ACC_SIZE_SHIFT } from '../mmu/index.js';
import { ACC_FETCH, ACC_WRITE } from '../mmu/index.js';
import { KERNEL_APART, SyntheticOs, type OsStats } from '../workload/synthetic-os.js';
import type { OsReplayOptions } from './os-options.js';
import {
  ACC_OF_OP, OP_ACCESS, OP_HI, PAGE_BYTES, R_CHECK, R_CR0, R_CR3, R_CR4, R_EFER, R_FLUSH, R_INVLPG, R_INVPCID, R_PAGE,
  R_PAGING, R_PKRU, R_PRIV, R_PTWRITE, R_PTWRITE8, R_SWITCH, R_ZPAGE, ROM_NOTE, SOURCE_IMPORTED, TraceError, type TraceHeader,
} from './format.js';
import { threadedChunks, TraceReader, type DecodedChunk, type ReadState } from './reader.js';
import { CHECK_PRIME, faultValue } from './checksum.js';
import { newImportStats, readTextTrace, type AccessBatch, type ImportOptions, type ImportStats } from './importers.js';
import { AddressFolder } from './fold.js';
import { TraceRecorder, type RecorderOptions, type RecorderStats } from './recorder.js';

const log = createLog('vmmu:trace');
const TWO32 = 4294967296;
const ZERO_PAGE = new Uint8Array(PAGE_BYTES);

export { OS_DEFAULTS, osMemoryDefault, type OsReplayOptions } from './os-options.js';
// The types and the stream replay (a text trace from a parse-once stream) live in stream-replay.ts.
import { mmuFor, newCounts, osCounts, type MmuReplayOptions, type Progress, type ReplayResult } from './stream-replay.js';
export { driveStream, replayStream, type MmuReplayOptions, type Progress, type ReplayResult, type TraceCounts } from './stream-replay.js';

/** The replay's translations are not the recorded ones. */
export class DivergenceError extends TraceError {}

// =====================================================================
// Binary traces
// =====================================================================

/** Plays decoded chunks of one binary trace into an Mmu. */
export class BinaryReplayer {
  readonly counts = newCounts();
  hash = 0;
  private prologue = true;
  /** cursors into the current chunk's args and blob; `g` is shared with playLoop */
  g = 0;
  private p = 0;
  /** playLoop's scratch: accesses so far in the chunk (set at each event), faults in the chunk */
  private readonly st = new Float64Array(2);
  private chunk: DecodedChunk | null = null;
  /** access records of the chunks before this one, the kernel's included (what CHECK records count) */
  private allAccesses = 0;
  /** the trace's accesses below CPL 3 are the synthetic kernel's (header notes, KERNEL_APART) */
  private readonly kernelApart: boolean;
  /** in such a trace: below CPL 3 now, and since which access of the current chunk */
  private inKernel = false;
  private kernelFrom = 0;

  constructor(readonly mmu: Mmu, private readonly header: TraceHeader, private readonly path: string, private readonly verify: boolean) {
    this.kernelApart = header.notes[KERNEL_APART] === true;
  }

  /** Replays one chunk. Throws DivergenceError or TraceError. */
  play(ch: DecodedChunk): void {
    this.chunk = ch;
    this.g = 0;
    this.p = 0;
    const ops = ch.ops, n = ch.nOps;
    let i = 0;
    if (this.prologue) {
      // Leading page images build the starting memory; the header's
      // registers apply before the first other record.
      while (i < n && (ops[i] === R_PAGE || ops[i] === R_ZPAGE)) this.event(ops[i]!, i++);
      if (i === n) {
        this.counts.records += n;
        return;
      }
      this.prologue = false;
      this.applyHeader();
    }
    this.st[0] = 0;
    this.st[1] = 0;
    this.hash = playLoop(this, this.mmu, ops, ch.addr, ch.args, i, n, this.hash, this.st);
    this.allAccesses += ch.addr.length; // every access of the chunk (the prologue has none)
    if (this.inKernel) {
      this.counts.kernelAccesses += ch.addr.length - this.kernelFrom;
      this.kernelFrom = 0;
    }
    this.counts.accesses = this.allAccesses - this.counts.kernelAccesses;
    this.counts.faults += this.st[1]!;
    this.counts.records += n;
  }

  private applyHeader(): void {
    const h = this.header;
    const mmu = this.mmu;
    if (h.cr0 !== 0 || h.cr4 !== 0 || h.efer !== 0 || h.cr3Lo !== 0 || h.cr3Hi !== 0 || h.pkru !== 0) {
      if (mmu.setPaging({ cr0: h.cr0, cr3Lo: h.cr3Lo, cr3Hi: h.cr3Hi, cr4: h.cr4, efer: h.efer, pkru: h.pkru }) !== 0) {
        mmu.clearFault();
        throw new DivergenceError(`${this.path}: the header's paging registers fault in the replay (invalid PAE PDPTEs?)`);
      }
      mmu.loadPdptes(h.pdpte.slice(0, 8));
    }
    if (h.cpl !== 0 || h.ac) mmu.setPrivilege(h.cpl, h.ac);
    this.kernelSection(h.cpl, 0);
  }

  /** In a KERNEL_APART trace, the CPL changed at access `at` of the chunk: the cost model pauses below CPL 3. */
  private kernelSection(cpl: number, at: number): void {
    if (!this.kernelApart || (cpl !== 3) === this.inKernel) return;
    this.inKernel = cpl !== 3;
    if (this.inKernel) this.kernelFrom = at;
    else this.counts.kernelAccesses += at - this.kernelFrom;
    this.mmu.setCostModel(!this.inKernel);
  }

  private where(i: number): string {
    const ch = this.chunk!;
    return `record ${ch.firstRecord + i} (in the chunk at offset ${ch.offset})`;
  }

  private regFault(i: number, what: string): never {
    this.mmu.clearFault();
    throw new DivergenceError(`${this.path}: ${this.where(i)}: ${what} faulted in the replay but not when it was recorded`);
  }

  /** A non-access record (cold). Uses and advances `g`; CHECK compares with `hash`. */
  event(op: number, i: number): void {
    const mmu = this.mmu;
    const a = this.chunk!.args;
    const c = this.counts;
    switch (op) {
      case R_PAGE: {
        const gfn = (a[this.g]! >>> 0) + (a[this.g + 1]! >>> 0) * TWO32;
        this.g += 2;
        mmu.writePhysBytes(gfn * PAGE_BYTES, this.chunk!.blob.subarray(this.p, this.p + PAGE_BYTES));
        this.p += PAGE_BYTES;
        c.pageImages++;
        return;
      }
      case R_ZPAGE: {
        const gfn = (a[this.g]! >>> 0) + (a[this.g + 1]! >>> 0) * TWO32;
        this.g += 2;
        mmu.writePhysBytes(gfn * PAGE_BYTES, ZERO_PAGE);
        c.pageImages++;
        return;
      }
      case R_PTWRITE: {
        const gpa = (a[this.g]! >>> 0) + (a[this.g + 1]! >>> 0) * TWO32;
        const size = a[this.g + 2]!;
        const value = a[this.g + 3]!;
        this.g += 4;
        if (size !== 1 && size !== 2 && size !== 4) throw new TraceError(`${this.path}: ${this.where(i)}: page-table write of ${size} bytes (corrupt)`);
        mmu.writePhys(gpa, size, value);
        c.ptWrites++;
        return;
      }
      case R_PTWRITE8: {
        const gpa = (a[this.g]! >>> 0) + (a[this.g + 1]! >>> 0) * TWO32;
        const lo = a[this.g + 2]!, hi = a[this.g + 3]!;
        this.g += 4;
        mmu.writePhys64(gpa, lo, hi);
        c.ptWrites++;
        return;
      }
      case R_CR0:
        c.registerLoads++;
        if (mmu.writeCr0(a[this.g++]!) !== 0) this.regFault(i, 'a CR0 load');
        return;
      case R_CR3:
        c.registerLoads++;
        if (mmu.writeCr3(a[this.g]!, a[this.g + 1]!) !== 0) this.regFault(i, 'a CR3 load');
        this.g += 2;
        return;
      case R_CR4:
        c.registerLoads++;
        if (mmu.writeCr4(a[this.g++]!) !== 0) this.regFault(i, 'a CR4 load');
        return;
      case R_EFER:
        c.registerLoads++;
        if (mmu.writeEfer(a[this.g++]!) !== 0) this.regFault(i, 'an EFER load');
        return;
      case R_PKRU:
        c.registerLoads++;
        mmu.writePkru(a[this.g++]!);
        return;
      case R_PAGING: {
        c.registerLoads++;
        const g = this.g;
        this.g += 6;
        if (mmu.setPaging({ cr0: a[g]!, cr3Lo: a[g + 1]!, cr3Hi: a[g + 2]!, cr4: a[g + 3]!, efer: a[g + 4]!, pkru: a[g + 5]! }) !== 0) this.regFault(i, 'loading all paging registers');
        return;
      }
      case R_PRIV: {
        const v = a[this.g++]!;
        if ((v & 0xff) > 3 || v >>> 9 !== 0) throw new TraceError(`${this.path}: ${this.where(i)}: privilege record 0x${(v >>> 0).toString(16)} is not a CPL 0..3 and an AC bit (corrupt)`);
        mmu.setPrivilege(v & 0xff, (v & 0x100) !== 0);
        this.kernelSection(v & 0xff, this.st[0]!);
        return;
      }
      case R_INVLPG:
        c.invalidations++;
        mmu.invlpg(a[this.g]!, a[this.g + 1]!);
        this.g += 2;
        return;
      case R_INVPCID: {
        c.invalidations++;
        const g = this.g;
        this.g += 4;
        if (mmu.invpcid(a[g]!, a[g + 1]!, a[g + 2]!, a[g + 3]!) !== 0) this.regFault(i, 'an INVPCID');
        return;
      }
      case R_FLUSH:
        c.flushes++;
        mmu.flushTlb(a[this.g++]! !== 0);
        return;
      case R_SWITCH:
        c.switches++;
        this.g++;
        return;
      case R_CHECK: {
        const want = a[this.g]!;
        const count = (a[this.g + 1]! >>> 0) + (a[this.g + 2]! >>> 0) * TWO32;
        this.g += 3;
        c.checks++;
        const have = this.allAccesses + this.st[0]!;
        if (count !== have || want !== this.hash) {
          if (this.verify) {
            throw new DivergenceError(`${this.path}: ${this.where(i)}: the replay diverged from the recording within the ${this.header.checkEvery} accesses before access ${count}`
              + (count !== have ? ` (the replay counted ${have} accesses)` : ': a translation or fault differs'));
          }
          c.mismatches++;
          this.hash = want;
        }
        return;
      }
      default:
        throw new TraceError(`${this.path}: ${this.where(i)}: unknown record type ${op}`);
    }
  }
}

/**
 * The replay loop over one decoded chunk, from record `i`: plain integer
 * code over typed arrays. A standalone function with nothing after its loop
 * but `return`, so that V8's on-stack-replaced code never meets a property
 * access it has no feedback for (which would deoptimize it every chunk).
 * Counts accesses and faults in st[0], st[1]; returns the running hash.
 */
function playLoop(r: BinaryReplayer, mmu: Mmu, ops: Uint16Array, addr: Int32Array, args: Int32Array, i: number, n: number, h: number, st: Float64Array): number {
  let k = 0; // the records before i (the prologue's page images) have no addresses
  let g = r.g; // but they have operands
  for (; i < n; i++) {
    const op = ops[i]!;
    if (op & OP_ACCESS) {
      const lo = addr[k++]!;
      const hi = op & OP_HI ? args[g++]! : 0;
      const t = mmu.translate(lo, hi, ACC_OF_OP[op & 0x3fff]!);
      if (t === T_FAULT) {
        h = Math.imul(h ^ faultValue(mmu.fault.vector, mmu.fault.errorCode), CHECK_PRIME);
        mmu.clearFault();
        st[1]++;
      } else {
        const gpa = mmu.lastGpa;
        h = Math.imul(h ^ (gpa >>> 0), CHECK_PRIME);
        if (gpa >= TWO32) h = Math.imul(h ^ Math.floor(gpa / TWO32), CHECK_PRIME);
      }
    } else {
      st[0] = k; // accesses so far in this chunk, for CHECK
      r.hash = h;
      r.g = g;
      r.event(op, i);
      g = r.g;
      h = r.hash;
    }
  }
  return h;
}

/** Opens a binary trace's header without replaying it. */
export async function traceHeader(path: string): Promise<TraceHeader> {
  const r = await TraceReader.open(path);
  await r.close();
  return r.header;
}

/**
 * Replays a binary trace in one mode. Returns the report and counts.
 * Throws TraceError (unreadable, truncated, corrupt: with the offset) or
 * DivergenceError (a CHECK record does not match).
 */
export async function replayBinary(path: string, o: MmuReplayOptions, progress?: Progress): Promise<ReplayResult> {
  const reader = await TraceReader.open(path);
  try {
    const h = reader.header;
    const state: ReadState = reader;
    const chunks = o.readerThread ?? false ? threadedChunks(path, state) : reader.chunks();
    // Start reading (the reader thread boots) while the Mmu allocates guest memory.
    const first = chunks.next();
    first.catch(() => {}); // awaited below; an early failure must not go unhandled meanwhile
    try {
      let mmu: Mmu;
      try {
        const rom = h.notes[ROM_NOTE];
        if (rom !== undefined && !Array.isArray(rom)) throw new TraceError(`${path}: the header's notes (offsets 8..${reader.headerBytes - 1}) give '${ROM_NOTE}' as ${JSON.stringify(rom)}, not a list of { gpa, bytes } ranges`);
        mmu = mmuFor(o, { guestMemory: h.guestMemory, seed: h.seed, holes: h.holes, ...(rom !== undefined ? { rom: rom as { gpa: number; bytes: number }[] } : {}), maxPhysAddr: h.maxPhysAddr, gbPages: h.gbPages, softTlbBits: h.softTlbBits });
      } catch (e) {
        // The header passed the format's checks, but describes a guest this vmmu cannot build (too much memory, say).
        if (e instanceof RangeError) throw new TraceError(`${path}: the guest in the header (offsets 8..${reader.headerBytes - 1}) cannot be built: ${e.message}`);
        throw e;
      }
      const r = new BinaryReplayer(mmu, h, path, o.verify ?? true);
      const start = performance.now();
      for (let next = await first; !next.done; next = await chunks.next()) {
        r.play(next.value);
        if (progress) progress(state.bytesRead, r.counts.records);
      }
      const seconds = (performance.now() - start) / 1000;
      log('replayed %s in %s mode: %d records, %.2fs', path, o.mode, r.counts.records, seconds);
      return { mode: o.mode, report: mmu.report(), counts: r.counts, seconds };
    } finally {
      await chunks.return(undefined); // stops the reader thread when the replay stopped early
    }
  } finally {
    await reader.close();
  }
}

// =====================================================================
// Imported text traces on the synthetic OS
// =====================================================================

const ACC_OF_KIND = [0, ACC_WRITE, ACC_FETCH];

/**
 * Runs a text trace on a synthetic OS over `mmu`: `processes` copies of
 * the trace, each in its own address space, switched round robin every
 * `quantum` accesses. Returns the import's and the fold's statistics.
 */
export async function driveImported(os: SyntheticOs, path: string, imp: ImportOptions, o: OsReplayOptions, stats: ImportStats, progress?: Progress): Promise<{ folded?: { moved: number; collisions: number }; accesses: number }> {
  const n = o.processes;
  const gens: AsyncGenerator<AccessBatch>[] = [];
  for (let p = 0; p < n; p++) {
    os.createProcess();
    gens.push(readTextTrace(path, imp, p === 0 ? stats : newImportStats()));
  }
  const folder = o.format === '32-bit' || o.format === 'pae' ? new AddressFolder() : null;
  const batch: (AccessBatch | null)[] = new Array<AccessBatch | null>(n).fill(null);
  const at = new Array<number>(n).fill(0);
  const done = new Array<boolean>(n).fill(false);
  let live = n;
  let pid = 0;
  let accesses = 0;
  os.switchTo(0);
  try {
    while (live > 0) {
      let budget = o.quantum;
      while (budget > 0) {
        let b = batch[pid];
        if (b === null || at[pid]! >= b!.n) {
          const nx = await gens[pid]!.next();
          if (nx.done) {
            done[pid] = true;
            live--;
            break;
          }
          b = batch[pid] = nx.value;
          at[pid] = 0;
        }
        const start = at[pid]!;
        const end = Math.min(b!.n, start + budget);
        const kind = b!.kind, size = b!.size, lo = b!.lo, hi = b!.hi;
        for (let i = start; i < end; i++) {
          const s = size[i]!;
          const acc = ACC_OF_KIND[kind[i]!]! | (s <= 15 ? s << ACC_SIZE_SHIFT : 0);
          if (folder !== null) os.access(folder.fold(lo[i]!, hi[i]!), 0, acc);
          else os.access(lo[i]!, hi[i]!, acc);
        }
        accesses += end - start;
        budget -= end - start;
        at[pid] = end;
        if (progress && pid === 0) progress(stats.bytes, accesses);
      }
      if (live === 0) break;
      do pid = (pid + 1) % n; while (done[pid]);
      os.switchTo(pid);
    }
  } finally {
    for (const g of gens) await g.return(undefined);
  }
  return { accesses, ...(folder !== null ? { folded: { moved: folder.moved, collisions: folder.collisions } } : {}) };
}

/** Replays a text trace in one mode on the synthetic OS. Throws ImportError for a malformed line (unless skipping). */
export async function replayImported(path: string, imp: ImportOptions, osOptions: OsReplayOptions, o: MmuReplayOptions, progress?: Progress): Promise<ReplayResult> {
  const mmu = mmuFor(o, { guestMemory: osOptions.memory, seed: osOptions.seed });
  const os = new SyntheticOs(mmu, { format: osOptions.format, pageSize: osOptions.pageSize, reclaim: osOptions.reclaim });
  const stats = newImportStats();
  const start = performance.now();
  const r = await driveImported(os, path, imp, osOptions, stats, progress);
  const seconds = (performance.now() - start) / 1000;
  return { mode: o.mode, report: mmu.report(), counts: osCounts(os, r.accesses), seconds, os: { ...os.stats }, import: stats, ...(r.folded ? { folded: r.folded } : {}) };
}

/**
 * Converts a text trace into a self-contained binary trace: runs it on the
 * synthetic OS (in shadow mode, without the cost model) under a recorder,
 * so the output carries the OS's page tables and their updates too.
 */
export async function recordImported(path: string, out: string, imp: ImportOptions, osOptions: OsReplayOptions, ro: RecorderOptions = {}, progress?: Progress): Promise<{ recorder: RecorderStats; import: ImportStats; os: OsStats; folded?: { moved: number; collisions: number } }> {
  const mmu = new Mmu({ mode: 'shadow', guestMemory: osOptions.memory, seed: osOptions.seed });
  const rec = new TraceRecorder(mmu, out, {
    ...ro, seed: osOptions.seed, source: SOURCE_IMPORTED,
    notes: { importedFrom: path, importFormat: imp.format, syntheticOs: osOptions, [KERNEL_APART]: true, ...(ro.notes ?? {}) },
  });
  rec.start();
  const stats = newImportStats();
  try {
    const os = new SyntheticOs(mmu, { format: osOptions.format, pageSize: osOptions.pageSize, reclaim: osOptions.reclaim });
    os.onSwitch = (pid) => rec.processSwitch(pid);
    const r = await driveImported(os, path, imp, osOptions, stats, progress);
    return { recorder: rec.close(), import: stats, os: { ...os.stats }, ...(r.folded ? { folded: r.folded } : {}) };
  } catch (e) {
    // No half-made trace that would replay as if it were whole.
    rec.close();
    rmSync(out, { force: true });
    throw e;
  }
}
