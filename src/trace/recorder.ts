/**
 * The trace recorder: an MmuObserver that writes, at the MMU boundary,
 * everything a replay needs to reproduce the guest's translations exactly in
 * any mode.
 *
 * What it records:
 * - every access (gva, kind, size, privilege), and every CHECK_EVERY
 *   accesses a running hash of what each access translated to (its gpa, or
 *   its fault), so that a replay can prove it saw the same translations;
 * - paging-register loads, INVLPG, INVPCID, TLB flushes, privilege changes;
 * - the guest's page tables, without recording every data write: a frame
 *   gets a page image (its 4 KiB) the first time it can be reached by a walk,
 *   and from then on is watched (WATCH_RECORD) so that every write to it,
 *   from the CPU or a device, is recorded with the value it left.
 *
 * "Can be reached" is decided eagerly, before any walk reads the frame: at
 * the start and at every paging-register change the tree under the root is
 * scanned, and a recorded write that makes a table entry point to a new
 * table scans that subtree. So images never contain accessed/dirty bits set
 * by walks that the replay will set again itself (those are not recorded),
 * and the walk probes of the cost model see the same tables as the guest.
 */
import { createLog } from '../mmu/log.js';
import type { Mmu, MmuObserver } from '../mmu/index.js';
import { ACC_SIZE_MASK, ACC_SIZE_SHIFT, WATCH_RECORD } from '../mmu/index.js';
import { PTE_PS } from '../mmu/index.js';
import { FMT_32, FMT_NONE, FMT_PAE } from '../mmu/index.js';
import {
  accessBits, FORMAT_VERSION, PAGE_BYTES, R_CHECK,
  R_CR0, R_CR3, R_CR4, R_EFER, R_FLUSH, R_INVLPG, R_INVPCID, R_PAGING, R_PKRU, R_PRIV, R_PTWRITE, R_PTWRITE8, R_SWITCH, ROM_NOTE,
  SOURCE_RECORDED, type TraceHeader,
} from './format.js';
import { fileSink, TraceWriter, type TraceSink, type WriterOptions, type WriterStats } from './writer.js';
import { CHECK_PRIME } from './checksum.js';

const log = createLog('vmmu:trace');
const TWO32 = 4294967296;

/** Writer options (DEFLATE `level`, default 1 here; `chunkRecords`) and what goes in the header. */
export interface RecorderOptions extends WriterOptions {
  /** accesses between CHECK records (default 4096; 0: no checks) */
  checkEvery?: number;
  /** the seed the Mmu was created with (default 1, the Mmu's default): a replay scatters guest RAM the same way */
  seed?: number;
  /** SOURCE_RECORDED (default) or SOURCE_IMPORTED */
  source?: number;
  /** free-form facts stored in the header (tool, command, date) */
  notes?: Record<string, unknown>;
}

/** What the recorder wrote. */
export interface RecorderStats extends WriterStats {
  ptWrites: number;
  tablesWatched: number;
}

type Reg = 'cr0' | 'cr3' | 'cr4' | 'efer' | 'pkru';
/** The order in which Mmu.setPaging reports its registers. */
const SET_PAGING_ORDER: readonly Reg[] = ['efer', 'pkru', 'cr4', 'cr3', 'cr0'];

export class TraceRecorder implements MmuObserver {
  private readonly w: TraceWriter;
  private readonly checkEvery: number;
  /** running hash and the accesses until the next CHECK */
  private hash = 0;
  private untilCheck: number;
  private accessCount = 0;
  /** the translation of the access that the last `filled` resolved, for the next `access` */
  private pendingSet = false;
  private pendingValue = 0;
  private pendingHigh = 0;
  /** per guest frame: bit L set once the frame has been seen as a table of level L; bit 7: imaged */
  private readonly levels: Uint8Array;
  /** subtrees already scanned: gfn * 64 + level * 8 + format, plus the large-page mask */
  private readonly scanned = new Set<string>();
  /** register reports held back: Mmu.setPaging reports five in a row, replayed as one PAGING record */
  private readonly held: { which: Reg; lo: number; hi: number }[] = [];
  private readonly watched: number[] = [];
  private ptWrites = 0;
  private started = false;
  private stats: RecorderStats | null = null;

