/**
 * PCI configuration mechanism #1, the i440FX/PIIX3 bridges and the 0xcf9
 * reset register, driven through ports the way Linux's pci=conf1 code does.
 */
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../src/io/bus.js';
import { PciBus, PciFunction, type PciOptions } from '../../src/devices/pci.js';

function setup(options: PciOptions = {}): { io: IoBus; pci: PciBus } {
  const io = new IoBus();
  const pci = new PciBus(io, options);
  return { io, pci };
}

/** Linux's PCI_CONF1_ADDRESS */
const addr = (bus: number, dev: number, fn: number, reg: number): number => (0x80000000 | (bus << 16) | (dev << 11) | (fn << 8) | (reg & 0xfc)) >>> 0;

/** pci_conf1_read: address, then a data access of `len` bytes at the register's offset within the dword */
function confRead(io: IoBus, bus: number, dev: number, fn: number, reg: number, len: 1 | 2 | 4): number {
  io.out32(0xcf8, addr(bus, dev, fn, reg));
  if (len === 1) return io.in8(0xcfc + (reg & 3));
  if (len === 2) return io.in16(0xcfc + (reg & 2));
  return io.in32(0xcfc) >>> 0;
}

function confWrite(io: IoBus, bus: number, dev: number, fn: number, reg: number, len: 1 | 2 | 4, v: number): void {
  io.out32(0xcf8, addr(bus, dev, fn, reg));
  if (len === 1) io.out8(0xcfc + (reg & 3), v);
  else if (len === 2) io.out16(0xcfc + (reg & 2), v);
  else io.out32(0xcfc, v);
}

describe('Linux\'s conf1 probe', () => {
  it('does pci_check_type1 see CONFIG_ADDRESS hold 0x80000000 after a byte write to 0xcfb, and pci_sanity_check find a host bridge on bus 0?', () => {
    const { io } = setup();
    io.out8(0xcfb, 0x01);
    const tmp = io.in32(0xcf8) >>> 0;
    io.out32(0xcf8, 0x80000000);
    expect(io.in32(0xcf8) >>> 0).toBe(0x80000000);
    io.out8(0xcfb, 0x01); // a byte access is an ISA cycle, not CONFIG_ADDRESS
    expect(io.in32(0xcf8) >>> 0).toBe(0x80000000);
    let found = -1;
    for (let devfn = 0; devfn < 256 && found < 0; devfn++) {
      const cls = confRead(io, 0, devfn >> 3, devfn & 7, 0x0a, 2);
      if (cls === 0x0600 || cls === 0x0300) found = devfn;
    }
    expect(found).toBe(0);
    io.out32(0xcf8, tmp);
    expect(io.in32(0xcf8) >>> 0).toBe(tmp);
  });

  it('do the reserved bits of CONFIG_ADDRESS (30:24, 1:0) read 0?', () => {
    const { io } = setup();
    io.out32(0xcf8, 0xffffffff);
    expect(io.in32(0xcf8) >>> 0).toBe(0x80fffffc);
  });

  it('does a scan of bus 0 (vendor dwords, multi-function bit) find exactly 00:00.0 and 00:01.0?', () => {
    const { io } = setup();
    const found: string[] = [];
    for (let dev = 0; dev < 32; dev++) {
      for (let fn = 0; fn < 8; fn++) {
        const id = confRead(io, 0, dev, fn, 0, 4);
        if (id === 0xffffffff) {
          if (fn === 0) break;
          continue;
        }
        found.push(`${dev}.${fn}`);
        if (fn === 0 && !(confRead(io, 0, dev, 0, 0x0e, 1) & 0x80)) break;
      }
    }
    expect(found).toEqual(['0.0', '1.0']);
  });
});

