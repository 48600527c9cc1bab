/**
 * The MMU: guest paging registers, the shared software TLB, guest memory
 * access by virtual and physical address, and one pluggable translation mode
 * (naive, shadow or slat) behind them.
 *
 * The guest sees exactly the same thing in every mode: the same data, the
 * same page faults (error code and CR2), the same accessed/dirty bits in its
 * page tables. Modes differ only in how they fill the software TLB and in
 * what they count.
 *
 * Hot path (read*, write*, fetch*): one index, one compare, one add on a
 * software-TLB hit; no allocation, closure, exception or BigInt. A fault sets
 * `faultVector` (14 for #PF, 13 for #GP) and the preallocated `fault` record,
 * and the access returns 0; the caller checks `faultVector` before it commits
 * anything, and clears it with `clearFault()` when it has delivered the fault.
 */
import { createLog } from './log.js';
import { countersToObject, C_FILL, C_GUEST_AD, C_GUEST_PF, newCounters, type CounterName } from './counters.js';
import { DEFAULT_COST_PROFILE, SKYLAKE_TLB, type CostProfile, type TlbGeometry } from './defaults.js';
import { HostMemory, PAGE_SIZE, FRAME_OWNER_NAMES, HOST_MEMORY_MAX } from './host/memory.js';
import { Arena, type ArenaProvider } from './host/arena.js';
import { GUEST_MEMORY_MAX, GuestMemoryMap, OPEN_BUS, type MmioHandler, type PhysicalHole } from './host/memory-map.js';
import {
  ACC_AC, ACC_FETCH, ACC_RMW_R, ACC_RMW_W, ACC_SIZE_MASK, ACC_SIZE_SHIFT, ACC_USER, ACC_WRITE, CR0_CD, CR0_NW, CR0_PG, CR0_WP, CR4_LA57, CR4_PAE, CR4_PCIDE, CR4_PGE, CR4_PKE,
  CR4_PSE, CR4_SMAP, CR4_SMEP, EFER_LMA, EFER_LME, EFER_NXE,
} from './paging/bits.js';
import { FMT_L4, FMT_L5, FMT_PAE, FORMAT_NAMES, guestFormatOf, type FormatId, type WalkContext } from './paging/format.js';
import { PagingState } from './paging/state.js';
import { Walker } from './paging/walker.js';
import { CTX_SUP, CTX_SUP_AC, CTX_USER, KIND_R, KIND_W, KIND_X, SLOT_GLOBAL, SoftTlb, W_TAGS } from './tlb/soft.js';
import { FILL_FAULT, FILL_MMIO, PG_ALL, PG_CONTROLS, PG_GLOBAL, PG_PKRU, REPEATS_IN_A_ROW, REPEATS_NONE, Translation, type Mode, type ModeName, MODE_NAMES } from './modes/mode.js';
import { NaiveMode } from './modes/naive.js';
import { ShadowMode, type ShadowOptions } from './modes/shadow.js';
import { SlatMode, type SlatOptions } from './modes/slat.js';
import { cyclesOf, type CycleBreakdown } from './cost.js';
import { WATCH_CODE, WATCH_RECORD, WATCH_ROM, WATCH_SHADOW } from './watch.js';

const log = createLog('vmmu:mmu');

export const VEC_GP = 13;
export const VEC_PF = 14;

/** translate() results below zero */
export const T_FAULT = FILL_FAULT;
export const T_MMIO = FILL_MMIO;

export { WATCH_CODE, WATCH_RECORD, WATCH_ROM, WATCH_SHADOW } from './watch.js';

/** The access-size bits of `acc` (defined with the other ACC_* bits in paging/bits.ts). */
export { ACC_SIZE_SHIFT, ACC_SIZE_MASK };
const SIZE_1 = 1 << ACC_SIZE_SHIFT;
const SIZE_2 = 2 << ACC_SIZE_SHIFT;
const SIZE_4 = 4 << ACC_SIZE_SHIFT;
const SIZE_8 = 8 << ACC_SIZE_SHIFT;

/**
 * Sees what the guest does at the MMU boundary, in order: a trace recorder.
 * Called synchronously; must not call back into the Mmu's access methods.
 */
export interface MmuObserver {
  /**
   * An access (after it was translated or faulted): ACC_* bits, size in
   * ACC_SIZE bits (0 when unknown), and the guest-physical address it
   * reached (-1 when it faulted).
   */
  access(gvaLo: number, gvaHi: number, acc: number, gpa: number): void;
  /** A software-TLB miss was resolved: `result` is an hpa (>= 0), T_FAULT or T_MMIO. */
  filled(gvaLo: number, gvaHi: number, acc: number, result: number): void;
  /** A paging register was loaded (after the Mmu applied it); `hi` is the high half for CR3. */
  register(which: 'cr0' | 'cr3' | 'cr4' | 'efer' | 'pkru', lo: number, hi: number): void;
  invlpg(gvaLo: number, gvaHi: number): void;
  invpcid(type: number, pcid: number, gvaLo: number, gvaHi: number): void;
  flush(global: boolean): void;
  privilege(cpl: number, ac: boolean): void;
}

/** The fault a failed access raised. Preallocated; read it when `faultVector` is nonzero. */
export class Fault {
  /** 14 (#PF) or 13 (#GP: non-canonical address, bad PDPTE) */
  vector = 0;
  /** the page-fault error code (PFERR_* bits), 0 for #GP(0) */
  errorCode = 0;
  /** the faulting linear address (CR2 for #PF): low and high 32 bits */
  addrLo = 0;
  addrHi = 0;
}

/** Options of an Mmu. Every field has a default. */
export interface MmuOptions {
  /** translation mode (default 'shadow') */
  mode?: ModeName;
  /** guest-physical memory size in bytes, RAM minus holes (default 64 MiB) */
  guestMemory?: number;
  /** guest-physical ranges that are not RAM (device memory); accesses go to `mmio` */
  holes?: readonly PhysicalHole[];
  /**
   * guest-physical ranges of read-only memory (a PC's BIOS area): read and
   * fetched like RAM, every write (the guest's or a device's) goes to `mmio`
   * and leaves the bytes as they are; their content comes from loadRom.
   * Not counted in guestMemory, like holes.
   */
  rom?: readonly PhysicalHole[];
  /** host memory size in bytes (default: enough for RAM plus any mode's tables) */
  hostMemory?: number;
  /** seed of the host-frame scatter (default 1) */
  seed?: number;
  /** the guest's MAXPHYADDR, 32..52 (default 36, a P6-class CPU with PAE) */
  maxPhysAddr?: number;
  /** 1 GiB pages supported (default true) */
  gbPages?: boolean;
  /** log2 of the software TLB's slot count (default 13: 8192 slots) */
  softTlbBits?: number;
  /** play every access through the modeled hardware and count it (default false) */
  measure?: boolean;
  /** modeled TLB geometry (default Skylake, see docs/costs.md) */
  tlb?: TlbGeometry;
  /** cycle costs; missing fields take the defaults */
  costProfile?: Partial<CostProfile>;
  /** tag modeled TLB entries with a VPID so VM exits do not flush them (default true) */
  vpid?: boolean;
  shadow?: ShadowOptions;
  slat?: SlatOptions;
  /** device memory handler (default: open bus, reads all ones) */
  mmio?: MmioHandler;
  /**
   * Where host memory and the software TLB's tag and host-address arrays
   * go (host/arena.ts): the wasm CPU engine gives a region of its
   * WebAssembly memory. Default (and when the provider returns null):
   * buffers of the Mmu's own.
   */
  arena?: ArenaProvider;
}

/** The state of the guest's paging registers (what setPaging takes and paging() returns). */
export interface PagingRegisters {
  cr0: number;
  cr3Lo: number;
  cr3Hi: number;
  cr4: number;
  efer: number;
  pkru: number;
}

/** What report() returns. */
export interface MmuReport {
  mode: ModeName;
  format: string;
  counters: Record<CounterName, number>;
  gauges: Record<string, number>;
  cycles: CycleBreakdown;
  costProfile: CostProfile;
  tlb: TlbGeometry;
}

const TWO_32 = 4294967296;

/** Validates and completes the options (throws RangeError/TypeError naming the bad field). */
/** The option names an Mmu takes (an unknown one is a misspelling, not a default). */
const OPTION_NAMES: readonly (keyof MmuOptions)[] = [
  'mode', 'guestMemory', 'holes', 'rom', 'hostMemory', 'seed', 'maxPhysAddr', 'gbPages', 'softTlbBits', 'measure', 'tlb',
  'costProfile', 'vpid', 'shadow', 'slat', 'mmio', 'arena',
];

/** A whole number of bytes that is a positive multiple of 4 KiB, or a RangeError naming the option. */
function pageMultiple(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v % PAGE_SIZE !== 0) {
    throw new RangeError(`${name} ${typeof v === 'number' ? v : JSON.stringify(v)} is not a positive whole multiple of 4096 bytes`);
  }
  return v;
}