  /**
   * Prepares a recorder for `mmu` writing to `out` (a path or a sink).
   * Nothing is observed until start().
   */
  constructor(private readonly mmu: Mmu, out: string | TraceSink, private readonly options: RecorderOptions = {}) {
    this.checkEvery = options.checkEvery ?? 4096;
    if (!Number.isInteger(this.checkEvery) || this.checkEvery < 0) throw new RangeError(`checkEvery ${this.checkEvery} must be a non-negative integer`);
    this.untilCheck = this.checkEvery || Infinity;
    this.levels = new Uint8Array(mmu.map.gfnCount);
    const sink = typeof out === 'string' ? fileSink(out) : out;
    // DEFLATE level 1 unless told otherwise: the recorder compresses in the
    // guest's thread, and level 1 costs a third of level 6 for files about
    // 1.2 to 2 times bigger (docs/bench.md).
    this.w = new TraceWriter(sink, this.header(), { level: 1, ...options });
  }

  private header(): TraceHeader {
    const m = this.mmu;
    return {
      version: FORMAT_VERSION, source: this.options.source ?? SOURCE_RECORDED, format: m.format, maxPhysAddr: m.maxPhysAddr,
      gbPages: m.gbPages, softTlbBits: m.softTlbBits, cpl: m.cpl, ac: m.ac !== 0, checkEvery: this.checkEvery,
      seed: this.options.seed ?? 1, guestMemory: m.map.ramBytes, holes: m.map.holes.map((h) => ({ gpa: h.gpa, bytes: h.bytes })),
      cr0: m.cr0, cr3Lo: m.cr3Lo, cr3Hi: m.cr3Hi, cr4: m.cr4, efer: m.efer, pkru: m.pkru, pdpte: m.pdptes(),
      notes: {
        recordedAt: new Date().toISOString(),
        // Read-only memory is not in the header's fields: a replay heeds this note (docs/trace-format.md).
        ...(m.map.romRanges.length > 0 ? { [ROM_NOTE]: m.map.romRanges.map((r) => ({ gpa: r.gpa, bytes: r.bytes })) } : {}),
        ...(this.options.notes ?? {}),
      },
    };
  }

  /**
   * Starts observing: images the tables reachable now, then sees every
   * access and paging event. Takes the Mmu's observer slot and its
   * onRecordWrite hook. Throws when started twice.
   */
  start(): void {
    if (this.started) throw new Error('recorder already started');
    this.started = true;
    this.scanTree();
    this.mmu.onRecordWrite = (gpa, size) => this.tableWritten(gpa, size);
    this.mmu.setObserver(this);
    log('recording started: format %d, cr3 0x%s', this.mmu.format, this.mmu.cr3Lo.toString(16));
  }

  /** Marks a process (address-space) switch in the trace; the replayer counts it. */
  processSwitch(pid: number): void {
    this.release();
    this.w.event(R_SWITCH, pid);
  }

  /**
   * Stops observing, writes the final check and the end record, closes the
   * output and drops the watches. Returns what was written. Idempotent.
   */
  close(): RecorderStats {
    if (this.stats !== null) return this.stats;
    this.release();
    if (this.started) {
      this.mmu.setObserver(null);
      this.mmu.onRecordWrite = null;
      for (const gfn of this.watched) this.mmu.setWatch(gfn, WATCH_RECORD, false);
    }
    if (this.checkEvery > 0 && this.untilCheck !== this.checkEvery) this.check();
    this.stats = { ...this.w.close(), ptWrites: this.ptWrites, tablesWatched: this.watched.length };
    log('recording closed: %o', this.stats);
    return this.stats;
  }

  // =====================================================================
  // MmuObserver (called synchronously by the Mmu)
  // =====================================================================

