/**
 * A synthetic guest operating system: just enough kernel to run address
 * streams that carry only virtual addresses (imported traces, generated
 * workloads) on a real guest page-table structure.
 *
 * It owns guest-physical memory, keeps one page table per process in guest
 * memory in the chosen paging format, maps the kernel half (a direct map of
 * all RAM, global) into every process, and pages in on demand: an access
 * that page-faults gets a frame, and the kernel writes the new entries
 * through its direct map with ordinary CPU stores, so shadow mode pays for
 * them as it would under a real kernel. Optional reclaim evicts pages
 * (clearing their entries and invalidating them) when memory runs short.
 *
 * The kernel's own work is not the workload: user accesses run at CPL 3,
 * and the kernel enters CPL 0 only for its stores to page-table entries,
 * which it makes with the Mmu's cost model paused and counts in
 * `stats.kernelStores`. So the access, TLB and walk counters hold the
 * workload's accesses alone, while what those stores cause (shadow mode's
 * page-table-write exits, EPT violations) is still counted as the
 * hypervisor's cost. A recorder writes the CPL changes (PRIV records), and
 * a trace whose header notes carry KERNEL_APART is replayed the same way:
 * accesses made below CPL 3 with the cost model paused, counted apart.
 *
 * Large pages (`pageSize` '2m' or '1g'): the first touch of an address maps
 * the naturally aligned region around it (2 MiB, 4 MiB in 32-bit paging, or
 * 1 GiB) with one large page when (1) the format has that page size, (2) no
 * smaller page of the process is mapped in the region yet (a region that
 * holds a page table keeps its small pages), and (3) a naturally aligned run
 * of free guest-physical frames of that size exists. Otherwise it falls back
 * to the next smaller size, down to 4 KiB (counted in `stats.fallbacks`),
 * much like Linux's transparent huge pages. Reclaim never evicts to make
 * room for a large page.
 */
import type { Mmu } from '../mmu/index.js';
import {
  ACC_USER, ACC_WRITE, CR0_PE, CR0_PG, CR0_WP, CR4_LA57, CR4_PAE, CR4_PGE, CR4_PSE, EFER_LMA, EFER_LME, EFER_NXE,
  PFERR_P, PTE_A, PTE_D, PTE_G, PTE_P, PTE_PS, PTE_RW, PTE_US,
} from '../mmu/index.js';
import { T_FAULT, T_MMIO } from '../mmu/index.js';

import { KERNEL_APART, OS_FORMATS, type OsFormat, type OsPageSize } from './os-names.js';

export { KERNEL_APART, OS_FORMATS, type OsFormat, type OsPageSize };

export interface SyntheticOsOptions {
  /** guest paging format (default '4-level') */
  format?: OsFormat;
  /** largest page size for user memory: 4k, or 2m/1g where the region allows it (see the file comment; default 4k) */
  pageSize?: OsPageSize;
  /** evict pages when free guest memory runs out, instead of failing (default false) */
  reclaim?: boolean;
  /** mark kernel pages global (default true) */
  globalKernel?: boolean;
}

interface Shape {
  top: number;
  esz: 4 | 8;
  shift: number[];
  bits: number[];
  /** where the kernel's direct map starts (high and low 32 bits) */
  kernelHi: number;
  kernelLo: number;
  /**
   * 4-level and 5-level: the high 32 bits where the upper (kernel) half of
   * the canonical address space starts; 32-bit and PAE: 0, the kernel half
   * being everything from kernelLo up.
   */
  upperHi: number;
}

const SHAPES: Record<OsFormat, Shape> = {
  '32-bit': { top: 2, esz: 4, shift: [0, 12, 22], bits: [0, 10, 10], kernelHi: 0, kernelLo: 0xc0000000, upperHi: 0 },
  pae: { top: 3, esz: 8, shift: [0, 12, 21, 30], bits: [0, 9, 9, 2], kernelHi: 0, kernelLo: 0xc0000000, upperHi: 0 },
  '4-level': { top: 4, esz: 8, shift: [0, 12, 21, 30, 39], bits: [0, 9, 9, 9, 9], kernelHi: 0xffff8880, kernelLo: 0, upperHi: 0xffff8000 },
  '5-level': { top: 5, esz: 8, shift: [0, 12, 21, 30, 39, 48], bits: [0, 9, 9, 9, 9, 9], kernelHi: 0xff110000, kernelLo: 0, upperHi: 0xff000000 },
};