function resolveOptions(o: MmuOptions): Required<Omit<MmuOptions, 'hostMemory' | 'costProfile' | 'arena'>> & { hostMemory: number; costProfile: CostProfile; arena: ArenaProvider | null } {
  if (o === null || typeof o !== 'object') throw new TypeError(`Mmu options must be an object, got ${o === null ? 'null' : typeof o}`);
  for (const k of Object.keys(o)) {
    if (!(OPTION_NAMES as readonly string[]).includes(k)) throw new TypeError(`unknown Mmu option '${k}' (the options are ${OPTION_NAMES.join(', ')})`);
  }
  const mode = o.mode ?? 'shadow';
  if (!MODE_NAMES.includes(mode)) throw new RangeError(`mode '${String(mode)}' is not one of ${MODE_NAMES.join(', ')}`);
  const guestMemory = pageMultiple('guestMemory', o.guestMemory ?? 64 * 1024 * 1024);
  if (o.hostMemory !== undefined) pageMultiple('hostMemory', o.hostMemory);
  if (o.seed !== undefined && (typeof o.seed !== 'number' || !Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff)) {
    throw new RangeError(`seed ${typeof o.seed === 'number' ? o.seed : JSON.stringify(o.seed)} is not a whole number in 0..2^32-1`);
  }
  const holes = o.holes ?? [];
  if (!Array.isArray(holes)) throw new TypeError('holes must be an array of { gpa, bytes }');
  const rom = o.rom ?? [];
  if (!Array.isArray(rom)) throw new TypeError('rom must be an array of { gpa, bytes }');
  const ranges = [...holes.map((r, i) => ({ r, name: `holes[${i}]` })), ...rom.map((r, i) => ({ r, name: `rom[${i}]` }))];
  ranges.sort((a, b) => a.r.gpa - b.r.gpa);
  for (let i = 0; i < ranges.length; i++) {
    const { r: h, name } = ranges[i]!;
    if (!Number.isInteger(h.gpa) || h.gpa < 0 || h.gpa % PAGE_SIZE !== 0) throw new RangeError(`${name}.gpa ${h.gpa} is not a page-aligned address`);
    pageMultiple(`${name}.bytes`, h.bytes);
    const prev = ranges[i - 1];
    if (prev !== undefined && prev.r.gpa + prev.r.bytes > h.gpa) {
      throw new RangeError(`${prev.name} and ${name} overlap: 0x${prev.r.gpa.toString(16)}+0x${prev.r.bytes.toString(16)} and 0x${h.gpa.toString(16)}+0x${h.bytes.toString(16)}`);
    }
  }
  let top = guestMemory;
  for (const { r: h } of ranges) top = Math.max(top, h.gpa + h.bytes);
  const holeBytes = ranges.reduce((s, { r: h }) => s + h.bytes, 0);
  if (top < guestMemory + holeBytes) top = guestMemory + holeBytes;
  const maxPhysAddr = o.maxPhysAddr ?? 36;
  if (!Number.isInteger(maxPhysAddr) || maxPhysAddr < 32 || maxPhysAddr > 52) throw new RangeError(`maxPhysAddr ${maxPhysAddr} is outside 32..52`);
  if (top > 2 ** maxPhysAddr) throw new RangeError(`guest memory top 0x${top.toString(16)} exceeds MAXPHYADDR ${maxPhysAddr}`);
  if (top > GUEST_MEMORY_MAX) throw new RangeError(`guest memory top 0x${top.toString(16)} exceeds vmmu's limit of ${GUEST_MEMORY_MAX / 2 ** 30} GiB of guest-physical memory`);
  const frames = Math.ceil(top / PAGE_SIZE);
  // Table space: the largest of the modes' needs (host table ~frames/512, EPT ~frames/512,
  // shadow budget), plus slack for roots and metadata-free headroom.
  const shadowMax = o.shadow?.maxPages ?? defaultShadowPages(frames);
  const tables = Math.max(shadowMax + 64, Math.ceil(frames / 512) * 2 + 64);
  const hostMemory = o.hostMemory ?? Math.min(HOST_MEMORY_MAX, (frames + tables + 16) * PAGE_SIZE);
  if (o.arena !== undefined && typeof o.arena !== 'function') throw new TypeError('arena must be a function (bytes) => { buffer, base }');
  const costProfile = { ...DEFAULT_COST_PROFILE, ...(o.costProfile ?? {}) };
  for (const [k, v] of Object.entries(costProfile)) {
    if (k !== 'name' && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) throw new TypeError(`cost profile field '${k}' must be a non-negative number, got ${JSON.stringify(v)}`);
  }
  return {
    mode, guestMemory, holes, rom, hostMemory, seed: o.seed ?? 1, maxPhysAddr, gbPages: o.gbPages ?? true,
    softTlbBits: o.softTlbBits ?? 13, measure: o.measure ?? false, tlb: o.tlb ?? SKYLAKE_TLB, costProfile,
    vpid: o.vpid ?? true, shadow: { ...o.shadow, maxPages: shadowMax }, slat: o.slat ?? {}, mmio: o.mmio ?? OPEN_BUS,
    arena: o.arena ?? null,
  };
}

/** KVM's default: 20 shadow pages per 1000 guest frames, at least 64 (here at least 256). */
export function defaultShadowPages(guestFrames: number): number {
  return Math.max(256, Math.ceil((guestFrames * 20) / 1000));
}

export class Mmu {
  // ---- fast-path state (kept first, initialised in a fixed order) ----
  /** tags of the current privilege context: equal to the vpn when that access hits */
  tagR: Float64Array;
  tagW: Float64Array;
  tagX: Float64Array;
  /** int32 tags of the current context, for linear addresses below 4 GiB (the *32 accessors) */
  tagR32: Int32Array;
  tagW32: Int32Array;
  tagX32: Int32Array;
  readonly tlbHpa: Int32Array;
  readonly tlbMask: number;
  readonly i32: Int32Array;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly dv: DataView;
  /** every access takes the observation path (cost model and/or observer) */
  measure: boolean;
  /** the cost model is on (the `measure` option) */
  modelOn: boolean;
  observer: MmuObserver | null = null;
  /** nonzero after a faulting access: the vector; details in `fault` */
  faultVector = 0;
  readonly fault = new Fault();

  // ---- guest paging state ----
  /** every paging register, the format, PDPTEs and PCID: one object (paging/state.ts) */
  readonly state: PagingState;
  cpl = 0;
  ac = 0;

  /** Read-only views of the paging state, for library users (cold: modes and the Mmu use `state`). */
  get cr0(): number { return this.state.cr0; }
  get cr3Lo(): number { return this.state.cr3Lo; }
  get cr3Hi(): number { return this.state.cr3Hi; }
  get cr4(): number { return this.state.cr4; }
  get efer(): number { return this.state.efer; }
  get pkru(): number { return this.state.pkru; }
  get format(): FormatId { return this.state.format; }
  get pcid(): number { return this.state.pcid; }
  get rootGpa(): number { return this.state.rootGpa; }
  get gctx(): WalkContext { return this.state.gctx; }

  // ---- last translation (set by every successful translate/fill) ----
  /** the record modes answer a software-TLB miss with (preallocated, see Mode.fill) */
  readonly tr = new Translation();
  lastGpa = 0;
  lastShift = 12;
  lastGlobal = 0;

  // ---- the machine ----
  readonly host: HostMemory;
  readonly map: GuestMemoryMap;
  readonly soft: SoftTlb;
  readonly walker: Walker;
  readonly counters: Float64Array;
  /** per guest frame: WATCH_* bits of whoever wants to see writes to it */
  readonly watch: Uint8Array;
  /** called after a write to a frame with WATCH_CODE / WATCH_RECORD (set by the CPU or a recorder) */
  onCodeWrite: ((gpa: number, size: number) => void) | null = null;
  /**
   * called after the software TLB's slot of gvaHi:gvaLo is (re)filled (set
   * by the CPU): a translation the CPU keeps of its own (its fetch cache)
   * must not outlive the slot it came from, or the guest would see one
   * translation of a page for data and another for code (a write that
   * misses a read-only slot refills it from the current entry).
   */
  onFill: ((gvaLo: number, gvaHi: number) => void) | null = null;
  onRecordWrite: ((gpa: number, size: number) => void) | null = null;
  readonly maxPhysAddr: number;
  readonly gbPages: boolean;
  readonly tlbGeometry: TlbGeometry;
  readonly profile: CostProfile;
  readonly vpid: boolean;
  readonly shadowOptions: ShadowOptions;
  readonly slatOptions: SlatOptions;
  mmio: MmioHandler;
  mode: Mode;

  /**
   * Creates guest memory (scattered over host frames), an idle paging state
   * (paging off, CPL 0) and the chosen mode. Throws RangeError/TypeError
   * naming the option that is out of range.
   */
  constructor(options: MmuOptions = {}) {
    const o = resolveOptions(options);
    let arena: Arena | undefined;
    if (o.arena !== null) {
      // host memory is page-aligned in the region: a page of slack for that
      const bytes = o.hostMemory + PAGE_SIZE + SoftTlb.arenaBytes(o.softTlbBits);
      const r = o.arena(bytes);
      if (r !== null) arena = new Arena(r.buffer, r.base, bytes);
    }
    this.host = new HostMemory(o.hostMemory, arena);
    const ranges = [...o.holes, ...o.rom];
    const top = Math.max(o.guestMemory + ranges.reduce((s, h) => s + h.bytes, 0), ...ranges.map((h) => h.gpa + h.bytes));
    this.map = new GuestMemoryMap(this.host, Math.ceil(top / PAGE_SIZE) * PAGE_SIZE, o.holes, o.seed, o.rom);
    this.soft = new SoftTlb(o.softTlbBits, arena);
    this.tagR = this.soft.tags[KIND_R]!;
    this.tagW = this.soft.tags[KIND_W]!;
    this.tagX = this.soft.tags[KIND_X]!;
    this.tagR32 = this.soft.tags32[KIND_R]!;
    this.tagW32 = this.soft.tags32[KIND_W]!;
    this.tagX32 = this.soft.tags32[KIND_X]!;
    this.tlbHpa = this.soft.hpa;
    this.tlbMask = this.soft.mask;
    this.i32 = this.host.i32;
    this.u8 = this.host.u8;
    this.u16 = this.host.u16;
    this.dv = this.host.view;
    this.measure = o.measure;
    this.modelOn = o.measure;
    this.walker = new Walker(this.host);
    this.counters = newCounters();
    this.walker.counters = this.counters;
    this.walker.adCounter = C_GUEST_AD;
    this.walker.romFrames = this.map.rom;
    this.watch = new Uint8Array(this.map.gfnCount);
    for (const r of o.rom) this.watch.fill(WATCH_ROM, r.gpa / PAGE_SIZE, (r.gpa + r.bytes) / PAGE_SIZE);
    this.maxPhysAddr = o.maxPhysAddr;
    this.gbPages = o.gbPages;
    this.tlbGeometry = o.tlb;
    this.profile = o.costProfile;
    this.vpid = o.vpid;
    this.shadowOptions = o.shadow;
    this.slatOptions = o.slat;
    this.mmio = o.mmio;
    this.state = new PagingState(o.maxPhysAddr, o.gbPages);
    this.soft.setPermissions(this.state.gctx);
    this.mode = this.createMode(o.mode);
    this.mode.onPagingChange(PG_ALL);
    log('created %s mode, %d MiB guest, %d MiB host', o.mode, this.map.ramBytes / 2 ** 20, this.host.bytes / 2 ** 20);
  }

  private createMode(name: ModeName): Mode {
    switch (name) {
      case 'naive': return new NaiveMode(this);
      case 'shadow': return new ShadowMode(this, this.shadowOptions);
      case 'slat': return new SlatMode(this, this.slatOptions);
    }
  }

  // =====================================================================
  // Hot path: accesses by guest-virtual address in the current context
  // =====================================================================

  /** Reads a byte at gvaHi:gvaLo (data read, current privilege). Returns 0 on a fault. */
  read8(lo: number, hi: number): number {
    const i = (lo >>> 12) & this.tlbMask;
    if (this.tagR[i] === (hi >>> 0) * 1048576 + (lo >>> 12)) {
      if (this.measure) this.observe(i, lo, hi, this.ctxAcc | SIZE_1);
      return this.u8[this.tlbHpa[i]! + (lo & 0xfff)]!;
    }
    return this.readSlow(lo, hi, 1, this.ctxAcc);
  }