  access(gvaLo: number, gvaHi: number, acc: number, gpa: number): void {
    if (this.held.length !== 0) this.release();
    let v: number;
    let high = 0;
    if (this.pendingSet) {
      this.pendingSet = false;
      v = this.pendingValue;
      high = this.pendingHigh;
    } else {
      v = gpa >>> 0;
      if (gpa >= TWO32) high = Math.floor(gpa / TWO32);
    }
    // ---- the record ----
    this.w.access(accessBits(acc) | ((acc & ACC_SIZE_MASK) >>> ACC_SIZE_SHIFT), gvaLo, gvaHi);
    // ---- the running check ----
    let h = Math.imul(this.hash ^ v, CHECK_PRIME);
    if (high !== 0) h = Math.imul(h ^ high, CHECK_PRIME);
    this.hash = h;
    this.accessCount++;
    if (--this.untilCheck === 0) this.check();
  }

  filled(_gvaLo: number, _gvaHi: number, _acc: number, result: number): void {
    const m = this.mmu;
    this.pendingSet = true;
    if (result === -1) {
      this.pendingValue = (0xf0000000 | (m.fault.vector << 16) | (m.fault.errorCode & 0xffff)) >>> 0;
      this.pendingHigh = 0;
    } else {
      const gpa = m.lastGpa;
      this.pendingValue = gpa >>> 0;
      this.pendingHigh = gpa >= TWO32 ? Math.floor(gpa / TWO32) : 0;
    }
  }

  register(which: Reg, lo: number, hi: number): void {
    // Image the tables under the (maybe new) root now, before any walk reads them.
    this.scanTree();
    // Mmu.setPaging reports efer, pkru, cr4, cr3, cr0 in a row; hold them
    // until the pattern completes (one PAGING record) or breaks.
    const n = this.held.length;
    if (which === SET_PAGING_ORDER[n]) {
      this.held.push({ which, lo, hi });
      if (n + 1 === SET_PAGING_ORDER.length) {
        this.held.length = 0;
        const m = this.mmu;
        this.w.event(R_PAGING, m.cr0, m.cr3Lo, m.cr3Hi, m.cr4, m.efer, m.pkru);
      }
      return;
    }
    this.release();
    if (which === 'efer') {
      this.held.push({ which, lo, hi });
      return;
    }
    this.emitRegister(which, lo, hi);
  }

  invlpg(gvaLo: number, gvaHi: number): void {
    this.release();
    this.w.event(R_INVLPG, gvaLo, gvaHi);
  }

  invpcid(type: number, pcid: number, gvaLo: number, gvaHi: number): void {
    this.release();
    this.w.event(R_INVPCID, type, pcid, gvaLo, gvaHi);
  }

  flush(global: boolean): void {
    this.release();
    this.w.event(R_FLUSH, global ? 1 : 0);
  }

  privilege(cpl: number, ac: boolean): void {
    this.release();
    this.w.event(R_PRIV, cpl | (ac ? 0x100 : 0));
  }

  // =====================================================================
  // Internals (cold)
  // =====================================================================

  /** Emits held-back register reports one by one (the setPaging pattern broke). */
  private release(): void {
    if (this.held.length === 0) return;
    const held = this.held.splice(0);
    for (const r of held) this.emitRegister(r.which, r.lo, r.hi);
  }

  private emitRegister(which: Reg, lo: number, hi: number): void {
    const w = this.w;
    switch (which) {
      case 'cr0': w.event(R_CR0, lo); break;
      case 'cr3': w.event(R_CR3, lo, hi); break;
      case 'cr4': w.event(R_CR4, lo); break;
      case 'efer': w.event(R_EFER, lo); break;
      case 'pkru': w.event(R_PKRU, lo); break;
    }
  }

  private check(): void {
    this.w.event(R_CHECK, this.hash, this.accessCount % TWO32, Math.floor(this.accessCount / TWO32));
    this.untilCheck = this.checkEvery;
  }

  /** Images and watches every table reachable from the current root (skipping subtrees already known). */
  private scanTree(): void {
    const m = this.mmu;
    if (m.format === FMT_NONE) return;
    if (m.format === FMT_PAE) {
      // The PDPT: its entries are loaded into registers at CR3 loads, so a
      // replay needs the frame; walks use the registers.
      this.imageFrame(Math.floor(m.rootGpa / PAGE_BYTES), 3);
      const pdpte = m.pdptes();
      for (let i = 0; i < 4; i++) {
        const lo = pdpte[i * 2]!, hi = pdpte[i * 2 + 1]!;
        if (lo & 1) this.scan((hi & m.gctx.addrHiMask) * TWO32 + ((lo & 0xfffff000) >>> 0), 2);
      }
      return;
    }
    this.scan(m.rootGpa, m.gctx.fmt.top);
  }

