/**
 * The guest's physical memory map: guest-physical frames (gfn) of RAM mapped
 * to host-physical frames (hfn), deliberately scattered, plus MMIO for every
 * guest-physical address that is not RAM.
 *
 * The map is what "the hypervisor knows" about guest memory. The modes build
 * their own structures from it (naive: a host page table; shadow: shadow
 * entries pointing at hfns; slat: EPT entries), and devices reach guest memory
 * through it, so a device write into a guest page table is seen by shadow
 * mode exactly like a CPU write (see Mmu.writePhys*).
 */
import { FRAME_GUEST, HostMemory, PAGE_SHIFT, PAGE_SIZE } from './memory.js';

/** Handles guest-physical accesses that do not hit RAM (devices). */
export interface MmioHandler {
  /** Returns the value read (zero-extended, `size` bytes). */
  read(gpa: number, size: 1 | 2 | 4): number;
  write(gpa: number, size: 1 | 2 | 4, value: number): void;
}

/** An MMIO handler for a machine with no devices: reads give all ones, writes are dropped (like an unclaimed PC bus cycle). */
export const OPEN_BUS: MmioHandler = {
  read(_gpa: number, size: 1 | 2 | 4): number {
    return size === 4 ? -1 >>> 0 : (1 << (size * 8)) - 1;
  },
  write(): void {},
};

/** A guest-physical range that is not RAM (a hole in the RAM map: device memory, ROM, ...). */
export interface PhysicalHole {
  readonly gpa: number;
  readonly bytes: number;
}

/**
 * The largest guest-physical map vmmu builds: 64 GiB, the 36-bit physical
 * address space of PAE and of MAXPHYADDR 36 (the default). The map and the
 * modes keep small tables indexed by guest frame (16 Mi frames here, about
 * 100 MB at most, all of it untouched while unused); RAM itself costs host
 * memory only where the guest touches it.
 */
export const GUEST_MEMORY_MAX = 2 ** 36;

export class GuestMemoryMap {
  /** bytes of guest-physical address space covered by the map (RAM and holes below its top) */
  readonly topBytes: number;
  /** number of gfns covered; gfn >= gfnCount is never RAM */
  readonly gfnCount: number;
  /**
   * gfn -> hfn: a host frame number (> 0) once the frame is backed, 0 for RAM
   * not backed yet (host frame 0 is never handed out), -1 for a hole (MMIO).
   * Read it directly only to ask "is it backed"; `hfnFor` backs on demand.
   */
  readonly hfnOf: Int32Array;
  /** hfn -> gfn for guest frames, -1 for every other host frame (for dumps and isolation audits) */
  readonly gfnOf: Int32Array;
  /** bytes of guest RAM (topBytes minus holes and ROM); host frames back it as it is touched */
  readonly ramBytes: number;
  /** bytes of read-only memory (MmuOptions.rom): backed like RAM, written only by Mmu.loadRom */
  readonly romBytes: number;
  /** per gfn: 1 for a ROM frame; null when there is no ROM */
  readonly rom: Uint8Array | null;
  /** the ROM ranges the map was made with */
  readonly romRanges: readonly PhysicalHole[];
  readonly holes: readonly PhysicalHole[];
  /** guest frames backed by a host frame so far */
  backedFrames = 0;
  /** xorshift state choosing each new frame's place in host memory */
  private random: number;