  /** Reads a 16-bit little-endian value (zero-extended). Returns 0 on a fault. */
  read16(lo: number, hi: number): number {
    const i = (lo >>> 12) & this.tlbMask;
    if (this.tagR[i] === (hi >>> 0) * 1048576 + (lo >>> 12) && (lo & 0xfff) <= 0xffe) {
      if (this.measure) this.observe(i, lo, hi, this.ctxAcc | SIZE_2);
      const hpa = this.tlbHpa[i]! + (lo & 0xfff);
      return hpa & 1 ? this.dv.getUint16(hpa, true) : this.u16[hpa >>> 1]!;
    }
    return this.readSlow(lo, hi, 2, this.ctxAcc);
  }

  /** Reads a 32-bit little-endian value as a signed int32. Returns 0 on a fault. */
  read32(lo: number, hi: number): number {
    const i = (lo >>> 12) & this.tlbMask;
    if (this.tagR[i] === (hi >>> 0) * 1048576 + (lo >>> 12) && (lo & 0xfff) <= 0xffc) {
      if (this.measure) this.observe(i, lo, hi, this.ctxAcc | SIZE_4);
      const hpa = this.tlbHpa[i]! + (lo & 0xfff);
      return hpa & 3 ? this.dv.getInt32(hpa, true) : this.i32[hpa >>> 2]!;
    }
    return this.readSlow(lo, hi, 4, this.ctxAcc) | 0;
  }

  /** Writes a byte. On a fault nothing is written. */
  write8(lo: number, hi: number, value: number): void {
    const i = (lo >>> 12) & this.tlbMask;
    if (this.tagW[i] === (hi >>> 0) * 1048576 + (lo >>> 12)) {
      if (this.measure) this.observe(i, lo, hi, this.ctxAcc | ACC_WRITE | SIZE_1);
      this.u8[this.tlbHpa[i]! + (lo & 0xfff)] = value;
      return;
    }
    this.writeSlow(lo, hi, 1, value, this.ctxAcc | ACC_WRITE);
  }

  /** Writes a 16-bit little-endian value. On a fault nothing is written. */
  write16(lo: number, hi: number, value: number): void {
    const i = (lo >>> 12) & this.tlbMask;
    if (this.tagW[i] === (hi >>> 0) * 1048576 + (lo >>> 12) && (lo & 0xfff) <= 0xffe) {
      if (this.measure) this.observe(i, lo, hi, this.ctxAcc | ACC_WRITE | SIZE_2);
      const hpa = this.tlbHpa[i]! + (lo & 0xfff);
      if (hpa & 1) this.dv.setUint16(hpa, value, true);
      else this.u16[hpa >>> 1] = value;
      return;
    }
    this.writeSlow(lo, hi, 2, value, this.ctxAcc | ACC_WRITE);
  }

  /** Writes a 32-bit little-endian value. On a fault nothing is written. */
  write32(lo: number, hi: number, value: number): void {
    const i = (lo >>> 12) & this.tlbMask;
    if (this.tagW[i] === (hi >>> 0) * 1048576 + (lo >>> 12) && (lo & 0xfff) <= 0xffc) {
      if (this.measure) this.observe(i, lo, hi, this.ctxAcc | ACC_WRITE | SIZE_4);
      const hpa = this.tlbHpa[i]! + (lo & 0xfff);
      if (hpa & 3) this.dv.setInt32(hpa, value, true);
      else this.i32[hpa >>> 2] = value;
      return;
    }
    this.writeSlow(lo, hi, 4, value, this.ctxAcc | ACC_WRITE);
  }

  /** The high dword of the last read64 or readAcc64 (int32). */
  readHi = 0;

  /**
   * Reads 64 bits: returns the low dword (int32) and leaves the high one in
   * `readHi`. Within a page, one access of 8 bytes (one translation, one
   * observed read, as a processor's 64-bit load); across a page, two reads
   * of 4 bytes, the first page's first. Returns 0 on a fault.
   */
  read64(lo: number, hi: number): number {
    const i = (lo >>> 12) & this.tlbMask;
    if (this.tagR[i] === (hi >>> 0) * 1048576 + (lo >>> 12) && (lo & 0xfff) <= 0xff8) {
      if (this.measure) this.observe(i, lo, hi, this.ctxAcc | SIZE_8);
      const hpa = this.tlbHpa[i]! + (lo & 0xfff);
      if (hpa & 3) {
        this.readHi = this.dv.getInt32(hpa + 4, true);
        return this.dv.getInt32(hpa, true);
      }
      this.readHi = this.i32[(hpa >>> 2) + 1]!;
      return this.i32[hpa >>> 2]!;
    }
    return this.readSlow64(lo, hi, this.ctxAcc);
  }

  /**
   * read64 with access kind `acc` (readAcc's rules: ACC_RMW_R makes it a
   * read-modify-write's read, translated as a write). Across a page, the
   * high dword is checked with `accHi` (a read-modify-write checks it as a
   * write only where it reaches a page the low dword's check did not cover).
   */
  readAcc64(lo: number, hi: number, acc: number, accHi: number): number {
    const a = acc & ACC_RMW_R ? acc | ACC_WRITE : acc & ~ACC_WRITE;
    if ((lo & 0xfff) <= 0xff8) return this.readSlow64(lo, hi, a);
    const v = this.readAcc(lo, hi, 4, acc);
    if (this.faultVector !== 0) return 0;
    this.readHi = this.readAcc((lo + 4) | 0, (lo >>> 0) > 0xfffffffb ? (hi + 1) | 0 : hi, 4, accHi);
    return this.faultVector !== 0 ? 0 : v;
  }

  private readSlow64(lo: number, hi: number, acc: number): number {
    acc &= ~ACC_SIZE_MASK;
    this.readHi = 0;
    if ((lo & 0xfff) > 0xff8) {
      const v = this.readSlow(lo, hi, 4, acc) | 0;
      if (this.faultVector !== 0) return 0;
      this.readHi = this.readSlow((lo + 4) | 0, (lo >>> 0) > 0xfffffffb ? (hi + 1) | 0 : hi, 4, acc) | 0;
      return this.faultVector !== 0 ? 0 : v;
    }
    const h = this.translate(lo, hi, acc | SIZE_8);
    if (h >= 0) {
      this.readHi = this.dv.getInt32(h + 4, true);
      return this.dv.getInt32(h, true);
    }
    if (h === T_MMIO) {
      const g = this.lastGpa;
      const v = this.mmio.read(g, 4) | 0;
      this.readHi = this.mmio.read(g + 4, 4) | 0;
      return v;
    }
    return 0;
  }

  /**
   * Writes 64 bits, `valueLo` then `valueHi` (little-endian), as one access
   * when they lie in one page: one translation, one exit where a mode takes
   * one (a 64-bit store to a write-protected guest table is one trapped
   * write, as a processor makes it), one notification of a watcher with
   * size 8. Across a page, two accesses as writeSlow makes them (both pages
   * translated before a byte is stored). Nothing is written on a fault.
   */
  write64(lo: number, hi: number, valueLo: number, valueHi: number): void {
    const i = (lo >>> 12) & this.tlbMask;
    if (this.tagW[i] === (hi >>> 0) * 1048576 + (lo >>> 12) && (lo & 0xfff) <= 0xff8) {
      if (this.measure) this.observe(i, lo, hi, this.ctxAcc | ACC_WRITE | SIZE_8);
      const hpa = this.tlbHpa[i]! + (lo & 0xfff);
      if (hpa & 3) {
        this.dv.setInt32(hpa, valueLo, true);
        this.dv.setInt32(hpa + 4, valueHi, true);
      } else {
        this.i32[hpa >>> 2] = valueLo;
        this.i32[(hpa >>> 2) + 1] = valueHi;
      }
      return;
    }
    this.writeSlow64(lo, hi, valueLo, valueHi, this.ctxAcc | ACC_WRITE);
  }

  /** Fetches an instruction byte. Returns 0 on a fault. */
  fetch8(lo: number, hi: number): number {
    const i = (lo >>> 12) & this.tlbMask;
    if (this.tagX[i] === (hi >>> 0) * 1048576 + (lo >>> 12)) {
      if (this.measure) this.observe(i, lo, hi, this.ctxAcc | ACC_FETCH | SIZE_1);
      return this.u8[this.tlbHpa[i]! + (lo & 0xfff)]!;
    }
    return this.readSlow(lo, hi, 1, this.ctxAcc | ACC_FETCH);
  }

  /** Fetches 32 bits of instruction stream (signed int32). Returns 0 on a fault. */
  fetch32(lo: number, hi: number): number {
    const i = (lo >>> 12) & this.tlbMask;
    if (this.tagX[i] === (hi >>> 0) * 1048576 + (lo >>> 12) && (lo & 0xfff) <= 0xffc) {
      if (this.measure) this.observe(i, lo, hi, this.ctxAcc | ACC_FETCH | SIZE_4);
      return this.dv.getInt32(this.tlbHpa[i]! + (lo & 0xfff), true);
    }
    return this.readSlow(lo, hi, 4, this.ctxAcc | ACC_FETCH) | 0;
  }

  // ---- the same for a 32-bit linear address (a 32-bit CPU): integer tag compares ----

  /** read8 of linear address `lin` (an int32 or uint32 below 4 GiB). */
  rd8(lin: number): number {
    const i = (lin >>> 12) & this.tlbMask;
    if (this.tagR32[i] === lin >>> 12) {
      if (this.measure) this.observe(i, lin, 0, this.ctxAcc | SIZE_1);
      return this.u8[this.tlbHpa[i]! + (lin & 0xfff)]!;
    }
    return this.readSlow(lin, 0, 1, this.ctxAcc);
  }

  rd16(lin: number): number {
    const i = (lin >>> 12) & this.tlbMask;
    if (this.tagR32[i] === lin >>> 12 && (lin & 0xfff) <= 0xffe) {
      if (this.measure) this.observe(i, lin, 0, this.ctxAcc | SIZE_2);
      const hpa = this.tlbHpa[i]! + (lin & 0xfff);
      return hpa & 1 ? this.dv.getUint16(hpa, true) : this.u16[hpa >>> 1]!;
    }
    return this.readSlow(lin, 0, 2, this.ctxAcc);
  }

  rd32(lin: number): number {
    const i = (lin >>> 12) & this.tlbMask;
    if (this.tagR32[i] === lin >>> 12 && (lin & 0xfff) <= 0xffc) {
      if (this.measure) this.observe(i, lin, 0, this.ctxAcc | SIZE_4);
      const hpa = this.tlbHpa[i]! + (lin & 0xfff);
      return hpa & 3 ? this.dv.getInt32(hpa, true) : this.i32[hpa >>> 2]!;
    }
    return this.readSlow(lin, 0, 4, this.ctxAcc) | 0;
  }

  wr8(lin: number, value: number): void {
    const i = (lin >>> 12) & this.tlbMask;
    if (this.tagW32[i] === lin >>> 12) {
      if (this.measure) this.observe(i, lin, 0, this.ctxAcc | ACC_WRITE | SIZE_1);
      this.u8[this.tlbHpa[i]! + (lin & 0xfff)] = value;
      return;
    }
    this.writeSlow(lin, 0, 1, value, this.ctxAcc | ACC_WRITE);
  }