describe('host bridge and ISA bridge', () => {
  it('does 00:00.0 read as 8086:1237, class 06 00 00, header type 0, in dword, word and byte accesses at every offset?', () => {
    const { io } = setup();
    expect(confRead(io, 0, 0, 0, 0, 4)).toBe(0x12378086);
    expect([0, 1, 2, 3].map((r) => confRead(io, 0, 0, 0, r, 1))).toEqual([0x86, 0x80, 0x37, 0x12]);
    expect(confRead(io, 0, 0, 0, 2, 2)).toBe(0x1237);
    expect(io.in16(0xcfd)).toBe(0x3780); // an unaligned word inside the dword
    expect(confRead(io, 0, 0, 0, 0x08, 4) >>> 8).toBe(0x060000);
    expect(confRead(io, 0, 0, 0, 0x0e, 1)).toBe(0x00);
    expect(confRead(io, 0, 0, 0, 0x04, 2)).toBe(0x0006);
    expect(confRead(io, 0, 0, 0, 0x06, 2)).toBe(0x0280);
  });

  it('does 00:01.0 read as 8086:7000, class 06 01 00, a multi-function header, with PIRQ routing off?', () => {
    const { io, pci } = setup();
    expect(confRead(io, 0, 1, 0, 0, 4)).toBe(0x70008086);
    expect(confRead(io, 0, 1, 0, 0x0a, 2)).toBe(0x0601);
    expect(confRead(io, 0, 1, 0, 0x0e, 1)).toBe(0x80);
    expect(confRead(io, 0, 1, 0, 0x60, 4)).toBe(0x80808080);
    expect([0, 1, 2, 3].map((p) => pci.isaBridge.pirqRoute(p))).toEqual([-1, -1, -1, -1]);
  });

  it('are the PIRQ route registers stored per byte, and decoded to ISA IRQs with the reserved values refused?', () => {
    const { io, pci } = setup();
    confWrite(io, 0, 1, 0, 0x60, 4, 0x0a0b0c8b);
    confWrite(io, 0, 1, 0, 0x63, 1, 0x7d); // bits 6:4 are reserved
    expect(confRead(io, 0, 1, 0, 0x60, 4)).toBe(0x0d0b0c8b);
    expect([0, 1, 2, 3].map((p) => pci.isaBridge.pirqRoute(p))).toEqual([-1, 12, 11, -1]);
    confWrite(io, 0, 1, 0, 0x62, 2, 0x0509);
    expect([pci.isaBridge.pirqRoute(2), pci.isaBridge.pirqRoute(3)]).toEqual([9, 5]);
  });

  it('does Linux\'s PIIX3 passive-release quirk (DLC 0x82 bit 1) stick?', () => {
    const { io } = setup();
    const dlc = confRead(io, 0, 1, 0, 0x82, 1);
    expect(dlc & 2).toBe(0);
    confWrite(io, 0, 1, 0, 0x82, 1, dlc | 2);
    expect(confRead(io, 0, 1, 0, 0x82, 1) & 2).toBe(2);
  });

  it('are the PAM registers stored, and SMRAM reset to 0x02 with its base segment fixed and D_LCK freezing D_OPEN?', () => {
    const { io, pci } = setup();
    confWrite(io, 0, 0, 0, 0x59, 1, 0x30);
    confWrite(io, 0, 0, 0, 0x5a, 2, 0x3333);
    expect(confRead(io, 0, 0, 0, 0x58, 4) >>> 8).toBe(0x333330);
    expect(pci.hostBridge.pam(0)).toBe(0x30);
    expect(confRead(io, 0, 0, 0, 0x72, 1)).toBe(0x02);
    confWrite(io, 0, 0, 0, 0x72, 1, 0x4f); // D_OPEN, G_SMRAME; C_BASE_SEG is read-only
    expect(pci.hostBridge.smram()).toBe(0x4a);
    confWrite(io, 0, 0, 0, 0x72, 1, 0x1a); // lock
    expect(pci.hostBridge.smram()).toBe(0x1a);
    confWrite(io, 0, 0, 0, 0x72, 1, 0x4a); // D_OPEN cannot be set again, D_LCK not cleared
    expect(pci.hostBridge.smram()).toBe(0x1a);
    pci.reset();
    expect(pci.hostBridge.smram()).toBe(0x02);
    expect(pci.hostBridge.pam(0)).toBe(0);
  });

  it('are the ID and class registers read-only, and the status error bits write-one-to-clear?', () => {
    const { io, pci } = setup();
    confWrite(io, 0, 0, 0, 0, 4, 0);
    confWrite(io, 0, 0, 0, 0x08, 4, 0);
    expect(confRead(io, 0, 0, 0, 0, 4)).toBe(0x12378086);
    expect(confRead(io, 0, 0, 0, 0x08, 4) >>> 8).toBe(0x060000);
    pci.hostBridge.config[0x07] |= 0x20; // received master abort
    confWrite(io, 0, 0, 0, 0x06, 2, 0x0000);
    expect(confRead(io, 0, 0, 0, 0x06, 2)).toBe(0x2280);
    confWrite(io, 0, 0, 0, 0x06, 2, 0x2000);
    expect(confRead(io, 0, 0, 0, 0x06, 2)).toBe(0x0280);
  });
});