  /**
   * Describes the guest's RAM; no host frame is taken yet. Each RAM frame is
   * backed by a zeroed host frame, chosen at random (from `seed`) among the
   * free ones, the first time anything asks for its host address
   * (`hfnFor`, `hpaOf`): guest memory costs host memory only as far as it is
   * used, so a guest's size can exceed the host memory as long as what it
   * touches fits.
   * @param topBytes guest-physical size in bytes (multiple of 4 KiB)
   * @param holes ranges inside [0, topBytes) that are not RAM (page aligned)
   * @param seed makes the scatter reproducible (for one order of first touches)
   * @param rom ranges inside [0, topBytes) of read-only memory, backed like
   *   RAM (the Mmu keeps writes out of them); validated by the Mmu
   * Throws RangeError with the offending value when a size or hole is malformed.
   */
  constructor(readonly host: HostMemory, topBytes: number, holes: readonly PhysicalHole[], seed: number, rom: readonly PhysicalHole[] = []) {
    if (!Number.isInteger(topBytes) || topBytes <= 0 || topBytes % PAGE_SIZE !== 0) {
      throw new RangeError(`guest memory size ${topBytes} is not a positive multiple of 4096 bytes`);
    }
    if (topBytes > GUEST_MEMORY_MAX) {
      throw new RangeError(`guest memory map of 0x${topBytes.toString(16)} bytes exceeds vmmu's limit of ${GUEST_MEMORY_MAX / 2 ** 30} GiB`);
    }
    const gfnCount = topBytes / PAGE_SIZE;
    // Zero-filled: every gfn starts as RAM not yet backed.
    this.hfnOf = new Int32Array(gfnCount);
    for (const h of holes) {
      if (!Number.isInteger(h.gpa) || !Number.isInteger(h.bytes) || h.gpa % PAGE_SIZE !== 0 || h.bytes % PAGE_SIZE !== 0 || h.bytes <= 0) {
        throw new RangeError(`memory hole at gpa ${h.gpa} of ${h.bytes} bytes is not page aligned`);
      }
      if (h.gpa + h.bytes > topBytes) {
        throw new RangeError(`memory hole at gpa 0x${h.gpa.toString(16)} of ${h.bytes} bytes ends beyond guest memory (0x${topBytes.toString(16)})`);
      }
      this.hfnOf.fill(-1, h.gpa / PAGE_SIZE, (h.gpa + h.bytes) / PAGE_SIZE);
    }
    // Hole frames counted over the holes' ranges only (they may overlap):
    // reading the whole table would touch every page of it.
    let holeFrames = 0;
    const sorted = [...holes].sort((a, b) => a.gpa - b.gpa);
    let covered = 0;
    for (const h of sorted) {
      const from = Math.max(h.gpa, covered);
      const to = h.gpa + h.bytes;
      if (to > from) holeFrames += (to - from) / PAGE_SIZE;
      covered = Math.max(covered, to);
    }
    this.topBytes = topBytes;
    this.gfnCount = gfnCount;
    this.gfnOf = new Int32Array(host.frames).fill(-1);
    const romFrames = rom.reduce((n, r) => n + r.bytes / PAGE_SIZE, 0);
    this.ramBytes = (gfnCount - holeFrames - romFrames) * PAGE_SIZE;
    this.romBytes = romFrames * PAGE_SIZE;
    this.romRanges = rom.map((r) => ({ gpa: r.gpa, bytes: r.bytes }));
    this.rom = romFrames === 0 ? null : new Uint8Array(gfnCount);
    for (const r of rom) this.rom!.fill(1, r.gpa / PAGE_SIZE, (r.gpa + r.bytes) / PAGE_SIZE);
    this.holes = holes.map((h) => ({ gpa: h.gpa, bytes: h.bytes }));
    this.random = (seed | 0) || 0x9e3779b9;
  }

  /** Whether gfn is memory, RAM or ROM (backed or not), rather than a hole. */
  isRam(gfn: number): boolean {
    return gfn >= 0 && gfn < this.gfnCount && this.hfnOf[gfn] !== -1;
  }

  /**
   * The host frame backing RAM frame `gfn` (0 <= gfn < gfnCount), backing it
   * now if it is not yet; -1 when the gfn is a hole. Throws RangeError when
   * host memory has no frame left for it.
   */
  hfnFor(gfn: number): number {
    const hfn = this.hfnOf[gfn]!;
    return hfn !== 0 ? hfn : this.back(gfn);
  }

  private back(gfn: number): number {
    let s = this.random;
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    this.random = s;
    const hfn = this.host.allocScatteredFrame(FRAME_GUEST, s);
    if (hfn < 0) {
      throw new RangeError(`host memory exhausted: the guest has touched ${(this.backedFrames * PAGE_SIZE / 2 ** 20).toFixed(1)} MiB of its ${(this.ramBytes / 2 ** 20).toFixed(0)} MiB of RAM, all that ${Math.floor(this.host.bytes / 2 ** 20)} MiB of host memory hold beside the MMU's own tables (the frame at gpa 0x${(gfn * PAGE_SIZE).toString(16)} did not fit)`);
    }
    this.hfnOf[gfn] = hfn;
    this.gfnOf[hfn] = gfn;
    this.backedFrames++;
    return hfn;
  }

  /**
   * Returns the hpa backing `gpa` (backing its frame now if needed), or -1
   * when the gpa is not RAM. `gpa` may be any exact integer below 2^52.
   */
  hpaOf(gpa: number): number {
    const gfn = Math.floor(gpa / PAGE_SIZE);
    if (gfn >= this.gfnCount) return -1;
    const hfn = this.hfnFor(gfn);
    return hfn < 0 ? -1 : (hfn << PAGE_SHIFT) | (gpa & 0xfff);
  }
}