  wr16(lin: number, value: number): void {
    const i = (lin >>> 12) & this.tlbMask;
    if (this.tagW32[i] === lin >>> 12 && (lin & 0xfff) <= 0xffe) {
      if (this.measure) this.observe(i, lin, 0, this.ctxAcc | ACC_WRITE | SIZE_2);
      const hpa = this.tlbHpa[i]! + (lin & 0xfff);
      if (hpa & 1) this.dv.setUint16(hpa, value, true);
      else this.u16[hpa >>> 1] = value;
      return;
    }
    this.writeSlow(lin, 0, 2, value, this.ctxAcc | ACC_WRITE);
  }

  wr32(lin: number, value: number): void {
    const i = (lin >>> 12) & this.tlbMask;
    if (this.tagW32[i] === lin >>> 12 && (lin & 0xfff) <= 0xffc) {
      if (this.measure) this.observe(i, lin, 0, this.ctxAcc | ACC_WRITE | SIZE_4);
      const hpa = this.tlbHpa[i]! + (lin & 0xfff);
      if (hpa & 3) this.dv.setInt32(hpa, value, true);
      else this.i32[hpa >>> 2] = value;
      return;
    }
    this.writeSlow(lin, 0, 4, value, this.ctxAcc | ACC_WRITE);
  }

  /**
   * The read of a read-modify-write (rdw8/rdw16/rdw32): `size` bytes at
   * linear `lin`, translated for a write (ACC_WRITE | ACC_RMW_R). A
   * processor checks such an instruction's destination as a write before
   * it reads (SDM vol. 3A, 4.7: the #PF error code's W/R bit is that of the
   * access that faulted), so the page walk sets the accessed and dirty
   * bits, a page that is not present faults with W/R = 1, a read-only page
   * faults before anything is read, and an access across a page end checks
   * both pages as writes. The instruction's write is wrw8/16/32. Returns 0
   * on a fault.
   */
  rdw8(lin: number): number {
    const i = (lin >>> 12) & this.tlbMask;
    if (this.tagW32[i] === lin >>> 12) {
      if (this.measure) this.observe(i, lin, 0, this.ctxAcc | ACC_WRITE | ACC_RMW_R | SIZE_1);
      return this.u8[this.tlbHpa[i]! + (lin & 0xfff)]!;
    }
    return this.readSlow(lin, 0, 1, this.ctxAcc | ACC_WRITE | ACC_RMW_R);
  }

  rdw16(lin: number): number {
    const i = (lin >>> 12) & this.tlbMask;
    if (this.tagW32[i] === lin >>> 12 && (lin & 0xfff) <= 0xffe) {
      if (this.measure) this.observe(i, lin, 0, this.ctxAcc | ACC_WRITE | ACC_RMW_R | SIZE_2);
      const hpa = this.tlbHpa[i]! + (lin & 0xfff);
      return hpa & 1 ? this.dv.getUint16(hpa, true) : this.u16[hpa >>> 1]!;
    }
    return this.readSlow(lin, 0, 2, this.ctxAcc | ACC_WRITE | ACC_RMW_R);
  }

  rdw32(lin: number): number {
    const i = (lin >>> 12) & this.tlbMask;
    if (this.tagW32[i] === lin >>> 12 && (lin & 0xfff) <= 0xffc) {
      if (this.measure) this.observe(i, lin, 0, this.ctxAcc | ACC_WRITE | ACC_RMW_R | SIZE_4);
      const hpa = this.tlbHpa[i]! + (lin & 0xfff);
      return hpa & 3 ? this.dv.getInt32(hpa, true) : this.i32[hpa >>> 2]!;
    }
    return this.readSlow(lin, 0, 4, this.ctxAcc | ACC_WRITE | ACC_RMW_R) | 0;
  }

  /**
   * The write of a read-modify-write (after rdw8/16/32): wr8/16/32 with
   * ACC_RMW_W, so that a mode that took an exit for the instruction at its
   * read takes none here (shadow paging emulates the whole instruction).
   */
  wrw8(lin: number, value: number): void {
    const i = (lin >>> 12) & this.tlbMask;
    if (this.tagW32[i] === lin >>> 12) {
      if (this.measure) this.observe(i, lin, 0, this.ctxAcc | ACC_WRITE | ACC_RMW_W | SIZE_1);
      this.u8[this.tlbHpa[i]! + (lin & 0xfff)] = value;
      return;
    }
    this.writeSlow(lin, 0, 1, value, this.ctxAcc | ACC_WRITE | ACC_RMW_W);
  }

  wrw16(lin: number, value: number): void {
    const i = (lin >>> 12) & this.tlbMask;
    if (this.tagW32[i] === lin >>> 12 && (lin & 0xfff) <= 0xffe) {
      if (this.measure) this.observe(i, lin, 0, this.ctxAcc | ACC_WRITE | ACC_RMW_W | SIZE_2);
      const hpa = this.tlbHpa[i]! + (lin & 0xfff);
      if (hpa & 1) this.dv.setUint16(hpa, value, true);
      else this.u16[hpa >>> 1] = value;
      return;
    }
    this.writeSlow(lin, 0, 2, value, this.ctxAcc | ACC_WRITE | ACC_RMW_W);
  }

  wrw32(lin: number, value: number): void {
    const i = (lin >>> 12) & this.tlbMask;
    if (this.tagW32[i] === lin >>> 12 && (lin & 0xfff) <= 0xffc) {
      if (this.measure) this.observe(i, lin, 0, this.ctxAcc | ACC_WRITE | ACC_RMW_W | SIZE_4);
      const hpa = this.tlbHpa[i]! + (lin & 0xfff);
      if (hpa & 3) this.dv.setInt32(hpa, value, true);
      else this.i32[hpa >>> 2] = value;
      return;
    }
    this.writeSlow(lin, 0, 4, value, this.ctxAcc | ACC_WRITE | ACC_RMW_W);
  }

  // ---- runs of elements (a CPU's REP STOS and REP MOVS) ----

  /**
   * Writes `value` (`size` 1, 2 or 4 bytes) to `count` consecutive
   * elements from linear address `lin` upward, as far as the write fast
   * path would take them one by one: on the page of `lin` while its write
   * tag is in the software TLB, with no observer and no cost model.
   * Returns the elements written (0 when the first needs the slow path: a
   * miss, a watched or read-only frame, an element across the page end, or
   * measuring on), so that the caller writes that one with wr* and tries
   * again after it. wr*'s fast path changes nothing but the bytes (write
   * tags are withheld from watched frames, ROM and MMIO), so the result is
   * that of `n` calls of wr*.
   */
  fillRun(lin: number, value: number, size: number, count: number): number {
    if (this.measure) return 0;
    const i = (lin >>> 12) & this.tlbMask;
    if (this.tagW32[i] !== lin >>> 12) return 0;
    const off = lin & 0xfff;
    const n = Math.min(count, Math.floor((0x1000 - off) / size));
    if (n <= 0) return 0;
    const hpa = this.tlbHpa[i]! + off;
    if (size === 1) this.u8.fill(value, hpa, hpa + n);
    else if (size === 2 && (hpa & 1) === 0) this.u16.fill(value, hpa >>> 1, (hpa >>> 1) + n);
    else if (size === 4 && (hpa & 3) === 0) this.i32.fill(value, hpa >>> 2, (hpa >>> 2) + n);
    else if (size === 2) for (let k = 0; k < n; k++) this.dv.setUint16(hpa + 2 * k, value, true);
    else for (let k = 0; k < n; k++) this.dv.setInt32(hpa + 4 * k, value, true);
    return n;
  }

  /**
   * Copies `count` elements of `size` bytes from linear address `src`
   * upward to `dst` upward, each read then written in turn, as the read
   * and write fast paths would take them one by one (see fillRun): on the
   * two pages while their read and write tags are in the software TLB.
   * Returns the elements copied (0: the first needs the slow path).
   * Overlapping ranges come out as the one-by-one copy leaves them: with
   * the destination above the source, elements already written are read
   * again.
   */
  copyRun(src: number, dst: number, size: number, count: number): number {
    if (this.measure) return 0;
    const i = (src >>> 12) & this.tlbMask, j = (dst >>> 12) & this.tlbMask;
    if (this.tagR32[i] !== src >>> 12 || this.tagW32[j] !== dst >>> 12) return 0;
    const so = src & 0xfff, dof = dst & 0xfff;
    const n = Math.min(count, Math.floor((0x1000 - so) / size), Math.floor((0x1000 - dof) / size));
    if (n <= 0) return 0;
    const s = this.tlbHpa[i]! + so, d = this.tlbHpa[j]! + dof, bytes = n * size;
    if (d <= s || d >= s + bytes) {
      // no element reads what an earlier one wrote: the same as copying the bytes at once
      this.u8.copyWithin(d, s, s + bytes);
    } else if (size === 4 && ((s | d) & 3) === 0) {
      const m = this.i32;
      for (let k = 0, a = s >>> 2, b = d >>> 2; k < n; k++) m[b + k] = m[a + k]!;
    } else if (size === 1) {
      const m = this.u8;
      for (let k = 0; k < n; k++) m[d + k] = m[s + k]!;
    } else {
      const v = this.dv;
      for (let k = 0; k < bytes; k += size) {
        if (size === 2) v.setUint16(d + k, v.getUint16(s + k, true), true);
        else v.setInt32(d + k, v.getInt32(s + k, true), true);
      }
    }
    return n;
  }

  /** ACC_USER / ACC_AC bits of the current privilege context */
  ctxAcc = 0;

  // =====================================================================
  // Accesses with an explicit access kind (implicit supervisor accesses,
  // tools, traces). `acc` is ACC_* bits.
  // =====================================================================

  /**
   * Reads `size` (1, 2 or 4) bytes with access kind `acc`; 4-byte reads are
   * signed int32. Returns 0 on a fault. ACC_WRITE is ignored unless
   * ACC_RMW_R says this is a read-modify-write's read, checked as a write.
   */
  readAcc(lo: number, hi: number, size: 1 | 2 | 4, acc: number): number {
    // a read-modify-write's read (ACC_RMW_R) is translated as a write (rdw32); any other read is a read
    const v = this.readSlow(lo, hi, size, acc & ACC_RMW_R ? acc | ACC_WRITE : acc & ~ACC_WRITE);
    return size === 4 ? v | 0 : v;
  }

  /** Writes `size` bytes with access kind `acc` (ACC_WRITE is implied). Nothing is written on a fault. */
  writeAcc(lo: number, hi: number, size: 1 | 2 | 4, value: number, acc: number): void {
    this.writeSlow(lo, hi, size, value, acc | ACC_WRITE);
  }

