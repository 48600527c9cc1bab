/**
 * The MP configuration tables (Intel MultiProcessor Specification 1.4,
 * chapter 4) through which an operating system finds the local APIC, the
 * IOAPIC and how the ISA interrupts reach it, built into the BIOS ROM.
 *
 * The MP floating pointer structure ("_MP_", 16 bytes on a 16-byte
 * boundary in 0xF0000-0xFFFFF, where an OS searches) points at a
 * configuration table ("PCMP") with one processor (APIC ID 0, the
 * bootstrap processor), the ISA bus, the IOAPIC, an I/O interrupt entry per
 * ISA IRQ and the two local interrupt entries (ExtINT on LINT0, NMI on
 * LINT1). Feature byte 2 bit 7 is clear: virtual wire mode, no IMCR (the
 * local APIC starts in virtual wire mode, lapic.ts). ISA IRQ 0 (the PIT)
 * goes to IOAPIC pin 2, as on PCs whose chipset wires the 8254 there (and
 * as QEMU's PC and its SeaBIOS MP table do); the other ISA IRQs to the pin
 * of their number; IRQ 2 (the cascade) to none.
 */
import { IOAPIC_DEFAULT_BASE } from '../devices/ioapic.js';
import { LAPIC_DEFAULT_BASE, LAPIC_VERSION } from '../devices/lapic.js';

/** The IOAPIC's ID in the table (the local APIC is 0). */
export const MP_IOAPIC_ID = 1;

/** The IOAPIC pin of ISA IRQ `irq`, or -1 (see the file comment). */
export function isaIrqPin(irq: number): number {
  return irq === 0 ? 2 : irq === 2 ? -1 : irq;
}

export interface MpTableOptions {
  /** CPUID.1:EAX and CPUID.1:EDX of the processor */
  signature: number;
  features: number;
}

function checksum(b: Uint8Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += b[i]!;
  return (256 - (s & 0xff)) & 0xff;
}

/**
 * Writes the floating pointer at `image[fpAt]` and the configuration table
 * at `image[tableAt]`, where `image` is ROM loaded at guest-physical
 * `imageGpa`. Returns the configuration table's length.
 */
export function writeMpTable(image: Uint8Array, imageGpa: number, fpAt: number, tableAt: number, o: MpTableOptions): number {
  if ((imageGpa + fpAt) % 16 !== 0) throw new RangeError('the MP floating pointer must be 16-byte aligned');
  const entries: number[][] = [];
  const u16 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff];
  const u32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  // Processor: type 0, APIC ID, APIC version, flags (enabled, bootstrap), signature, features, reserved.
  entries.push([0, 0, LAPIC_VERSION & 0xff, 3, ...u32(o.signature), ...u32(o.features), ...u32(0), ...u32(0)]);
  // Bus 0: ISA.
  entries.push([1, 0, ...Buffer.from('ISA   ')]);
  // The IOAPIC: ID, version, enabled, address.
  entries.push([2, MP_IOAPIC_ID, 0x11, 1, ...u32(IOAPIC_DEFAULT_BASE)]);
  // I/O interrupts: type 0 (INT), flags 0 (conforming to the bus: edge, active high), bus 0, IRQ, IOAPIC, pin.
  for (let irq = 0; irq < 16; irq++) {
    const pin = isaIrqPin(irq);
    if (pin >= 0) entries.push([3, 0, ...u16(0), 0, irq, MP_IOAPIC_ID, pin]);
  }
  // Local interrupts: ExtINT to LINT0 and NMI to LINT1 of every local APIC (ID 0xFF).
  entries.push([4, 3, ...u16(0), 0, 0, 0xff, 0]);
  entries.push([4, 1, ...u16(0), 0, 0, 0xff, 1]);

  const body = entries.flat();
  const length = 44 + body.length;
  const t = new Uint8Array(length);
  t.set(Buffer.from('PCMP'), 0);
  t.set(u16(length), 4);
  t[6] = 4; // specification revision 1.4
  t.set(Buffer.from('VMMU    '), 8); // OEM ID
  t.set(Buffer.from('VMMU PC     '), 16); // product ID
  t.set(u16(entries.length), 34);
  t.set(u32(LAPIC_DEFAULT_BASE), 36);
  t.set(body, 44);
  t[7] = checksum(t, 0, length);
  image.set(t, tableAt);

  const fp = new Uint8Array(16);
  fp.set(Buffer.from('_MP_'), 0);
  fp.set(u32(imageGpa + tableAt), 4);
  fp[8] = 1; // length in 16-byte units
  fp[9] = 4; // revision 1.4
  // feature bytes 1-5 zero: a configuration table is present; virtual wire mode
  fp[10] = checksum(fp, 0, 16);
  image.set(fp, fpAt);
  return length;
}