const TWO32 = 4294967296;


/** Statistics of the synthetic kernel's own work. */
export interface OsStats {
  pageFaults: number;
  pagesMapped: number;
  tablesAllocated: number;
  evictions: number;
  switches: number;
  segfaults: number;
  /** user pages mapped with a large page */
  largePages: number;
  /** first touches that wanted a large page and got a smaller one */
  fallbacks: number;
  /** the kernel's CPU stores to page-table entries (4 bytes each), made with the cost model paused: in no access, TLB or walk counter */
  kernelStores: number;
}

export class SyntheticOs {
  readonly format: OsFormat;
  readonly pageSize: OsPageSize;
  private readonly shape: Shape;
  private readonly leafLevel: number;
  private readonly reclaim: boolean;
  private readonly gflag: number;
  /**
   * Free guest frames: a bitmap that is the truth, a stack of the frames
   * freed by reclaim (taken first, last freed first), and under it every
   * RAM frame from `nextFresh` up, taken in ascending order; a frame taken
   * for a large page is skipped when its turn comes. (The same order as one
   * stack of every frame, without a list as long as guest memory.)
   */
  private readonly free: number[] = [];
  private readonly isFree: Uint8Array;
  private nextFresh = 1;
  /** mapped user pages in mapping order (FIFO for reclaim), live from `residentHead` */
  private resident: { pid: number; lo: number; hi: number; entry: number; frames: number }[] = [];
  private residentHead = 0;
  private readonly roots: number[] = [];
  private current = -1;
  /** guest-physical ranges the kernel direct map covers */
  private readonly ramTop: number;
  readonly stats: OsStats = { pageFaults: 0, pagesMapped: 0, tablesAllocated: 0, evictions: 0, switches: 0, segfaults: 0, largePages: 0, fallbacks: 0, kernelStores: 0 };
  /** called at every process switch with the new pid (a trace recorder marks it) */
  onSwitch: ((pid: number) => void) | null = null;

  /**
   * Boots the kernel on `mmu`: builds the kernel half, enables paging in the
   * chosen format. Throws RangeError for a page size the format cannot map.
   */
  constructor(private readonly mmu: Mmu, options: SyntheticOsOptions = {}) {
    this.format = options.format ?? '4-level';
    this.pageSize = options.pageSize ?? '4k';
    this.shape = SHAPES[this.format];
    this.reclaim = options.reclaim ?? false;
    this.gflag = options.globalKernel ?? true ? PTE_G : 0;
    this.leafLevel = this.pageSize === '4k' ? 1 : this.pageSize === '2m' ? 2 : 3;
    if (this.format === '32-bit' && this.pageSize === '1g') throw new RangeError('32-bit paging has no 1 GiB pages');
    if (this.format === 'pae' && this.pageSize === '1g') throw new RangeError('PAE paging has no 1 GiB pages');
    if ((this.format === '32-bit' || this.format === 'pae') && mmu.map.topBytes > 1 << 30) {
      throw new RangeError(`a ${this.format} kernel direct-maps at most 1 GiB of guest memory, not ${mmu.map.topBytes / 2 ** 20} MiB`);
    }
    this.ramTop = mmu.map.topBytes;
    this.isFree = new Uint8Array(mmu.map.gfnCount);
    this.isFree.fill(1, 1);
    for (const h of mmu.map.holes) this.isFree.fill(0, h.gpa / 4096, (h.gpa + h.bytes) / 4096);
    this.kernelRoot = this.allocTable();
    this.buildKernel();
    const cr4 = (this.format === '32-bit' ? CR4_PSE : CR4_PAE) | (this.format === '5-level' ? CR4_LA57 : 0) | (this.gflag ? CR4_PGE : 0);
    const efer = this.format === '4-level' || this.format === '5-level' ? EFER_LME | EFER_LMA | EFER_NXE : this.format === 'pae' ? EFER_NXE : 0;
    this.kernelCr4 = cr4;
    this.kernelEfer = efer;
  }