  /** write64 with access kind `acc` (ACC_WRITE is implied; ACC_RMW_W for a read-modify-write's write). Nothing is written on a fault. */
  writeAcc64(lo: number, hi: number, valueLo: number, valueHi: number, acc: number): void {
    this.writeSlow64(lo, hi, valueLo, valueHi, acc | ACC_WRITE);
  }

  /**
   * Translates gvaHi:gvaLo for access `acc` without performing it.
   * Returns the hpa of the byte (>= 0), T_MMIO (the gpa is in `lastGpa`), or
   * T_FAULT (`faultVector`/`fault` set). Sets lastGpa. May fill the software
   * TLB, set accessed/dirty bits in guest tables, and make the mode build
   * structures, exactly as the access itself would; a write translation to a
   * watched frame still returns its hpa, but the caller must then write
   * through writePhys* so the watcher sees it (write*() do that).
   */
  translate(lo: number, hi: number, acc: number): number {
    const ctx = acc & ACC_USER ? CTX_USER : acc & ACC_AC && this.state.gctx.smap ? CTX_SUP_AC : CTX_SUP;
    const kind = acc & ACC_FETCH ? KIND_X : acc & ACC_WRITE ? KIND_W : KIND_R;
    const i = (lo >>> 12) & this.tlbMask;
    const vpn = (hi >>> 0) * 1048576 + (lo >>> 12);
    if (this.soft.tags[ctx * 3 + kind]![i] === vpn) {
      if (this.measure) this.observe(i, lo, hi, acc);
      this.lastGpa = this.soft.gpa[i]! + (lo & 0xfff);
      return this.tlbHpa[i]! + (lo & 0xfff);
    }
    return this.miss(lo, hi, acc, ctx * 3 + kind, i, vpn);
  }

  /**
   * translate() of a run of accesses held in typed arrays (a replay's
   * record chunk), from access `i` up to `end`, for as long as each hits
   * the software TLB. Access k is at low half `addr[k]` and high half
   * `args[g++]` when `ops[k] & hiBit` (else 0), with access kind
   * `accOf[ops[k] & 0x3fff] | accOr`. Returns the index of the first access
   * that missed (or `end`), which the caller then plays through translate()
   * (whose hit check it fails again: the check has no side effects); the
   * operand cursor at that access is left in `runArg`. Each access that
   * hits does exactly what translate() does on a hit (the observation path
   * while `measure` is set); lastGpa is that of the last one.
   *
   * One loop with the hit path written out, so that the cost model's calls
   * (observe, the mode's model, the modeled TLB lookup) are what V8
   * inlines, instead of a call per access through the caller and translate().
   *
   * With the cost model on, no observer and countRepeats set, an access
   * that the mode's model() would play as nothing but L1 hits (Mode.repeats:
   * the third in a row to one page, of its kind) is counted here and
   * handed to the mode at the run's end (Mode.addRepeats) instead of being
   * modeled: the counters come out the same (docs/mmu.md, "Replaying runs
   * of accesses"). The pages compared are of this run only: nothing else
   * reaches the mode between its accesses.
   */
  translateRun(ops: Uint16Array, addr: Int32Array, args: Int32Array, accOf: Int32Array, hiBit: number, accOr: number, i: number, end: number, g: number): number {
    const soft = this.soft;
    const tags = soft.tags;
    const mask = this.tlbMask;
    const repeats = this.countRepeats && this.modelOn && this.observer === null ? this.mode.repeats : REPEATS_NONE;
    const inARow = repeats === REPEATS_IN_A_ROW;
    // per kind (data, fetch; in a row: both in d*): the page modeled last (high half, page number) and whether the one
    // before was the same
    let dHi = 0, dPage = -1, dTwice = false, dFetch = false, xHi = 0, xPage = -1, xTwice = false;
    let reads = 0, writes = 0, fetches = 0;
    let gpa = -1;
    for (; i < end; i++) {
      const op = ops[i]!;
      const lo = addr[i]!;
      const hi = op & hiBit ? args[g]! : 0;
      const acc = accOf[op & 0x3fff]! | accOr;
      const ctx = acc & ACC_USER ? CTX_USER : acc & ACC_AC && this.state.gctx.smap ? CTX_SUP_AC : CTX_SUP;
      const kind = acc & ACC_FETCH ? KIND_X : acc & ACC_WRITE ? KIND_W : KIND_R;
      const slot = (lo >>> 12) & mask;
      if (tags[ctx * 3 + kind]![slot] !== (hi >>> 0) * 1048576 + (lo >>> 12)) break;
      if (op & hiBit) g++;
      gpa = soft.gpa[slot]! + (lo & 0xfff);
      if (!this.measure) continue;
      if (repeats !== REPEATS_NONE) {
        const page = lo >>> 12;
        if (inARow) {
          const fetch = kind === KIND_X;
          if (page === dPage && hi === dHi && fetch === dFetch) {
            if (dTwice) {
              if (fetch) fetches++; else if ((acc & (ACC_WRITE | ACC_RMW_R)) === ACC_WRITE) writes++; else reads++;
              continue;
            }
            dTwice = true;
          } else {
            // another page or kind; one translated at another size is never counted here (page -1)
            dPage = soft.shift[slot] === 12 ? page : -1;
            dHi = hi;
            dFetch = fetch;
            dTwice = false;
          }
        } else if (kind === KIND_X) {
          if (page === xPage && hi === xHi) {
            if (xTwice) { fetches++; continue; }
            xTwice = true;
          } else {
            xPage = page;
            xHi = hi;
            xTwice = false;
          }
        } else if (page === dPage && hi === dHi) {
          if (dTwice) {
            if ((acc & (ACC_WRITE | ACC_RMW_R)) === ACC_WRITE) writes++; else reads++;
            continue;
          }
          dTwice = true;
        } else {
          dPage = page;
          dHi = hi;
          dTwice = false;
        }
      }
      this.observe(slot, lo, hi, acc);
    }
    if (reads + writes + fetches !== 0) this.mode.addRepeats(reads, writes, fetches);
    if (gpa >= 0) this.lastGpa = gpa;
    this.runArg = g;
    return i;
  }

  /**
   * Whether translateRun counts accesses that repeat a page itself where
   * the mode allows it (Mode.repeats); the counters are the same either
   * way (tests and `bench/text-loop.ts --no-repeats` turn it off to compare).
   */
  countRepeats = true;

  /** translateRun(): the operand cursor at the access it stopped before */
  runArg = 0;

  private miss(lo: number, hi: number, acc: number, tagIndex: number, i: number, vpn: number): number {
    const soft = this.soft;
    if (soft.vpn[i] === vpn && soft.allows(i, tagIndex)) {
      // The guest's TLB holds a translation that allows this access; only the
      // fast-path tag was withheld (a watched frame, a mode's restriction).
      // Use it, as the guest's TLB would: no walk, whatever the tables say now.
      const gpa = soft.gpa[i]! + (lo & 0xfff);
      this.mode.assist(lo, hi, acc, gpa);
      this.lastGpa = gpa;
      this.lastShift = soft.shift[i]!;
      this.lastGlobal = soft.flags[i]! & SLOT_GLOBAL;
      if (this.measure) this.observe(i, lo, hi, acc);
      return this.tlbHpa[i]! + (lo & 0xfff);
    }
    if (!this.canonical(hi)) return this.raise(VEC_GP, 0, lo, hi);
    this.counters[C_FILL]++;
    const t = this.tr;
    const r = this.mode.fill(lo, hi, acc, t);
    let result: number;
    if (r === FILL_FAULT) {
      result = this.raise(VEC_PF, t.errorCode, lo, hi);
    } else {
      this.lastGpa = t.gpa;
      this.lastShift = t.tlbShift;
      this.lastGlobal = t.global;
      if (r === FILL_MMIO) {
        result = T_MMIO;
      } else {
        this.fillFrom(t, lo, hi);
        result = t.hpa;
      }
    }
    if (this.observer !== null) this.observer.filled(lo, hi, acc, result);
    if (result === T_FAULT) {
      this.counters[C_GUEST_PF]++;
      if (this.observer !== null) this.observer.access(lo, hi, acc, -1);
      return result;
    }
    if (this.measure) this.observe(this.soft.tags[tagIndex]![i] === vpn ? i : -1, lo, hi, acc);
    return result;
  }

  /**
   * Whether a linear address with high half `hi` is canonical (SDM 3.3.7.1):
   * bits 63..47 (63..56 with 5-level paging) all equal; below IA-32e paging
   * a linear address has 32 bits.
   */
  private canonical(hi: number): boolean {
    if (this.state.format === FMT_L4 || this.state.format === FMT_L5) {
      const top = hi >> (this.state.format === FMT_L4 ? 15 : 24);
      return top === 0 || top === -1;
    }
    return hi === 0;
  }

  /**
   * The observation path, taken on every access while `measure` is set: the
   * observer (a trace recorder) sees the access, then the cost model plays
   * it. `acc` carries the access size in its ACC_SIZE bits.
   */
  private observe(slot: number, lo: number, hi: number, acc: number): void {
    const soft = this.soft;
    const gpa = slot >= 0 ? soft.gpa[slot]! + (lo & 0xfff) : this.lastGpa;
    if (this.observer !== null) this.observer.access(lo, hi, acc, gpa);
    if (!this.modelOn) return;
    // One call site, so that V8 inlines the mode's model once, not twice.
    const shift = slot >= 0 ? soft.shift[slot]! : this.lastShift;
    const global = slot >= 0 ? soft.flags[slot]! & SLOT_GLOBAL : this.lastGlobal;
    this.mode.model(lo, hi, acc, gpa, shift, global);
  }

  /** log2 of the software TLB's slot count (the `softTlbBits` option). */
  get softTlbBits(): number {
    return Math.log2(this.soft.size);
  }

  /** The PAE PDPTE registers as 8 int32 (lo, hi of PDPTE 0..3); zeros outside PAE paging. */
  pdptes(): number[] {
    return Array.from(this.state.pdpte);
  }

  /**
   * Loads the PAE PDPTE registers from saved values instead of from memory
   * (restoring a snapshot or a trace header whose PDPT has changed since the
   * registers were loaded). Flushes the TLB and tells the mode, as a CR3
   * load does. Throws TypeError unless given 8 integers; does nothing
   * outside PAE paging.
   */
  loadPdptes(values: ArrayLike<number>): void {
    if (values.length !== 8 || !Array.from(values).every((v) => Number.isInteger(v))) throw new TypeError('loadPdptes: expected 8 integers (lo, hi of PDPTE 0..3)');
    if (this.state.format !== FMT_PAE) return;
    this.state.pdpte.set(Array.from(values, (v) => v | 0));
    this.soft.flushAll();
    this.mode.onCr3(true);
  }

  /**
   * Attaches an observer that sees every access and paging event (or
   * detaches it with null). While one is attached every access takes the
   * observation path, cost model or not.
   */
  setObserver(o: MmuObserver | null): void {
    this.observer = o;
    this.measure = this.modelOn || o !== null;
  }

