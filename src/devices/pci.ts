/**
 * PCI configuration space through configuration mechanism #1 (PCI Local Bus
 * Specification 2.1, 3.7.4.1), bus 0 with an Intel 82441FX PMC (i440FX
 * host bridge) at 00:00.0 and an 82371SB PIIX3 PCI-to-ISA bridge at
 * 00:01.0, and the chipset's reset control register at 0xcf9.
 *
 *   0xcf8 CONFIG_ADDRESS (dword accesses only)
 *     | enable (31) | reserved, reads 0 (30:24) | bus (23:16) | device (15:11) |
 *     | function (10:8) | register (7:2) | 0 0 |
 *   0xcfc-0xcff CONFIG_DATA: the addressed dword; byte and word accesses
 *     reach the bytes at their offset within it
 *   0xcf9 reset control (PIIX3 TRC, byte): | 0 0 0 0 | 0 | RCPU | SRST | 0 |
 *
 * Byte and word accesses to 0xcf8-0xcfb are not configuration cycles: they
 * pass to the ISA bus (open bus, 0xff) except 0xcf9, the TRC register. This
 * is what Linux's pci_check_type1 probes: a byte write to 0xcfb must not
 * disturb CONFIG_ADDRESS, and a dword written there must read back.
 *
 * A configuration read with the enable bit clear, on a bus other than 0, or
 * of a device/function nobody claims returns all ones (the master abort a
 * host bridge turns into 0xffffffff); writes there are dropped.
 *
 * Each function is 256 bytes of configuration space with, per byte, a mask
 * of the bits software may write and a mask of the bits a 1 clears (status
 * register error bits). A base address register is just writable bits above
 * its size over read-only type bits, so the sizing protocol of the PCI spec
 * (6.2.5.1: write all ones, read back, the low zero bits give the size)
 * falls out of the masks. Devices subclass PciFunction (or set onConfigWrite)
 * to react to writes, e.g. to move their decoders when a BAR or the command
 * register changes.
 *
 * TRC: a 0 -> 1 transition of RCPU (bit 2) resets the system: SRST (bit 1)
 * = 1 asks for a hard reset (onReset), 0 for a soft reset (INIT, onCpuInit;
 * without that callback onReset). Linux's reboot=pci writes 0x02 then 0x06.
 */
import createDebug from 'debug';
import type { IoBus } from '../io/bus.js';

const log = createDebug('vmmu:pci');

export const PCI_CONFIG_ADDRESS = 0xcf8;
export const PCI_CONFIG_DATA = 0xcfc;
export const PCI_RESET_CONTROL = 0xcf9;

/** CONFIG_ADDRESS bits that hold state: enable, bus, device, function, register */
const ADDRESS_MASK = 0x80fffffc;
const ADDRESS_ENABLE = 0x80000000;

/** header offsets (PCI Local Bus Specification 6.1) */
export const PCI_VENDOR_ID = 0x00;
export const PCI_DEVICE_ID = 0x02;
export const PCI_COMMAND = 0x04;
export const PCI_STATUS = 0x06;
export const PCI_REVISION = 0x08;
export const PCI_CLASS_PROG = 0x09;
export const PCI_CACHE_LINE = 0x0c;
export const PCI_LATENCY = 0x0d;
export const PCI_HEADER_TYPE = 0x0e;
export const PCI_BAR0 = 0x10;
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
export const PCI_ROM_ADDRESS = 0x30;
export const PCI_INTERRUPT_LINE = 0x3c;
export const PCI_INTERRUPT_PIN = 0x3d;

export const PCI_COMMAND_IO = 0x1;
export const PCI_COMMAND_MEMORY = 0x2;
export const PCI_COMMAND_MASTER = 0x4;
export const PCI_HEADER_MULTIFUNCTION = 0x80;

/** TRC bits */
const TRC_SRST = 0x02;
const TRC_RCPU = 0x04;
/** TRC bits that hold state (bit 3 is the full-reset bit of later chipsets, kept as written) */
const TRC_MASK = 0x0e;

/** What a base address register decodes. */
export type PciBarKind = 'io' | 'mem32' | 'mem64';