  private readonly kernelRoot: number;
  private readonly kernelCr4: number;
  private readonly kernelEfer: number;

  /** The size in bytes of one user page. */
  pageBytes(): number {
    return 2 ** this.shape.shift[this.leafLevel]!;
  }

  /** Number of processes created so far. */
  processes(): number {
    return this.roots.length;
  }

  /** Creates a process (an empty user half plus the shared kernel half); returns its pid. */
  createProcess(): number {
    const root = this.allocTable();
    const s = this.shape;
    const first = this.kernelIndex();
    const count = this.format === '32-bit' ? 1024 - first : 1;
    for (let i = first; i < first + count; i++) {
      const e = this.kernelRoot + i * s.esz;
      this.mmu.writePhys(root + i * s.esz, 4, this.mmu.readPhys(e, 4));
      if (s.esz === 8) this.mmu.writePhys(root + i * s.esz + 4, 4, this.mmu.readPhys(e + 4, 4));
    }
    this.roots.push(root);
    return this.roots.length - 1;
  }

  /** Switches to process pid (a CR3 load), enabling paging and entering CPL 3 on the first switch. */
  switchTo(pid: number): void {
    if (pid === this.current) return;
    const root = this.roots[pid];
    if (root === undefined) throw new RangeError(`no process ${pid}`);
    if (this.current < 0) {
      if (this.mmu.setPaging({ cr0: CR0_PE | CR0_PG | CR0_WP, cr4: this.kernelCr4, efer: this.kernelEfer, cr3Lo: root, cr3Hi: 0 }) !== 0) throw new Error('synthetic OS: enabling paging faulted');
      this.mmu.setPrivilege(3, false); // user mode from now on; the kernel's stores enter CPL 0
    } else if (this.mmu.writeCr3(root, 0) !== 0) {
      throw new Error('synthetic OS: CR3 load faulted');
    }
    this.current = pid;
    this.stats.switches++;
    if (this.onSwitch !== null) this.onSwitch(pid);
  }

  /**
   * The current process accesses `size` bytes at gvaHi:gvaLo in user mode
   * (acc: ACC_WRITE and/or ACC_FETCH). A page fault on an unmapped page maps
   * it and retries; a fault on a non-canonical address or any other fault
   * counts a segfault and is skipped. Returns the hpa of the first byte or -1.
   */
  access(gvaLo: number, gvaHi: number, acc: number): number {
    // The first attempt here, the rest out of line: this small body is what
    // V8 inlines into a replay loop (with the Mmu's translate hit path).
    const h = this.mmu.translate(gvaLo, gvaHi, acc | ACC_USER);
    if (h >= 0 || h === T_MMIO) return h;
    return this.retry(gvaLo, gvaHi, acc, h);
  }

  /**
   * access() of each access of a run held in typed arrays (a replay's
   * record chunk), from `i` up to `end`, in order: access k at low half
   * `addr[k]` and high half `args[g++]` when `ops[k] & hiBit` (else 0),
   * with kind `accOf[ops[k] & 0x3fff]`. Returns the operand cursor after
   * the run. The accesses that hit the software TLB go through
   * Mmu.translateRun, the others through access().
   */
  accessRun(ops: Uint16Array, addr: Int32Array, args: Int32Array, accOf: Int32Array, hiBit: number, i: number, end: number, g: number): number {
    const mmu = this.mmu;
    while (i < end) {
      i = mmu.translateRun(ops, addr, args, accOf, hiBit, ACC_USER, i, end, g);
      g = mmu.runArg;
      if (i === end) break;
      const op = ops[i]!;
      this.access(addr[i]!, op & hiBit ? args[g++]! : 0, accOf[op & 0x3fff]!);
      i++;
    }
    return g;
  }