  /** Turns the cost model on or off (the `measure` option). */
  setCostModel(on: boolean): void {
    this.modelOn = on;
    this.measure = on || this.observer !== null;
  }

  /** Records a fault and returns T_FAULT. */
  raise(vector: number, errorCode: number, lo: number, hi: number): number {
    this.fault.vector = vector;
    this.fault.errorCode = errorCode;
    this.fault.addrLo = lo;
    this.fault.addrHi = hi;
    this.faultVector = vector;
    return T_FAULT;
  }

  /** Forgets the pending fault (after the caller delivered it). */
  clearFault(): void {
    this.faultVector = 0;
  }

  private readSlow(lo: number, hi: number, size: number, acc: number): number {
    acc &= ~ACC_SIZE_MASK;
    if ((lo & 0xfff) + size <= 4096) {
      const h = this.translate(lo, hi, acc | (size << ACC_SIZE_SHIFT));
      if (h >= 0) return this.load(h, size);
      if (h === T_MMIO) return this.mmio.read(this.lastGpa, size as 1 | 2 | 4);
      return 0;
    }
    // Page-crossing: translate both pages before reading (first page faults first).
    const first = 4096 - (lo & 0xfff);
    const h1 = this.translate(lo, hi, acc | (first << ACC_SIZE_SHIFT));
    if (h1 === T_FAULT) return 0;
    const g1 = this.lastGpa;
    const lo2 = ((lo | 0xfff) + 1) >>> 0;
    const hi2 = lo2 === 0 ? (hi + 1) >>> 0 : hi;
    const h2 = this.translate(lo2, hi2, acc | ((size - first) << ACC_SIZE_SHIFT));
    if (h2 === T_FAULT) return 0;
    const g2 = this.lastGpa;
    let v = 0;
    for (let k = size - 1; k >= 0; k--) {
      const b = k < first ? this.byteAt(h1, g1, k) : this.byteAt(h2, g2, k - first);
      v = v * 256 + b;
    }
    return v;
  }

  private byteAt(h: number, gpa: number, k: number): number {
    return h >= 0 ? this.u8[h + k]! : this.mmio.read(gpa + k, 1) & 0xff;
  }

  private load(hpa: number, size: number): number {
    if (size === 1) return this.u8[hpa]!;
    if (size === 2) return this.dv.getUint16(hpa, true);
    return this.dv.getUint32(hpa, true);
  }

  private writeSlow(lo: number, hi: number, size: number, value: number, acc: number): void {
    acc &= ~ACC_SIZE_MASK;
    if ((lo & 0xfff) + size <= 4096) {
      const h = this.translate(lo, hi, acc | (size << ACC_SIZE_SHIFT));
      if (h !== T_FAULT) this.storeAt(h, this.lastGpa, size, value);
      return;
    }
    this.writeAcross(lo, hi, size, acc, value, 0);
  }

  /**
   * A write of `size` bytes (up to 8: `valueLo`, then `valueHi`) that
   * crosses a page: both pages translated before a byte is stored, then
   * byte by byte. Nothing is written on a fault.
   */
  private writeAcross(lo: number, hi: number, size: number, acc: number, valueLo: number, valueHi: number): void {
    const first = 4096 - (lo & 0xfff);
    const h1 = this.translate(lo, hi, acc | (first << ACC_SIZE_SHIFT));
    if (h1 === T_FAULT) return;
    const g1 = this.lastGpa;
    const lo2 = ((lo | 0xfff) + 1) >>> 0;
    const hi2 = lo2 === 0 ? (hi + 1) >>> 0 : hi;
    const h2 = this.translate(lo2, hi2, acc | ((size - first) << ACC_SIZE_SHIFT));
    if (h2 === T_FAULT) return;
    const g2 = this.lastGpa;
    for (let k = 0; k < size; k++) {
      const b = ((k < 4 ? valueLo : valueHi) >>> ((k & 3) * 8)) & 0xff;
      if (k < first) this.storeAt(h1 < 0 ? h1 : h1 + k, g1 + k, 1, b);
      else this.storeAt(h2 < 0 ? h2 : h2 + k - first, g2 + k - first, 1, b);
    }
  }

  private writeSlow64(lo: number, hi: number, valueLo: number, valueHi: number, acc: number): void {
    acc &= ~ACC_SIZE_MASK;
    if ((lo & 0xfff) <= 0xff8) {
      const h = this.translate(lo, hi, acc | SIZE_8);
      if (h !== T_FAULT) this.storeAt64(h, this.lastGpa, valueLo, valueHi);
      return;
    }
    this.writeAcross(lo, hi, 8, acc, valueLo, valueHi);
  }

  /** storeAt of 8 bytes within one page: one notification of size 8 (MMIO and ROM: two 4-byte device writes). */
  private storeAt64(h: number, gpa: number, valueLo: number, valueHi: number): void {
    const w = h < 0 ? WATCH_ROM : this.watch[Math.floor(gpa / PAGE_SIZE)]!;
    if (w & WATCH_ROM) {
      this.mmio.write(gpa, 4, valueLo);
      this.mmio.write(gpa + 4, 4, valueHi);
      return;
    }
    this.dv.setInt32(h, valueLo | 0, true);
    this.dv.setInt32(h + 4, valueHi | 0, true);
    if (w !== 0) this.notifyWrite(w, gpa, 8);
  }

  /**
   * Stores at the hpa a mode translated to (or MMIO when h < 0, or when the
   * frame is ROM), then notifies watchers of the frame.
   */
  private storeAt(h: number, gpa: number, size: number, value: number): void {
    const w = h < 0 ? WATCH_ROM : this.watch[Math.floor(gpa / PAGE_SIZE)]!;
    if (w & WATCH_ROM) {
      this.mmio.write(gpa, size as 1 | 2 | 4, value);
      return;
    }
    if (size === 1) this.u8[h] = value;
    else if (size === 2) this.dv.setUint16(h, value & 0xffff, true);
    else this.dv.setInt32(h, value | 0, true);
    if (w !== 0) this.notifyWrite(w, gpa, size);
  }

  // =====================================================================
  // Guest-physical access (devices, emulation, loaders)
  // =====================================================================

  /**
   * Checks a guest-physical access of the API (cold paths): `size` 1, 2 or 4
   * and a whole gpa whose bytes lie below 2^MAXPHYADDR. Throws RangeError
   * naming the method and argument.
   */
  private checkPhys(method: string, gpa: number, size: number): void {
    if (size !== 1 && size !== 2 && size !== 4) throw new RangeError(`${method}: size ${size} is not 1, 2 or 4`);
    if (!Number.isInteger(gpa) || gpa < 0 || gpa + size > 2 ** this.maxPhysAddr) {
      throw new RangeError(`${method}: gpa ${gpa} is not a whole address with its ${size} bytes below 2^${this.maxPhysAddr} (MAXPHYADDR)`);
    }
  }

  private checkPhysRange(method: string, gpa: number, length: number): void {
    if (!Number.isInteger(length) || length < 0) throw new RangeError(`${method}: length ${length} is not a whole number of bytes`);
    if (!Number.isInteger(gpa) || gpa < 0 || gpa + length > 2 ** this.maxPhysAddr) {
      throw new RangeError(`${method}: gpa ${gpa} + ${length} bytes is not a range of whole addresses below 2^${this.maxPhysAddr} (MAXPHYADDR)`);
    }
  }

  /**
   * Reads `size` (1, 2 or 4) bytes at a guest-physical address (RAM or
   * MMIO), zero-extended. Throws RangeError for another size or an address
   * that is not a whole number below 2^MAXPHYADDR.
   */
  readPhys(gpa: number, size: 1 | 2 | 4): number {
    this.checkPhys('readPhys', gpa, size);
    return this.readPhysUnchecked(gpa, size);
  }

  private readPhysUnchecked(gpa: number, size: number): number {
    if ((gpa & 0xfff) + size > 4096) {
      let v = 0;
      for (let k = size - 1; k >= 0; k--) v = v * 256 + this.readPhysUnchecked(gpa + k, 1);
      return v;
    }
    const h = this.map.hpaOf(gpa);
    return h < 0 ? this.mmio.read(gpa, size as 1 | 2 | 4) : this.load(h, size);
  }

  /**
   * Writes `size` bytes at a guest-physical address. Watched frames notify
   * their watcher after the write (shadow mode updates its shadow entries,
   * exactly as for a CPU write).
   */
  writePhys(gpa: number, size: number, value: number): void {
    this.checkPhys('writePhys', gpa, size);
    this.writePhysUnchecked(gpa, size, value);
  }

  /**
   * Writes 64 bits (`valueLo`, then `valueHi`) at a guest-physical address:
   * within one page, one write as the CPU's write64 makes it (watchers are
   * told of one write of 8 bytes); across a page, two writePhys of 4 bytes. Throws RangeError
   * for an address that is not a whole number with its 8 bytes below
   * 2^MAXPHYADDR.
   */
  writePhys64(gpa: number, valueLo: number, valueHi: number): void {
    if (!Number.isInteger(gpa) || gpa < 0 || gpa + 8 > 2 ** this.maxPhysAddr) {
      throw new RangeError(`writePhys64: gpa ${gpa} is not a whole address with its 8 bytes below 2^${this.maxPhysAddr} (MAXPHYADDR)`);
    }
    if ((gpa & 0xfff) > 0xff8) {
      this.writePhysUnchecked(gpa, 4, valueLo);
      this.writePhysUnchecked(gpa + 4, 4, valueHi);
      return;
    }
    this.storeAt64(this.map.hpaOf(gpa), gpa, valueLo, valueHi);
  }

  private writePhysUnchecked(gpa: number, size: number, value: number): void {
    if ((gpa & 0xfff) + size > 4096) {
      for (let k = 0; k < size; k++) this.writePhysUnchecked(gpa + k, 1, (value >>> (k * 8)) & 0xff);
      return;
    }
    this.storeAt(this.map.hpaOf(gpa), gpa, size, value);
  }

  /** Copies `length` bytes of guest-physical memory out (MMIO reads through the handler). */
  readPhysBytes(gpa: number, length: number): Uint8Array {
    this.checkPhysRange('readPhysBytes', gpa, length);
    const out = new Uint8Array(length);
    for (let k = 0; k < length;) {
      const h = this.map.hpaOf(gpa + k);
      const n = Math.min(length - k, 4096 - ((gpa + k) & 0xfff));
      if (h >= 0) out.set(this.u8.subarray(h, h + n), k);
      else for (let j = 0; j < n; j++) out[k + j] = this.mmio.read(gpa + k + j, 1);
      k += n;
    }
    return out;
  }