export interface PciBarSpec {
  kind: PciBarKind;
  /** bytes decoded: a power of two, at least 4 (I/O) or 16 (memory) */
  size: number;
  prefetchable?: boolean;
}

/** Identity and header fields of a function (type 0 header unless headerType says otherwise). */
export interface PciFunctionIds {
  vendorId: number;
  deviceId: number;
  /** class (23:16), subclass (15:8), programming interface (7:0) */
  classCode: number;
  revision?: number;
  /** header layout (bits 6:0); bit 7 (multifunction) is managed by the bus */
  headerType?: number;
  subsystemVendorId?: number;
  subsystemId?: number;
  /** 0 = none, 1-4 = INTA#-INTD# */
  interruptPin?: number;
  /** command register value at reset */
  command?: number;
  /** status register value at reset */
  status?: number;
}

/**
 * One PCI function's configuration space. Reads and writes are little-
 * endian, of 1, 2 or 4 bytes within one dword.
 */
export class PciFunction {
  readonly config = new Uint8Array(256);
  /** per byte: bits a write may change */
  readonly writeMask = new Uint8Array(256);
  /** per byte: bits a write of 1 clears (write-one-to-clear status bits) */
  readonly clearMask = new Uint8Array(256);
  /** the configuration space at reset */
  private readonly resetConfig = new Uint8Array(256);
  /** called after every write that reached this function, with the written range */
  onConfigWrite: ((offset: number, size: number) => void) | null = null;

  constructor(readonly name: string, ids: PciFunctionIds) {
    const c = this.config;
    this.set16(PCI_VENDOR_ID, ids.vendorId);
    this.set16(PCI_DEVICE_ID, ids.deviceId);
    this.set16(PCI_COMMAND, ids.command ?? 0);
    this.set16(PCI_STATUS, ids.status ?? 0);
    c[PCI_REVISION] = ids.revision ?? 0;
    c[PCI_CLASS_PROG] = ids.classCode & 0xff;
    c[PCI_CLASS_PROG + 1] = (ids.classCode >> 8) & 0xff;
    c[PCI_CLASS_PROG + 2] = (ids.classCode >> 16) & 0xff;
    c[PCI_HEADER_TYPE] = (ids.headerType ?? 0) & 0x7f;
    this.set16(PCI_SUBSYSTEM_VENDOR_ID, ids.subsystemVendorId ?? 0);
    this.set16(PCI_SUBSYSTEM_VENDOR_ID + 2, ids.subsystemId ?? 0);
    c[PCI_INTERRUPT_PIN] = ids.interruptPin ?? 0;
    // writable in every header: command (I/O, memory, master, parity, SERR, INTx disable),
    // cache line size, latency timer, interrupt line; status error bits are write-one-to-clear
    this.writeMask[PCI_COMMAND] = 0x47;
    this.writeMask[PCI_COMMAND + 1] = 0x05;
    this.clearMask[PCI_STATUS + 1] = 0xf9;
    this.writeMask[PCI_CACHE_LINE] = 0xff;
    this.writeMask[PCI_LATENCY] = 0xff;
    this.writeMask[PCI_INTERRUPT_LINE] = 0xff;
    this.resetConfig.set(c);
  }

  /**
   * Declares BAR `index` (0-5; a 64-bit BAR also takes index + 1). Its type
   * bits become read-only and its address bits below `size` read 0.
   * Throws on a size that is not a power of two or too small.
   */
  defineBar(index: number, spec: PciBarSpec): void {
    const io = spec.kind === 'io';
    const min = io ? 4 : 16;
    if (!(index >= 0 && index <= (spec.kind === 'mem64' ? 4 : 5))) throw new RangeError(`${this.name}: no BAR ${index} for a ${spec.kind} BAR`);
    if (!(spec.size >= min && spec.size <= 0x80000000 && (spec.size & (spec.size - 1)) === 0)) {
      throw new RangeError(`${this.name}: BAR ${index} size ${spec.size} is not a power of two from ${min}`);
    }
    const type = io ? 0x1 : (spec.kind === 'mem64' ? 0x4 : 0) | (spec.prefetchable ? 0x8 : 0);
    const off = PCI_BAR0 + index * 4;
    this.setMaskedDword(off, type, ~(spec.size - 1) & (io ? 0xfffffffc : 0xfffffff0));
    if (spec.kind === 'mem64') this.setMaskedDword(off + 4, 0, 0xffffffff);
  }