  /** access() after its first attempt returned `h`, not an address: the fault handling and the other attempts. */
  private retry(gvaLo: number, gvaHi: number, acc: number, h: number): number {
    const mmu = this.mmu;
    for (let attempt = 0; attempt < 3; attempt++) {
      if (attempt > 0) {
        h = mmu.translate(gvaLo, gvaHi, acc | ACC_USER);
        if (h >= 0 || h === T_MMIO) return h;
      }
      if (h !== T_FAULT) return -1;
      const vector = mmu.faultVector;
      const code = mmu.fault.errorCode;
      mmu.clearFault();
      if (vector !== 14 || code & PFERR_P || this.isKernel(gvaHi, gvaLo)) {
        this.stats.segfaults++;
        return -1;
      }
      this.stats.pageFaults++;
      this.mapUser(gvaLo, gvaHi);
    }
    this.stats.segfaults++;
    return -1;
  }

  /**
   * Whether gvaHi:gvaLo lies in the kernel half, which no user page may
   * take: from the start of the canonical upper half (4-level, 5-level), or
   * from 0xc0000000 (32-bit, PAE, which address nothing above 4 GiB).
   * The halves are unsigned: gvaHi arrives as an int32.
   */
  private isKernel(hi: number, lo: number): boolean {
    const s = this.shape;
    if (s.upperHi === 0) return hi !== 0 || lo >>> 0 >= s.kernelLo;
    return hi >>> 0 >= s.upperHi;
  }

  // ---- kernel internals ----

  private kernelIndex(): number {
    return this.index(this.shape.kernelLo, this.shape.kernelHi, this.shape.top);
  }

  private index(lo: number, hi: number, level: number): number {
    const s = this.shape.shift[level]!;
    const bits = this.shape.bits[level]!;
    const v = s >= 32 ? hi >>> (s - 32) : s + bits > 32 ? (lo >>> s) | (hi << (32 - s)) : lo >>> s;
    return v & ((1 << bits) - 1);
  }

  private popFree(): number | undefined {
    const isFree = this.isFree;
    for (;;) {
      const gfn = this.free.pop();
      if (gfn === undefined) break;
      if (isFree[gfn]) {
        isFree[gfn] = 0;
        return gfn;
      }
    }
    // Holes and frames taken for large pages are not free: skipped.
    const count = isFree.length;
    let gfn = this.nextFresh;
    while (gfn < count && !isFree[gfn]) gfn++;
    this.nextFresh = gfn + 1;
    if (gfn >= count) return undefined;
    isFree[gfn] = 0;
    return gfn;
  }

  private pushFree(gfn: number): void {
    this.isFree[gfn] = 1;
    this.free.push(gfn);
  }

  private allocFrame(): number {
    let gfn = this.popFree();
    if (gfn === undefined && this.reclaim) {
      this.evictOldest();
      gfn = this.popFree();
    }
    if (gfn === undefined) throw new RangeError(`synthetic OS: guest memory (${this.ramTop / 2 ** 20} MiB) exhausted; enable reclaim or give the guest more memory`);
    return gfn;
  }

  private allocTable(): number {
    const gfn = this.allocFrame();
    this.zeroFrame(gfn);
    this.stats.tablesAllocated++;
    return gfn * 4096;
  }

  private zeroFrame(gfn: number): void {
    try {
      this.mmu.writePhysBytes(gfn * 4096, ZERO_PAGE);
    } catch (e) {
      // The frame's first touch found no host frame for it (guest memory is
      // backed as it is touched, and may be larger than the host's).
      if (e instanceof RangeError && e.message.startsWith('host memory exhausted')) {
        throw new RangeError(`synthetic OS: ${e.message}; to go on past this point, give the guest less memory than the host holds and enable reclaim, so that the OS evicts pages`);
      }
      throw e;
    }
  }