  /** Copies bytes into guest-physical memory (a DMA write: watchers see it). */
  writePhysBytes(gpa: number, bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('writePhysBytes: bytes must be a Uint8Array');
    this.checkPhysRange('writePhysBytes', gpa, bytes.length);
    for (let k = 0; k < bytes.length;) {
      const a = gpa + k;
      const h = this.map.hpaOf(a);
      const n = Math.min(bytes.length - k, 4096 - (a & 0xfff));
      if (h >= 0 && this.watch[Math.floor(a / PAGE_SIZE)] === 0) {
        this.u8.set(bytes.subarray(k, k + n), h);
      } else {
        // Watched or MMIO: go entry-sized so a shadow watcher sees each entry written.
        for (let j = 0; j < n;) {
          const step = (a + j) % 4 === 0 && n - j >= 4 ? 4 : 1;
          const v = step === 4 ? (bytes[k + j]! | (bytes[k + j + 1]! << 8) | (bytes[k + j + 2]! << 16) | (bytes[k + j + 3]! << 24)) : bytes[k + j]!;
          this.writePhysUnchecked(a + j, step, v);
          j += step;
        }
      }
      k += n;
    }
  }

  /**
   * Puts `bytes` into read-only memory at `gpa` (MmuOptions.rom), as the
   * board's flash or a firmware image would hold them; the guest and devices
   * cannot change them. Decoded code cached from those frames is dropped.
   * Throws RangeError unless every byte lies in a ROM range.
   */
  loadRom(gpa: number, bytes: Uint8Array): void {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('loadRom: bytes must be a Uint8Array');
    this.checkPhysRange('loadRom', gpa, bytes.length);
    // Every page checked before any byte is stored: a refused load changes nothing.
    for (let k = 0; k < bytes.length;) {
      const a = gpa + k;
      const gfn = Math.floor(a / PAGE_SIZE);
      if (gfn >= this.watch.length || (this.watch[gfn]! & WATCH_ROM) === 0) {
        throw new RangeError(`loadRom: gpa 0x${a.toString(16)} (byte ${k} of ${bytes.length}) is not in a ROM range (MmuOptions.rom)`);
      }
      k += Math.min(bytes.length - k, PAGE_SIZE - (a % PAGE_SIZE));
    }
    for (let k = 0; k < bytes.length;) {
      const a = gpa + k;
      const gfn = Math.floor(a / PAGE_SIZE);
      const n = Math.min(bytes.length - k, PAGE_SIZE - (a % PAGE_SIZE));
      this.u8.set(bytes.subarray(k, k + n), this.map.hpaOf(a));
      if (this.watch[gfn]! & WATCH_CODE && this.onCodeWrite !== null) this.onCodeWrite(a, n);
      k += n;
    }
  }

  private notifyWrite(w: number, gpa: number, size: number): void {
    if (w & WATCH_SHADOW) this.mode.onWatchedWrite(gpa, size);
    if (w & WATCH_CODE && this.onCodeWrite !== null) this.onCodeWrite(gpa, size);
    if (w & WATCH_RECORD && this.onRecordWrite !== null) this.onRecordWrite(gpa, size);
  }

  /** ModeHost.guestEntriesWritten: tells the code watcher of accessed/dirty bits a guest walk wrote into a watched frame. */
  guestEntriesWritten(w: Walker): void {
    if (this.onCodeWrite === null) return;
    for (let l = 1, bits = w.adWrites; bits !== 0; l++) {
      if ((bits & (1 << l)) === 0) continue;
      bits &= ~(1 << l);
      const gpa = w.entryAddr[l]!;
      const gfn = Math.floor(gpa / PAGE_SIZE);
      if (gfn < this.watch.length && (this.watch[gfn]! & WATCH_CODE) !== 0) this.onCodeWrite(gpa, 4);
    }
  }

  /**
   * Sets or clears watch bits on a guest frame. Setting drops the write tags
   * of the frame from the software TLB so that the next write takes the slow
   * path and notifies.
   */
  setWatch(gfn: number, bits: number, on: boolean): void {
    if (gfn < 0 || gfn >= this.watch.length) return;
    const old = this.watch[gfn]!;
    const now = on ? old | bits : old & ~bits;
    this.watch[gfn] = now;
    if (now !== 0 && old === 0) {
      const hfn = this.map.hfnOf[gfn]!;
      if (hfn > 0) this.soft.revokeWrite(hfn); // a frame not yet backed is in no TLB slot
    } else if (now === 0 && old !== 0 && (old & WATCH_CODE) !== 0) {
      // The CPU's code watch ended (and no other): writes to the frame may
      // take the fast path again, as after a refill (the CPU drops and
      // rebuilds its decoded code often; shadow's page-table watches keep
      // their old behaviour).
      const hfn = this.map.hfnOf[gfn]!;
      if (hfn > 0) this.soft.restoreWrite(hfn);
    }
  }

  /**
   * Fills the software-TLB slot of gvaHi:gvaLo from a mode's translation:
   * the guest's rights decide which accesses the slot allows; the mode's
   * tagMask and the frame's watch bits only withhold fast-path tags (those
   * accesses reach Mode.assist and still use the slot).
   */
  private fillFrom(t: Translation, lo: number, hi: number): void {
    const off = lo & 0xfff;
    const gpaPage = t.gpa - off;
    let tagMask = t.tagMask;
    const gfn = Math.floor(gpaPage / PAGE_SIZE);
    if (gfn < this.watch.length && this.watch[gfn] !== 0) tagMask &= ~W_TAGS;
    const key = SoftTlb.rightsKey(t.us, t.rw, t.xd, t.dirty, this.state.gctx.pke ? this.state.pkru : 0, t.pkey);
    this.soft.fill((hi >>> 0) * 1048576 + (lo >>> 12), lo >>> 12, t.hpa - off, gpaPage, key, tagMask, t.tlbShift, (t.global ? SLOT_GLOBAL : 0) | t.large, t.tagMask);
    if (this.onFill !== null) this.onFill(lo, hi);
  }

  // =====================================================================
  // Paging registers and TLB maintenance (cold)
  // =====================================================================

  /** Sets the privilege context of the read, write and fetch methods: CPL and EFLAGS.AC. */
  setPrivilege(cpl: number, ac: boolean): void {
    if (cpl !== 0 && cpl !== 1 && cpl !== 2 && cpl !== 3) throw new RangeError(`setPrivilege: cpl ${typeof cpl === 'number' ? cpl : JSON.stringify(cpl)} is not 0, 1, 2 or 3`);
    if (typeof ac !== 'boolean') throw new TypeError(`setPrivilege: ac must be a boolean (EFLAGS.AC), got ${JSON.stringify(ac)}`);
    this.cpl = cpl;
    this.ac = ac ? 1 : 0;
    this.selectContext();
    if (this.observer !== null) this.observer.privilege(cpl, ac);
  }

  private selectContext(): void {
    const ctx = this.cpl === 3 ? CTX_USER : this.ac && this.state.gctx.smap ? CTX_SUP_AC : CTX_SUP;
    this.ctxAcc = ctx === CTX_USER ? ACC_USER : ctx === CTX_SUP_AC ? ACC_AC : 0;
    this.tagR = this.soft.tags[ctx * 3 + KIND_R]!;
    this.tagW = this.soft.tags[ctx * 3 + KIND_W]!;
    this.tagX = this.soft.tags[ctx * 3 + KIND_X]!;
    this.tagR32 = this.soft.tags32[ctx * 3 + KIND_R]!;
    this.tagW32 = this.soft.tags32[ctx * 3 + KIND_W]!;
    this.tagX32 = this.soft.tags32[ctx * 3 + KIND_X]!;
  }

  /**
   * Loads all paging registers at once (for library users and snapshots).
   * Returns 0, or T_FAULT with a #GP recorded when PAE PDPTEs are invalid
   * (then nothing changes).
   */
  setPaging(r: Partial<PagingRegisters>): number {
    const save = this.paging();
    this.state.cr0 = r.cr0 ?? this.state.cr0;
    this.state.cr4 = r.cr4 ?? this.state.cr4;
    this.state.efer = r.efer ?? this.state.efer;
    this.state.pkru = r.pkru ?? this.state.pkru;
    this.state.cr3Lo = r.cr3Lo ?? this.state.cr3Lo;
    this.state.cr3Hi = (r.cr3Hi ?? this.state.cr3Hi) & 0x7fffffff;
    if (this.reconfigure(true) !== 0) {
      Object.assign(this.state, { cr0: save.cr0, cr4: save.cr4, efer: save.efer, pkru: save.pkru, cr3Lo: save.cr3Lo, cr3Hi: save.cr3Hi });
      this.reconfigure(true);
      return T_FAULT;
    }
    if (this.observer !== null) {
      // Replayed in this order, the registers reach the same state.
      this.observer.register('efer', this.state.efer, 0);
      this.observer.register('pkru', this.state.pkru, 0);
      this.observer.register('cr4', this.state.cr4, 0);
      this.observer.register('cr3', this.state.cr3Lo, this.state.cr3Hi);
      this.observer.register('cr0', this.state.cr0, 0);
    }
    return 0;
  }

  /** The paging registers. */
  paging(): PagingRegisters {
    return { cr0: this.state.cr0, cr3Lo: this.state.cr3Lo, cr3Hi: this.state.cr3Hi, cr4: this.state.cr4, efer: this.state.efer, pkru: this.state.pkru };
  }

  /**
   * MOV to CR0. Changes of PG or WP reconfigure paging and flush the TLB;
   * a change of PG, CD or NW reloads PAE PDPTEs (SDM 4.4.1); other bits are
   * stored only. Returns 0 or T_FAULT (#GP: invalid PDPTEs; CR0 is then
   * unchanged).
   */
  writeCr0(value: number): number {
    const old = this.state.cr0;
    this.state.cr0 = value | 0;
    if (((old ^ value) & (CR0_PG | CR0_WP)) === 0) {
      // SDM 4.4.1: a MOV to CR0 that changes CD or NW while PAE paging stays
      // in use loads the PDPTEs from CR3 like a MOV to CR3 (#GP(0) for a
      // present one with a reserved bit), though the paging mode is the
      // same. The mode hears of it as of a CR3 load: shadow's root follows
      // the PDPTEs.
      if ((old ^ value) & (CR0_CD | CR0_NW) && this.state.format === FMT_PAE) {
        if (this.computeRoot(true) !== 0) {
          this.state.cr0 = old;
          return this.raise(VEC_GP, 0, 0, 0);
        }
        this.soft.flushAll();
        this.mode.onCr3(true);
      }
      if (this.observer !== null && old !== this.state.cr0) this.observer.register('cr0', this.state.cr0, 0);
      return 0;
    }
    const reload = ((old ^ value) & CR0_PG) !== 0;
    if (this.reconfigure(reload) !== 0) {
      this.state.cr0 = old;
      this.reconfigure(true);
      return T_FAULT;
    }
    if (this.observer !== null) this.observer.register('cr0', this.state.cr0, 0);
    return 0;
  }