  /** Declares an expansion ROM of `size` bytes (a power of two from 2 KiB): address bits and the enable bit writable. */
  defineRom(size: number): void {
    if (!(size >= 0x800 && size <= 0x80000000 && (size & (size - 1)) === 0)) throw new RangeError(`${this.name}: ROM size ${size} is not a power of two from 2 KiB`);
    this.setMaskedDword(PCI_ROM_ADDRESS, 0, (~(size - 1) & 0xfffff800) | 1);
  }

  /** The address BAR `index` holds (without its type bits); a 64-bit BAR's upper half included. */
  barAddress(index: number): number {
    const off = PCI_BAR0 + index * 4;
    const lo = this.get32(off);
    if (lo & 1) return (lo & 0xfffffffc) >>> 0;
    const base = (lo & 0xfffffff0) >>> 0;
    return (lo & 0x6) === 0x4 ? base + this.get32(off + 4) * 0x100000000 : base;
  }

  /** Makes `bytes` bytes from `offset` writable (device-specific registers), with `mask` per byte. */
  setWritable(offset: number, bytes: number, mask = 0xff): void {
    for (let i = 0; i < bytes; i++) this.writeMask[offset + i] = mask;
  }

  /** Sets a register's reset value (and current value), bypassing the write mask. */
  setDefault(offset: number, bytes: number, value: number): void {
    for (let i = 0; i < bytes; i++) {
      const b = Math.floor(value / 2 ** (8 * i)) & 0xff;
      this.config[offset + i] = b;
      this.resetConfig[offset + i] = b;
    }
  }

  /** A little-endian read of `size` (1, 2, 4) bytes at `offset`. */
  readConfig(offset: number, size: number): number {
    const c = this.config;
    if (size === 1) return c[offset];
    if (size === 2) return c[offset] | (c[offset + 1] << 8);
    return (c[offset] | (c[offset + 1] << 8) | (c[offset + 2] << 16) | (c[offset + 3] << 24)) >>> 0;
  }

  /** A little-endian write of `size` bytes at `offset`, through the write and clear masks; then onConfigWrite. */
  writeConfig(offset: number, size: number, value: number): void {
    for (let i = 0; i < size; i++) {
      const o = offset + i;
      const v = (value >>> (8 * i)) & 0xff;
      const m = this.writeMask[o];
      this.config[o] = ((this.config[o] & ~m) | (v & m)) & ~(v & this.clearMask[o]);
    }
    this.onConfigWrite?.(offset, size);
  }

  /** Back to the reset values. */
  reset(): void {
    this.config.set(this.resetConfig);
  }

  save(): number[] {
    return Array.from(this.config);
  }

  restore(config: number[]): void {
    for (let i = 0; i < 256; i++) this.config[i] = config[i] & 0xff;
  }

  /** Sets multifunction bit of the header type (the bus does this for function 0 of a multi-function device). */
  markMultifunction(): void {
    this.config[PCI_HEADER_TYPE] |= PCI_HEADER_MULTIFUNCTION;
    this.resetConfig[PCI_HEADER_TYPE] |= PCI_HEADER_MULTIFUNCTION;
  }

  private set16(offset: number, v: number): void {
    this.config[offset] = v & 0xff;
    this.config[offset + 1] = (v >> 8) & 0xff;
  }

  private get32(offset: number): number {
    return this.readConfig(offset, 4);
  }

  private setMaskedDword(offset: number, value: number, mask: number): void {
    for (let i = 0; i < 4; i++) {
      this.config[offset + i] = (value >>> (8 * i)) & 0xff;
      this.resetConfig[offset + i] = this.config[offset + i];
      this.writeMask[offset + i] = (mask >>> (8 * i)) & 0xff;
    }
  }
}

/** i440FX SMRAM control register (0x72) bits */
const SMRAM_D_OPEN = 0x40;
const SMRAM_D_LCK = 0x10;