  /** Scans the subtree of the table at `tableGpa` of level `level` (iteratively, depth first). */
  private scan(tableGpa: number, level: number): void {
    const m = this.mmu;
    const ctx = m.gctx;
    const fmtKey = `${m.format}:${ctx.largeMask}`;
    const eight = m.format !== FMT_32;
    const stack: number[] = [tableGpa, level];
    while (stack.length > 0) {
      const l = stack.pop()!;
      const gpa = stack.pop()!;
      const gfn = Math.floor(gpa / PAGE_BYTES);
      if (gfn >= this.levels.length || m.map.hfnOf[gfn]! < 0) continue; // not RAM: walks read all ones there
      const key = `${gfn}:${l}:${fmtKey}`;
      if (this.scanned.has(key)) continue;
      this.scanned.add(key);
      this.imageFrame(gfn, l);
      if (l < 2) continue;
      const bytes = m.readPhysBytes(gfn * PAGE_BYTES, PAGE_BYTES);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const n = eight ? 512 : 1024;
      for (let i = 0; i < n; i++) {
        const child = this.childOf(dv, i * (eight ? 8 : 4), l);
        if (child >= 0) stack.push(child, l - 1);
      }
    }
  }

  /** The table an entry of level `level` points to, or -1 (not present, or a page). */
  private childOf(dv: DataView, at: number, level: number): number {
    const m = this.mmu;
    const ctx = m.gctx;
    const lo = dv.getInt32(at, true);
    if (!(lo & 1)) return -1;
    if ((ctx.largeMask >>> level) & 1 && lo & PTE_PS) return -1;
    if (m.format === FMT_32) return (lo & 0xfffff000) >>> 0;
    const hi = dv.getInt32(at + 4, true);
    return (hi & ctx.addrHiMask) * TWO32 + ((lo & 0xfffff000) >>> 0);
  }

  /** Emits the frame's image the first time, and watches it. */
  private imageFrame(gfn: number, level: number): void {
    const m = this.mmu;
    if (gfn >= this.levels.length || m.map.hfnOf[gfn]! < 0) return;
    const had = this.levels[gfn]!;
    this.levels[gfn] = had | (1 << level) | 0x80;
    if (had & 0x80) return;
    this.w.page(gfn, m.readPhysBytes(gfn * PAGE_BYTES, PAGE_BYTES));
    m.setWatch(gfn, WATCH_RECORD, true);
    this.watched.push(gfn);
  }

  /** onRecordWrite: a watched frame was written; record the value it now holds, and scan any new subtree. */
  private tableWritten(gpa: number, size: number): void {
    this.release();
    const m = this.mmu;
    if (size === 8) {
      // one 8-byte write (Mmu.write64): one record, replayed as one write (writePhys64)
      this.w.event(R_PTWRITE8, gpa % TWO32, Math.floor(gpa / TWO32), m.readPhys(gpa, 4), m.readPhys(gpa + 4, 4));
    } else {
      this.w.event(R_PTWRITE, gpa % TWO32, Math.floor(gpa / TWO32), size, m.readPhys(gpa, size as 1 | 2 | 4));
    }
    this.ptWrites++;
    const gfn = Math.floor(gpa / PAGE_BYTES);
    const lv = this.levels[gfn]! & 0x7c; // levels 2..6
    if (lv === 0 || m.format === FMT_NONE) return;
    const esz = m.format === FMT_32 ? 4 : 8;
    const first = gpa - (gpa % esz);
    const bytes = m.readPhysBytes(gfn * PAGE_BYTES, PAGE_BYTES);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let e = first; e < gpa + size; e += esz) {
      for (let l = 2; l <= 6; l++) {
        if (!(lv & (1 << l))) continue;
        const child = this.childOf(dv, e % PAGE_BYTES, l);
        if (child >= 0) this.scan(child, l - 1);
      }
    }
  }
}