  /**
   * MOV to CR4. A change of PSE, PAE, SMEP, SMAP, PKE, LA57 or PCIDE
   * reconfigures paging and flushes everything; a change of PGE alone flushes
   * everything, global entries included (SDM 4.10.4.1). In PAE paging a
   * change of PAE, PGE, PSE or SMEP reloads the PDPTEs (SDM 4.4.1). Returns
   * 0 or T_FAULT (#GP: invalid PDPTEs; CR4 is then unchanged).
   */
  writeCr4(value: number): number {
    const old = this.state.cr4;
    this.state.cr4 = value | 0;
    const changed = old ^ value;
    const reload = (changed & (CR4_PAE | CR4_PGE | CR4_PSE | CR4_SMEP)) !== 0;
    if (changed & (CR4_PSE | CR4_PAE | CR4_SMEP | CR4_SMAP | CR4_PKE | CR4_LA57 | CR4_PCIDE)) {
      if (this.reconfigure(reload) !== 0) {
        this.state.cr4 = old;
        this.reconfigure(true);
        return T_FAULT;
      }
    } else if (changed & CR4_PGE) {
      this.state.rebuildContext();
      if (this.computeRoot(true) !== 0) {
        this.state.cr4 = old;
        this.state.rebuildContext();
        return this.raise(VEC_GP, 0, 0, 0);
      }
      this.soft.flushAll();
      this.mode.onPagingChange(PG_GLOBAL);
    }
    if (this.observer !== null && old !== this.state.cr4) this.observer.register('cr4', this.state.cr4, 0);
    return 0;
  }

  /** WRMSR IA32_EFER (low 32 bits). NXE/LME/LMA changes reconfigure paging. */
  writeEfer(value: number): number {
    const old = this.state.efer;
    this.state.efer = value | 0;
    if (((old ^ value) & (EFER_NXE | EFER_LME | EFER_LMA)) === 0) return 0;
    const r = this.reconfigure(((old ^ value) & (EFER_LME | EFER_LMA)) !== 0);
    if (r === 0 && this.observer !== null) this.observer.register('efer', this.state.efer, 0);
    return r;
  }

  /**
   * WRPKRU. Every later access is checked against the new PKRU (SDM 4.6.2);
   * the software TLB, whose tags include protection-key decisions, is
   * flushed when CR4.PKE makes them matter. The mode hears of it like of
   * any paging register.
   */
  writePkru(value: number): void {
    this.state.pkru = value | 0;
    this.state.rebuildContext();
    if (this.state.gctx.pke) {
      this.soft.setPermissions(this.state.gctx);
      this.soft.flushAll();
    }
    this.mode.onPagingChange(PG_PKRU);
    if (this.observer !== null) this.observer.register('pkru', this.state.pkru, 0);
  }

  /**
   * MOV to CR3. With CR4.PCIDE=1, bits 11:0 are the PCID and bit 63 (hi bit
   * 31) asks not to flush. Loads PAE PDPTEs in PAE paging. Returns 0, or
   * T_FAULT with #GP(0) when a PDPTE is invalid (CR3 is then unchanged).
   */
  writeCr3(lo: number, hi: number): number {
    const pcide = (this.state.cr4 & CR4_PCIDE) !== 0 && (this.state.format === FMT_L4 || this.state.format === FMT_L5);
    const noFlush = pcide && (hi & 0x80000000) !== 0;
    const oldLo = this.state.cr3Lo, oldHi = this.state.cr3Hi;
    const oldPcid = this.state.pcid;
    this.state.cr3Lo = lo | 0;
    this.state.cr3Hi = hi & 0x7fffffff;
    if (this.computeRoot(true) !== 0) {
      this.state.cr3Lo = oldLo;
      this.state.cr3Hi = oldHi;
      this.computeRoot(false);
      return this.raise(VEC_GP, 0, 0, 0);
    }
    if (!noFlush || this.state.pcid !== oldPcid) this.soft.flushNonGlobal();
    this.mode.onCr3(!noFlush);
    if (this.observer !== null) this.observer.register('cr3', lo | 0, hi | 0);
    return 0;
  }

  /** INVLPG: drops the translation of one address (any page size) from every TLB. */
  invlpg(lo: number, hi: number): void {
    this.soft.invalidate((hi >>> 0) * 1048576 + (lo >>> 12), lo >>> 12);
    this.mode.onInvlpg(lo, hi, -1);
    if (this.observer !== null) this.observer.invlpg(lo, hi);
  }

  /**
   * INVPCID (SDM vol. 2A): type 0 one address of `pcid`, 1 all of `pcid`
   * but globals, 2 everything, 3 everything but globals. Returns 0 or T_FAULT
   * with #GP(0): a type above 3, a PCID above 4095, a nonzero PCID for type
   * 0 or 1 while CR4.PCIDE=0, a non-canonical address for type 0.
   */
  invpcid(type: number, pcid: number, lo: number, hi: number): number {
    // #GP(0) (SDM vol. 2A, INVPCID): a type above 3; a PCID above 4095; for
    // types 0 and 1 a nonzero PCID while CR4.PCIDE=0; for type 0 a
    // non-canonical address.
    if (!(type >= 0 && type <= 3) || !(pcid >= 0 && pcid <= 0xfff)) return this.raise(VEC_GP, 0, 0, 0);
    if (type <= 1 && pcid !== 0 && (this.state.cr4 & CR4_PCIDE) === 0) return this.raise(VEC_GP, 0, 0, 0);
    if (type === 0 && !this.canonical(hi)) return this.raise(VEC_GP, 0, 0, 0);
    if (this.observer !== null) this.observer.invpcid(type, pcid, lo, hi);
    switch (type) {
      case 0:
        if (pcid === this.state.pcid) this.soft.invalidate((hi >>> 0) * 1048576 + (lo >>> 12), lo >>> 12);
        this.mode.onInvlpg(lo, hi, pcid);
        return 0;
      case 1:
        if (pcid === this.state.pcid) this.soft.flushNonGlobal();
        this.mode.onFlush(false, pcid, true);
        return 0;
      case 2:
        this.soft.flushAll();
        this.mode.onFlush(true, -1, true);
        return 0;
      case 3:
        this.soft.flushNonGlobal();
        this.mode.onFlush(false, -1, true);
        return 0;
      default:
        return this.raise(VEC_GP, 0, 0, 0);
    }
  }

  /** Flushes every TLB: non-global entries, or everything when `global`. */
  flushTlb(global: boolean): void {
    if (this.observer !== null) this.observer.flush(global);
    if (global) this.soft.flushAll();
    else this.soft.flushNonGlobal();
    this.mode.onFlush(global, -1, false);
  }

  /**
   * Recomputes format, walk context and root after a control-register
   * change, reloading PAE PDPTEs when `reloadPdptes`; flushes all. Returns 0
   * or T_FAULT (#GP).
   */
  private reconfigure(reloadPdptes: boolean): number {
    const oldFormat = this.state.format;
    this.state.format = guestFormatOf(this.state.cr0, this.state.cr4, this.state.efer);
    this.state.rebuildContext();
    if (this.computeRoot(reloadPdptes || oldFormat !== this.state.format) !== 0) return this.raise(VEC_GP, 0, 0, 0);
    this.soft.setPermissions(this.state.gctx);
    this.soft.flushAll();
    this.selectContext();
    this.mode.onPagingChange(oldFormat !== this.state.format ? PG_ALL : PG_CONTROLS | PG_GLOBAL | PG_PKRU);
    return 0;
  }

  /**
   * Root address and PCID from CR3; in PAE paging, with `loadPdptes`, loads
   * and checks the PDPTEs (SDM 4.4.1). Returns 0 or -1 (invalid PDPTE).
   */
  private computeRoot(loadPdptes: boolean): number {
    const pcide = (this.state.cr4 & CR4_PCIDE) !== 0 && (this.state.format === FMT_L4 || this.state.format === FMT_L5);
    this.state.pcid = pcide ? this.state.cr3Lo & 0xfff : 0;
    if (this.state.format === FMT_PAE) {
      this.state.rootGpa = (this.state.cr3Lo & 0xffffffe0) >>> 0;
      if (!loadPdptes) return 0;
      const pd = new Int32Array(8);
      for (let i = 0; i < 4; i++) {
        const gpa = this.state.rootGpa + i * 8;
        const lo = this.readPhys(gpa, 4) | 0;
        const hi = this.readPhys(gpa + 4, 4) | 0;
        if (lo & 1 && ((lo & this.state.gctx.pdpteRsvdLo) | (hi & this.state.gctx.pdpteRsvdHi))) return -1;
        pd[i * 2] = lo;
        pd[i * 2 + 1] = hi;
      }
      this.state.pdpte.set(pd);
    } else if (this.state.format === FMT_L4 || this.state.format === FMT_L5) {
      this.state.rootGpa = (this.state.cr3Hi & this.state.gctx.addrHiMask) * TWO_32 + ((this.state.cr3Lo & 0xfffff000) >>> 0);
    } else {
      this.state.rootGpa = (this.state.cr3Lo & 0xfffff000) >>> 0;
    }
    return 0;
  }

  // =====================================================================
  // Modes, counters, reports
  // =====================================================================

  /**
   * Switches to another translation mode. The guest's memory and registers
   * are untouched; the old mode's structures are freed; the software TLB and
   * the counters are reset (a report belongs to one mode).
   */
  switchMode(name: ModeName): void {
    if (!MODE_NAMES.includes(name)) throw new RangeError(`mode '${String(name)}' is not one of ${MODE_NAMES.join(', ')}`);
    this.mode.destroy();
    this.soft.flushAll();
    this.counters.fill(0);
    this.mode = this.createMode(name);
    this.mode.onPagingChange(PG_ALL);
    log('switched to %s', name);
  }

  /** Zeroes every counter. */
  resetCounters(): void {
    this.counters.fill(0);
  }

  /** Counters by name. */
  countersByName(): Record<CounterName, number> {
    return countersToObject(this.counters);
  }

  /** Counters, gauges and modeled cycles of the current mode. */
  report(): MmuReport {
    return {
      mode: this.mode.name,
      format: FORMAT_NAMES[this.state.format],
      counters: countersToObject(this.counters),
      gauges: this.mode.gauges(),
      cycles: cyclesOf(this.mode.name, this.counters, this.profile),
      costProfile: this.profile,
      tlb: this.tlbGeometry,
    };
  }

  /** A text dump of the current mode's structures (host table, shadow tables or EPT). */
  dump(): string {
    return this.mode.dump();
  }

  /** Who owns the host frame holding `hpa` ('guest', 'shadow', 'ept', ...). */
  ownerOf(hpa: number): string {
    return FRAME_OWNER_NAMES[this.host.owner[Math.floor(hpa / PAGE_SIZE)]!] ?? 'out-of-range';
  }
}