/**
 * The 82441FX PMC's configuration function (82441FX datasheet, register
 * summary): 8086:1237, host bridge class 06 00 00. Command 0x0006 (memory
 * and bus master hardwired on; parity and SERR enables writable), status
 * 0x0280 (fast back-to-back capable, medium DEVSEL). Registers from 0x50 up
 * are stored as written; those with a non-zero default carry it:
 * PAM0-PAM6 (0x59-0x5f, the C0000-FFFFF shadow attributes) 0x00, SMRAM
 * (0x72) 0x02 with C_BASE_SEG (2:0) fixed at 010 (A0000). Setting D_LCK
 * clears D_OPEN and makes both read-only until reset. Nothing here changes
 * how guest memory is decoded: a machine that wants shadowing reads
 * pam() / smram() (or sets onConfigWrite).
 */
export class I440fxHostBridge extends PciFunction {
  constructor() {
    super('i440fx', { vendorId: 0x8086, deviceId: 0x1237, classCode: 0x060000, revision: 0x02, command: 0x0006, status: 0x0280 });
    this.writeMask[PCI_COMMAND] = 0x40;
    this.writeMask[PCI_COMMAND + 1] = 0x01;
    this.writeMask[PCI_CACHE_LINE] = 0;
    this.writeMask[PCI_LATENCY] = 0xf8;
    this.writeMask[PCI_INTERRUPT_LINE] = 0;
    this.setWritable(0x50, 0xb0);
    this.writeMask[0x72] = 0x78;
    this.setDefault(0x72, 1, 0x02);
  }

  /** PAM register n (0-6). */
  pam(n: number): number {
    return this.config[0x59 + n];
  }

  /** The SMRAM control register. */
  smram(): number {
    return this.config[0x72];
  }

  override writeConfig(offset: number, size: number, value: number): void {
    const i = 0x72 - offset;
    if (i >= 0 && i < size && (this.config[0x72] & SMRAM_D_LCK)) {
      // locked: D_OPEN and D_LCK keep their values
      const keep = SMRAM_D_OPEN | SMRAM_D_LCK;
      const shift = 8 * i;
      value = ((value & ~(keep << shift)) | ((this.config[0x72] & keep) << shift)) >>> 0;
    }
    super.writeConfig(offset, size, value);
    if (i >= 0 && i < size && ((value >>> (8 * i)) & SMRAM_D_LCK)) this.config[0x72] &= ~SMRAM_D_OPEN;
  }
}

/**
 * The 82371SB PIIX3 function 0, the PCI-to-ISA bridge (82371SB datasheet,
 * register summary): 8086:7000, class 06 01 00, a multi-function device.
 * Command 0x0007, status 0x0200. Device registers from 0x40 are stored as
 * written, with their datasheet defaults: IORT (0x4c) 0x4d, XBCS (0x4e)
 * 0x0003, PIRQRC[A-D] (0x60-0x63) 0x80 (routing disabled), TOM (0x69) 0x02,
 * MBIRQ0/1 (0x70, 0x71) 0x80, MBDMA (0x76, 0x77) 0x0c, PCSC (0x78) 0x0002,
 * SMICNTL (0xa0) 0x08, FTMR (0xa8) 0x0f, the rest 0. The ELCR lives with the
 * PIC (ports 0x4d0/0x4d1).
 *
 *   PIRQRCx | IRQROUTEN (1 = not routed) | 0 0 0 | IRQ (3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15) |
 */
export class Piix3IsaBridge extends PciFunction {
  constructor() {
    super('piix3-isa', { vendorId: 0x8086, deviceId: 0x7000, classCode: 0x060100, command: 0x0007, status: 0x0200 });
    this.markMultifunction();
    this.writeMask[PCI_COMMAND] = 0x48;
    this.writeMask[PCI_COMMAND + 1] = 0x01;
    this.clearMask[PCI_STATUS + 1] = 0x78;
    this.writeMask[PCI_CACHE_LINE] = 0;
    this.writeMask[PCI_LATENCY] = 0;
    this.writeMask[PCI_INTERRUPT_LINE] = 0;
    this.setWritable(0x40, 0xc0);
    this.setWritable(0x60, 4, 0x8f);
    this.setDefault(0x4c, 1, 0x4d);
    this.setDefault(0x4e, 2, 0x0003);
    this.setDefault(0x60, 4, 0x80808080);
    this.setDefault(0x69, 1, 0x02);
    this.setDefault(0x70, 2, 0x8080);
    this.setDefault(0x76, 2, 0x0c0c);
    this.setDefault(0x78, 2, 0x0002);
    this.setDefault(0xa0, 1, 0x08);
    this.setDefault(0xa8, 1, 0x0f);
  }

