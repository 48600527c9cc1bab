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

export class GuestMemoryMap {
  /** bytes of guest-physical address space covered by the map (RAM and holes below its top) */
  readonly topBytes: number;
  /** number of gfns covered; gfn >= gfnCount is never RAM */
  readonly gfnCount: number;
  /** gfn -> hfn, or -1 when the gfn is a hole (MMIO) */
  readonly hfnOf: Int32Array;
  /** hfn -> gfn for guest frames, -1 for every other host frame (for dumps and isolation audits) */
  readonly gfnOf: Int32Array;
  /** bytes of RAM actually backed (topBytes minus holes) */
  readonly ramBytes: number;
  readonly holes: readonly PhysicalHole[];

  /**
   * Allocates and scatters the host frames of the guest's RAM.
   * @param topBytes guest-physical size in bytes (multiple of 4 KiB)
   * @param holes ranges inside [0, topBytes) that are not RAM (page aligned)
   * @param seed makes the scatter reproducible
   * Throws RangeError with the offending value when a size or hole is malformed
   * or host memory is too small.
   */
  constructor(readonly host: HostMemory, topBytes: number, holes: readonly PhysicalHole[], seed: number) {
    if (!Number.isInteger(topBytes) || topBytes <= 0 || topBytes % PAGE_SIZE !== 0) {
      throw new RangeError(`guest memory size ${topBytes} is not a positive multiple of 4096 bytes`);
    }
    const gfnCount = topBytes / PAGE_SIZE;
    const isHole = new Uint8Array(gfnCount);
    for (const h of holes) {
      if (!Number.isInteger(h.gpa) || !Number.isInteger(h.bytes) || h.gpa % PAGE_SIZE !== 0 || h.bytes % PAGE_SIZE !== 0 || h.bytes <= 0) {
        throw new RangeError(`memory hole at gpa ${h.gpa} of ${h.bytes} bytes is not page aligned`);
      }
      if (h.gpa + h.bytes > topBytes) {
        throw new RangeError(`memory hole at gpa 0x${h.gpa.toString(16)} of ${h.bytes} bytes ends beyond guest memory (0x${topBytes.toString(16)})`);
      }
      isHole.fill(1, h.gpa / PAGE_SIZE, (h.gpa + h.bytes) / PAGE_SIZE);
    }
    let ramFrames = 0;
    for (let gfn = 0; gfn < gfnCount; gfn++) if (!isHole[gfn]) ramFrames++;
    const hfns = host.allocScattered(ramFrames, FRAME_GUEST, seed);
    this.topBytes = topBytes;
    this.gfnCount = gfnCount;
    this.hfnOf = new Int32Array(gfnCount);
    this.gfnOf = new Int32Array(host.frames).fill(-1);
    let k = 0;
    for (let gfn = 0; gfn < gfnCount; gfn++) {
      if (isHole[gfn]) {
        this.hfnOf[gfn] = -1;
      } else {
        const hfn = hfns[k++]!;
        this.hfnOf[gfn] = hfn;
        this.gfnOf[hfn] = gfn; // allocScattered hands out zeroed frames
      }
    }
    this.ramBytes = ramFrames * PAGE_SIZE;
    this.holes = holes.map((h) => ({ gpa: h.gpa, bytes: h.bytes }));
  }

  /**
   * Returns the hpa backing `gpa`, or -1 when the gpa is not RAM.
   * `gpa` may be any exact integer below 2^52.
   */
  hpaOf(gpa: number): number {
    const gfn = Math.floor(gpa / PAGE_SIZE);
    if (gfn >= this.gfnCount) return -1;
    const hfn = this.hfnOf[gfn]!;
    return hfn < 0 ? -1 : (hfn << PAGE_SHIFT) | (gpa & 0xfff);
  }
}
