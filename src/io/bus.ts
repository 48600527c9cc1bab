/**
 * The I/O port bus and the MMIO bus. Devices register handlers for the ports
 * and guest-physical ranges they decode; the CPU reaches ports only through
 * IoBus, and guest memory only through the MMU, whose MMIO handler is this
 * bus's `mmio`.
 *
 * An unclaimed port reads as all ones and ignores writes, as on a PC's ISA
 * bus. Reads and writes wider than a handler supports are split into bytes
 * (little-endian), so a device may implement only 8-bit access.
 */
import createDebug from 'debug';
import type { MmioHandler } from '../mmu/index.js';

const log = createDebug('vmmu:io');

/** What a device implements for a range of ports. Missing widths are split into narrower accesses. */
export interface PortHandler {
  in8?(port: number): number;
  in16?(port: number): number;
  in32?(port: number): number;
  out8?(port: number, value: number): void;
  out16?(port: number, value: number): void;
  out32?(port: number, value: number): void;
}

interface MmioRange {
  start: number;
  end: number;
  handler: MmioHandler;
  name: string;
}

export class IoBus {
  private readonly handlers: (PortHandler | undefined)[] = new Array(65536);
  private readonly owners: (string | undefined)[] = new Array(65536);
  private readonly ranges: MmioRange[] = [];

  /**
   * Claims ports [start, start+count) for `handler`. Throws if a port is
   * already claimed (two devices decoding one port is a wiring mistake).
   */
  registerPorts(start: number, count: number, handler: PortHandler, name: string): void {
    for (let p = start; p < start + count; p++) {
      const owner = this.owners[p];
      if (owner !== undefined) throw new Error(`I/O port 0x${p.toString(16)} claimed by both ${owner} and ${name}`);
      this.handlers[p] = handler;
      this.owners[p] = name;
    }
  }

  /** Name of the device owning a port, if any. */
  ownerOf(port: number): string | undefined {
    return this.owners[port & 0xffff];
  }

  in8(port: number): number {
    const h = this.handlers[port & 0xffff];
    if (h?.in8) return h.in8(port & 0xffff) & 0xff;
    if (h === undefined) log('unclaimed in8 0x%s', port.toString(16));
    return 0xff;
  }

  in16(port: number): number {
    const h = this.handlers[port & 0xffff];
    if (h?.in16) return h.in16(port & 0xffff) & 0xffff;
    return this.in8(port) | (this.in8(port + 1) << 8);
  }

  in32(port: number): number {
    const h = this.handlers[port & 0xffff];
    if (h?.in32) return h.in32(port & 0xffff) | 0;
    return (this.in16(port) | (this.in16(port + 2) << 16)) | 0;
  }

  out8(port: number, value: number): void {
    const h = this.handlers[port & 0xffff];
    if (h?.out8) h.out8(port & 0xffff, value & 0xff);
    else if (h === undefined) log('unclaimed out8 0x%s <- 0x%s', port.toString(16), (value & 0xff).toString(16));
  }

  out16(port: number, value: number): void {
    const h = this.handlers[port & 0xffff];
    if (h?.out16) {
      h.out16(port & 0xffff, value & 0xffff);
      return;
    }
    this.out8(port, value);
    this.out8(port + 1, value >>> 8);
  }

  out32(port: number, value: number): void {
    const h = this.handlers[port & 0xffff];
    if (h?.out32) {
      h.out32(port & 0xffff, value | 0);
      return;
    }
    this.out16(port, value);
    this.out16(port + 2, value >>> 16);
  }

  /** Claims guest-physical [gpa, gpa+bytes) for memory-mapped I/O. Throws on overlap. */
  registerMmio(gpa: number, bytes: number, handler: MmioHandler, name: string): void {
    for (const r of this.ranges) {
      if (gpa < r.end && gpa + bytes > r.start) throw new Error(`MMIO range 0x${gpa.toString(16)}+${bytes} of ${name} overlaps ${r.name}`);
    }
    this.ranges.push({ start: gpa, end: gpa + bytes, handler, name });
  }

  /**
   * Moves the MMIO range registered as `name` to start at `gpa` (a device
   * whose base the guest relocates, as the local APIC's through
   * IA32_APIC_BASE). Throws if there is no such range or the new place
   * overlaps another.
   */
  moveMmio(name: string, gpa: number): void {
    const r = this.ranges.find((x) => x.name === name);
    if (r === undefined) throw new Error(`no MMIO range named ${name}`);
    const bytes = r.end - r.start;
    for (const o of this.ranges) {
      if (o !== r && gpa < o.end && gpa + bytes > o.start) throw new Error(`MMIO range 0x${gpa.toString(16)}+${bytes} of ${name} overlaps ${o.name}`);
    }
    r.start = gpa;
    r.end = gpa + bytes;
  }

  /** The MMU's MMIO handler: dispatches to the registered ranges; elsewhere the open bus (all ones). */
  readonly mmio: MmioHandler = {
    read: (gpa: number, size: 1 | 2 | 4): number => {
      for (const r of this.ranges) if (gpa >= r.start && gpa < r.end) return r.handler.read(gpa, size);
      return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    },
    write: (gpa: number, size: 1 | 2 | 4, value: number): void => {
      for (const r of this.ranges) {
        if (gpa >= r.start && gpa < r.end) {
          r.handler.write(gpa, size, value);
          return;
        }
      }
    },
  };
}