describe('absent devices', () => {
  it('do an empty slot, a missing function, another bus and a disabled address all read all ones at every width?', () => {
    const { io } = setup();
    expect(confRead(io, 0, 5, 0, 0, 4)).toBe(0xffffffff);
    expect(confRead(io, 0, 0, 1, 0, 4)).toBe(0xffffffff);
    expect(confRead(io, 0, 1, 7, 0, 2)).toBe(0xffff);
    expect(confRead(io, 1, 0, 0, 0, 4)).toBe(0xffffffff);
    expect(confRead(io, 0, 31, 7, 0xff, 1)).toBe(0xff);
    io.out32(0xcf8, 0x00000000); // enable bit clear
    expect(io.in32(0xcfc) >>> 0).toBe(0xffffffff);
    expect(io.in8(0xcfe)).toBe(0xff);
  });

  it('are writes to absent devices and with the enable bit clear dropped?', () => {
    const { io } = setup();
    confWrite(io, 0, 5, 0, 0x3c, 1, 0x0b);
    io.out32(0xcf8, addr(0, 1, 0, 0x60) & 0x7fffffff);
    io.out32(0xcfc, 0);
    expect(confRead(io, 0, 1, 0, 0x60, 4)).toBe(0x80808080);
  });
});

describe('functions added by later devices', () => {
  function testDevice(pci: PciBus): PciFunction {
    const f = new PciFunction('test', { vendorId: 0x1af4, deviceId: 0x1000, classCode: 0x020000, interruptPin: 1 });
    f.defineBar(0, { kind: 'mem32', size: 0x1000 });
    f.defineBar(1, { kind: 'io', size: 0x20 });
    f.defineBar(2, { kind: 'mem64', size: 0x100000, prefetchable: true });
    f.defineRom(0x10000);
    pci.addFunction(3, 0, f);
    return f;
  }

  /** __pci_read_base: save, write all ones, read the mask, restore. */
  function sizeBar(io: IoBus, reg: number, ones = 0xffffffff): number {
    const orig = confRead(io, 0, 3, 0, reg, 4);
    confWrite(io, 0, 3, 0, reg, 4, ones);
    const mask = confRead(io, 0, 3, 0, reg, 4);
    confWrite(io, 0, 3, 0, reg, 4, orig);
    return mask;
  }

  it('does writing all ones to each BAR read back its size mask over its type bits, and the original come back?', () => {
    const { io, pci } = setup();
    testDevice(pci);
    expect(sizeBar(io, 0x10)).toBe(0xfffff000);
    expect(sizeBar(io, 0x14)).toBe(0xffffffe1);
    expect(sizeBar(io, 0x18)).toBe(0xfff0000c);
    expect(sizeBar(io, 0x1c)).toBe(0xffffffff);
    expect(sizeBar(io, 0x20)).toBe(0); // unimplemented BARs read 0 whatever is written
    expect(sizeBar(io, 0x30, 0xfffffffe)).toBe(0xffff0000); // Linux keeps the ROM enable bit clear
    expect(confRead(io, 0, 3, 0, 0x10, 4)).toBe(0);
    expect(confRead(io, 0, 3, 0, 0x18, 4)).toBe(0x0c);
  });

  it('does a programmed BAR give its address (64-bit ones with the upper half), and the interrupt pin read as set?', () => {
    const { io, pci } = setup();
    const f = testDevice(pci);
    confWrite(io, 0, 3, 0, 0x10, 4, 0xfebf1234);
    confWrite(io, 0, 3, 0, 0x14, 4, 0xc041);
    confWrite(io, 0, 3, 0, 0x18, 4, 0xfe000000);
    confWrite(io, 0, 3, 0, 0x1c, 4, 0x2);
    expect(f.barAddress(0)).toBe(0xfebf1000);
    expect(f.barAddress(1)).toBe(0xc040);
    expect(f.barAddress(2)).toBe(0x2fe000000);
    expect(confRead(io, 0, 3, 0, 0x3d, 1)).toBe(1);
    confWrite(io, 0, 3, 0, 0x3c, 1, 11);
    expect(confRead(io, 0, 3, 0, 0x3c, 2)).toBe(0x010b);
  });

  it('does adding a second function mark function 0 multi-function, and a taken slot or bad BAR throw?', () => {
    const { io, pci } = setup();
    testDevice(pci);
    expect(confRead(io, 0, 3, 0, 0x0e, 1)).toBe(0x00);
    pci.addFunction(3, 1, new PciFunction('test.1', { vendorId: 0x1af4, deviceId: 0x1001, classCode: 0x018000 }));
    expect(confRead(io, 0, 3, 0, 0x0e, 1)).toBe(0x80);
    expect(confRead(io, 0, 3, 1, 0, 4)).toBe(0x10011af4);
    expect(() => pci.addFunction(0, 0, new PciFunction('dup', { vendorId: 1, deviceId: 1, classCode: 0 }))).toThrow(/claimed/);
    const f = new PciFunction('bad', { vendorId: 1, deviceId: 1, classCode: 0 });
    expect(() => f.defineBar(0, { kind: 'mem32', size: 0x1800 })).toThrow(RangeError);
    expect(() => f.defineBar(5, { kind: 'mem64', size: 0x1000 })).toThrow(RangeError);
  });

  it('is onConfigWrite told about each write with its offset and size?', () => {
    const { io, pci } = setup();
    const f = testDevice(pci);
    const seen: [number, number][] = [];
    f.onConfigWrite = (o, s) => seen.push([o, s]);
    confWrite(io, 0, 3, 0, 0x04, 2, 0x0003);
    confWrite(io, 0, 3, 0, 0x13, 1, 0xfe);
    expect(seen).toEqual([[0x04, 2], [0x13, 1]]);
    expect(confRead(io, 0, 3, 0, 0x04, 2)).toBe(0x0003);
  });
});