  /** The kernel half: a direct map of guest RAM with the largest pages the format has below 1 GiB, global. */
  private buildKernel(): void {
    const level = 2;
    const step = 2 ** this.shape.shift[level]!;
    for (let gpa = 0; gpa < this.ramTop; gpa += step) {
      const lo = (this.shape.kernelLo + gpa) >>> 0;
      const hi = this.shape.kernelHi + Math.floor((this.shape.kernelLo + gpa) / TWO32);
      this.writeMapping(this.kernelRoot, lo, hi, level, gpa, PTE_RW | PTE_A | PTE_D | PTE_PS | this.gflag, false, true);
    }
  }

  /** Maps the user page holding gvaHi:gvaLo in the current process: the largest size the region allows (see the file comment). */
  private mapUser(lo: number, hi: number): void {
    for (let level = this.leafLevel; level >= 1; level--) {
      const bytes = 2 ** this.shape.shift[level]!;
      const frames = bytes / 4096;
      let gpa: number;
      if (frames === 1) {
        const gfn = this.allocFrame();
        this.zeroFrame(gfn);
        gpa = gfn * 4096;
      } else {
        gpa = this.regionIsEmpty(lo, hi, level) ? this.allocContiguous(frames) : -1;
        if (gpa < 0) {
          this.stats.fallbacks++;
          continue;
        }
        this.stats.largePages++;
      }
      const base = Math.floor((lo >>> 0) / bytes) * bytes;
      this.writeMapping(this.roots[this.current]!, base >>> 0, hi, level, gpa, PTE_RW | PTE_US | (level > 1 ? PTE_PS : 0), true, false);
      this.stats.pagesMapped++;
      return;
    }
  }

  /** Whether the current process has nothing mapped in the level-`level` region holding (lo, hi): its entry there is absent. */
  private regionIsEmpty(lo: number, hi: number, level: number): boolean {
    const s = this.shape;
    let table = this.roots[this.current]!;
    for (let l = s.top; l >= level; l--) {
      const e = table + this.index(lo, hi, l) * s.esz;
      const v = this.mmu.readPhys(e, 4);
      if (!(v & PTE_P)) return true;
      if (l === level) return false;
      table = (v & 0xfffff000) >>> 0;
    }
    return true;
  }

  /** Takes `frames` naturally aligned free frames (a large page) and returns their gpa, or -1 when no such run is free. */
  private allocContiguous(frames: number): number {
    const isFree = this.isFree;
    const count = this.mmu.map.gfnCount;
    for (let base = frames; base + frames <= count; base += frames) {
      let k = 0;
      while (k < frames && isFree[base + k]) k++;
      if (k < frames) continue;
      isFree.fill(0, base, base + frames);
      return base * 4096;
    }
    return -1;
  }

  /**
   * Writes the entries mapping (lo, hi) at `level` to gpa under `root`,
   * allocating tables. User mappings are written with CPU stores through the
   * kernel direct map (the hypervisor sees them as guest writes); the kernel
   * half is built before paging is on, with physical writes.
   */
  private writeMapping(root: number, lo: number, hi: number, level: number, gpa: number, flags: number, viaCpu: boolean, kernel: boolean): void {
    const s = this.shape;
    let table = root;
    for (let l = s.top; l > level; l--) {
      const e = table + this.index(lo, hi, l) * s.esz;
      let v = this.mmu.readPhys(e, 4);
      if (!(v & PTE_P)) {
        const t = this.allocTable();
        v = this.format === 'pae' && l === 3 ? t | PTE_P : t | PTE_P | PTE_RW | PTE_A | (kernel ? 0 : PTE_US);
        this.store(e, v, 0, viaCpu);
        if (this.format === 'pae' && l === 3 && this.current >= 0) {
          // A new PDPTE takes effect at the next CR3 load (SDM 4.4.1).
          this.mmu.writeCr3(this.roots[this.current]!, 0);
        }
      }
      table = (v & 0xfffff000) >>> 0;
    }
    const e = table + this.index(lo, hi, level) * s.esz;
    let entryLo = ((gpa % TWO32) | flags | PTE_P) >>> 0;
    const entryHi = Math.floor(gpa / TWO32);
    if (this.format === '32-bit' && level === 2) entryLo = ((gpa & 0xffc00000) | ((entryHi & 0xff) << 13) | flags | PTE_P) >>> 0;
    this.store(e, entryLo, this.format === '32-bit' ? 0 : entryHi, viaCpu);
    if (!kernel) this.resident.push({ pid: this.current, lo, hi, entry: e, frames: 2 ** (this.shape.shift[level]! - 12) });
  }