  /**
   * The ISA IRQ PCI interrupt line PIRQ[pin] (0-3 for A-D) is routed to, or
   * -1 when routing is off or the IRQ field holds a reserved value (0-2, 8, 13).
   */
  pirqRoute(pin: number): number {
    const v = this.config[0x60 + (pin & 3)];
    const irq = v & 0x0f;
    if (v & 0x80 || irq < 3 || irq === 8 || irq === 13) return -1;
    return irq;
  }
}

export interface PciOptions {
  /** a hard reset was requested through 0xcf9 */
  onReset?: () => void;
  /** a soft reset (CPU INIT) was requested through 0xcf9; onReset is called when absent */
  onCpuInit?: () => void;
}

/** Saved state (plain JSON): CONFIG_ADDRESS, TRC and each function's configuration space by devfn. */
export interface PciState {
  address: number;
  trc: number;
  functions: { devfn: number; config: number[] }[];
}

export class PciBus {
  /** bus 0 functions by devfn (device << 3 | function) */
  private readonly functions: (PciFunction | undefined)[] = new Array<PciFunction | undefined>(256);
  private address = 0;
  private trc = 0;
  readonly hostBridge: I440fxHostBridge;
  readonly isaBridge: Piix3IsaBridge;

  constructor(private readonly io: IoBus, private readonly options: PciOptions = {}) {
    io.registerPorts(PCI_CONFIG_ADDRESS, 8, {
      in8: (port) => this.in8(port),
      in16: (port) => this.in16(port),
      in32: (port) => this.in32(port),
      out8: (port, v) => this.out8(port, v),
      out16: (port, v) => this.out16(port, v),
      out32: (port, v) => this.out32(port, v),
    }, 'pci');
    this.hostBridge = new I440fxHostBridge();
    this.isaBridge = new Piix3IsaBridge();
    this.addFunction(0, 0, this.hostBridge);
    this.addFunction(1, 0, this.isaBridge);
  }

  /**
   * Puts `f` at 00:device.fn. Throws if the slot is taken or out of range.
   * Adding a function other than 0 marks function 0 of the device (when
   * present) multi-function, so that scans look past it.
   */
  addFunction(device: number, fn: number, f: PciFunction): void {
    if (!(device >= 0 && device < 32 && fn >= 0 && fn < 8)) throw new RangeError(`PCI device ${device} function ${fn} out of range`);
    const devfn = (device << 3) | fn;
    const owner = this.functions[devfn];
    if (owner) throw new Error(`PCI 00:${device.toString(16).padStart(2, '0')}.${fn} claimed by both ${owner.name} and ${f.name}`);
    this.functions[devfn] = f;
    if (fn !== 0) this.functions[device << 3]?.markMultifunction();
    else if (this.functions.slice(devfn + 1, devfn + 8).some((g) => g)) f.markMultifunction();
    log('00:%s.%d %s', device.toString(16).padStart(2, '0'), fn, f.name);
  }

  /** The function at 00:device.fn, if any. */
  functionAt(device: number, fn: number): PciFunction | undefined {
    return this.functions[((device & 31) << 3) | (fn & 7)];
  }

  /** A configuration read as a type 0/1 cycle would do it: all ones where nothing answers. `offset` + `size` stays within one dword. */
  configRead(bus: number, devfn: number, offset: number, size: number): number {
    const f = bus === 0 ? this.functions[devfn & 0xff] : undefined;
    if (!f) return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    return f.readConfig(offset & 0xff, size);
  }