describe('reset control register 0xcf9', () => {
  it('does Linux\'s reboot=pci sequence (0x02, then 0x06) ask for one hard reset?', () => {
    const resets: string[] = [];
    const { io } = setup({ onReset: () => resets.push('hard'), onCpuInit: () => resets.push('init') });
    const cf9 = io.in8(0xcf9) & ~0x06;
    io.out8(0xcf9, cf9 | 0x02);
    expect(resets).toEqual([]);
    io.out8(0xcf9, cf9 | 0x06);
    expect(resets).toEqual(['hard']);
    io.out8(0xcf9, 0x06); // no 0 -> 1 transition of bit 2
    expect(resets).toEqual(['hard']);
    expect(io.in8(0xcf9)).toBe(0x06);
  });

  it('does RCPU without SRST ask for a CPU INIT, or a reset when the machine has no INIT callback?', () => {
    const seen: string[] = [];
    const a = setup({ onReset: () => seen.push('hard'), onCpuInit: () => seen.push('init') });
    a.io.out8(0xcf9, 0x04);
    const b = setup({ onReset: () => seen.push('hard') });
    b.io.out8(0xcf9, 0x04);
    expect(seen).toEqual(['init', 'hard']);
  });

  it('does a byte write to 0xcf9 leave CONFIG_ADDRESS alone, and a dword access to 0xcf8 leave TRC alone?', () => {
    const { io } = setup();
    io.out32(0xcf8, addr(0, 1, 0, 0));
    io.out8(0xcf9, 0x02);
    expect(io.in32(0xcf8) >>> 0).toBe(addr(0, 1, 0, 0));
    expect(io.in32(0xcfc) >>> 0).toBe(0x70008086);
    io.out32(0xcf8, 0x80000000);
    expect(io.in8(0xcf9)).toBe(0x02);
  });
});

describe('snapshots', () => {
  it('does a restored bus keep CONFIG_ADDRESS, TRC and every function\'s registers?', () => {
    const a = setup();
    confWrite(a.io, 0, 1, 0, 0x60, 1, 0x0b);
    confWrite(a.io, 0, 0, 0, 0x5f, 1, 0x33);
    a.io.out8(0xcf9, 0x02);
    a.io.out32(0xcf8, addr(0, 0, 0, 0x5c));
    const state = JSON.parse(JSON.stringify(a.pci.save())) as object;
    const b = setup();
    b.pci.restore(state);
    expect(b.io.in32(0xcfc) >>> 0).toBe(0x33000000);
    expect(b.io.in8(0xcf9)).toBe(0x02);
    expect(b.pci.isaBridge.pirqRoute(0)).toBe(11);
  });
});