  /**
   * Writes a table entry (the high half first, as a 32-bit kernel does):
   * before paging, physically; after, with CPU stores at CPL 0 through the
   * direct map, the cost model paused (the stores are the kernel's, not the
   * workload's; see the file comment) and counted in stats.kernelStores.
   */
  private store(entryGpa: number, lo: number, hi: number, viaCpu: boolean): void {
    if (!viaCpu || this.current < 0) {
      if (this.shape.esz === 8) this.mmu.writePhys(entryGpa + 4, 4, hi);
      this.mmu.writePhys(entryGpa, 4, lo);
      return;
    }
    const mmu = this.mmu;
    const cpl = mmu.cpl;
    const model = mmu.modelOn;
    mmu.setPrivilege(0, false);
    if (model) mmu.setCostModel(false);
    const k = (this.shape.kernelLo + entryGpa);
    const klo = k >>> 0;
    const khi = this.shape.kernelHi + Math.floor(k / TWO32);
    if (this.shape.esz === 8) mmu.writeAcc(klo + 4, khi, 4, hi, ACC_WRITE);
    mmu.writeAcc(klo, khi, 4, lo, ACC_WRITE);
    this.stats.kernelStores += this.shape.esz === 8 ? 2 : 1;
    if (mmu.faultVector) throw new Error(`synthetic OS: kernel store to entry at gpa 0x${entryGpa.toString(16)} faulted (error ${mmu.fault.errorCode})`);
    if (model) mmu.setCostModel(true);
    mmu.setPrivilege(cpl, false);
  }

  /**
   * Unmaps `pages` user pages from gvaHi:gvaLo in the current process (like
   * munmap): clears each present leaf entry through the kernel direct map and
   * invalidates it. Returns the number of pages unmapped.
   */
  unmap(gvaLo: number, gvaHi: number, pages: number): number {
    const bytes = this.pageBytes();
    let n = 0;
    for (let k = 0; k < pages; k++) {
      const lo = ((gvaLo >>> 0) + k * bytes) >>> 0;
      let at = -1;
      for (let i = this.residentHead; i < this.resident.length; i++) {
        const r = this.resident[i]!;
        if (r.pid === this.current && r.lo === lo && r.hi === gvaHi) { at = i; break; }
      }
      if (at < 0) continue;
      const [victim] = this.resident.splice(at, 1);
      const frameLo = this.mmu.readPhys(victim!.entry, 4);
      this.store(victim!.entry, 0, 0, true);
      this.mmu.invlpg(lo, gvaHi);
      const gfn = Math.floor(((frameLo & 0xfffff000) >>> 0) / 4096);
      for (let f = 0; f < victim!.frames; f++) this.pushFree(gfn + f);
      n++;
    }
    return n;
  }

  /** Evicts the oldest resident user page: clears its entry, invalidates it, frees its frames. */
  private evictOldest(): void {
    const victim = this.resident[this.residentHead];
    if (victim === undefined) throw new RangeError('synthetic OS: nothing left to evict');
    this.residentHead++;
    if (this.residentHead > 4096 && this.residentHead * 2 > this.resident.length) {
      this.resident = this.resident.slice(this.residentHead);
      this.residentHead = 0;
    }
    const frameLo = this.mmu.readPhys(victim.entry, 4);
    this.store(victim.entry, 0, 0, this.current >= 0);
    // Another process's entries left the TLB at the last CR3 load.
    if (victim.pid === this.current) this.mmu.invlpg(victim.lo, victim.hi);
    const gfn = Math.floor(((frameLo & 0xfffff000) >>> 0) / 4096);
    for (let k = 0; k < victim.frames; k++) this.pushFree(gfn + k);
    this.stats.evictions++;
  }
}

const ZERO_PAGE = new Uint8Array(4096);