  /** A configuration write; dropped where nothing answers. */
  configWrite(bus: number, devfn: number, offset: number, size: number, value: number): void {
    const f = bus === 0 ? this.functions[devfn & 0xff] : undefined;
    if (f) f.writeConfig(offset & 0xff, size, value);
  }

  /** Resets CONFIG_ADDRESS, TRC and every function. */
  reset(): void {
    this.address = 0;
    this.trc = 0;
    for (const f of this.functions) f?.reset();
  }

  /** CONFIG_DATA access of `size` bytes at byte `off` of the addressed dword. */
  private dataRead(off: number, size: number): number {
    const a = this.address;
    if (!(a & ADDRESS_ENABLE)) return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    return this.configRead((a >>> 16) & 0xff, (a >>> 8) & 0xff, (a & 0xfc) + off, size);
  }

  private dataWrite(off: number, size: number, value: number): void {
    const a = this.address;
    if (!(a & ADDRESS_ENABLE)) return;
    if (log.enabled) log('write %s:%s +0x%s/%d <- 0x%s', ((a >>> 16) & 0xff).toString(16), ((a >>> 8) & 0xff).toString(16), ((a & 0xfc) + off).toString(16), size, (value >>> 0).toString(16));
    this.configWrite((a >>> 16) & 0xff, (a >>> 8) & 0xff, (a & 0xfc) + off, size, value);
  }

  private in8(port: number): number {
    if (port >= PCI_CONFIG_DATA) return this.dataRead(port & 3, 1);
    if (port === PCI_RESET_CONTROL) return this.trc;
    return 0xff; // byte access to CONFIG_ADDRESS: an ISA cycle nobody answers
  }

  private in16(port: number): number {
    if (port >= PCI_CONFIG_DATA && port <= PCI_CONFIG_DATA + 2) return this.dataRead(port & 3, 2);
    return this.io.in8(port) | (this.io.in8(port + 1) << 8);
  }

  private in32(port: number): number {
    if (port === PCI_CONFIG_ADDRESS) return this.address | 0;
    if (port === PCI_CONFIG_DATA) return this.dataRead(0, 4) | 0;
    return (this.in16(port) | (this.io.in16(port + 2) << 16)) | 0;
  }

  private out8(port: number, v: number): void {
    if (port >= PCI_CONFIG_DATA) this.dataWrite(port & 3, 1, v);
    else if (port === PCI_RESET_CONTROL) this.writeTrc(v);
  }

  private out16(port: number, v: number): void {
    if (port >= PCI_CONFIG_DATA && port <= PCI_CONFIG_DATA + 2) {
      this.dataWrite(port & 3, 2, v);
      return;
    }
    this.io.out8(port, v);
    this.io.out8(port + 1, v >>> 8);
  }

  private out32(port: number, v: number): void {
    if (port === PCI_CONFIG_ADDRESS) {
      this.address = (v & ADDRESS_MASK) >>> 0;
      return;
    }
    if (port === PCI_CONFIG_DATA) {
      this.dataWrite(0, 4, v >>> 0);
      return;
    }
    this.out16(port, v);
    this.io.out16(port + 2, v >>> 16);
  }

  private writeTrc(v: number): void {
    const old = this.trc;
    this.trc = v & TRC_MASK;
    if (!(old & TRC_RCPU) && (v & TRC_RCPU)) {
      if (v & TRC_SRST || !this.options.onCpuInit) {
        log('0xcf9: %s reset', v & TRC_SRST ? 'hard' : 'soft');
        this.options.onReset?.();
      } else {
        log('0xcf9: soft reset (INIT)');
        this.options.onCpuInit();
      }
    }
  }

  save(): PciState {
    const functions: { devfn: number; config: number[] }[] = [];
    this.functions.forEach((f, devfn) => {
      if (f) functions.push({ devfn, config: f.save() });
    });
    return { address: this.address, trc: this.trc, functions };
  }

  /** Restores the saved configuration spaces into the functions present now (a function missing from either side is left alone). */
  restore(state: object): void {
    const s = state as PciState;
    this.address = (s.address & ADDRESS_MASK) >>> 0;
    this.trc = s.trc & TRC_MASK;
    for (const { devfn, config } of s.functions) this.functions[devfn]?.restore(config);
  }
}
