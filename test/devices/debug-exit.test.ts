/**
 * QEMU's isa-debug-exit: a write of v ends the run with status (v << 1) | 1.
 */
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../src/io/bus.js';
import { DebugExit } from '../../src/devices/debug-exit.js';

describe('isa-debug-exit', () => {
  it('does writing v to port 0xf4 request exit status (v << 1) | 1?', () => {
    const bus = new IoBus();
    const statuses: number[] = [];
    new DebugExit(bus, (s) => statuses.push(s));
    bus.out8(0xf4, 0x00);
    bus.out8(0xf4, 0x10);
    bus.out8(0xf4, 0xff);
    expect(statuses).toEqual([1, 0x21, 0x1ff]);
  });

  it('does a 1-byte device see only the low byte of a wider write, once?', () => {
    const bus = new IoBus();
    const statuses: number[] = [];
    new DebugExit(bus, (s) => statuses.push(s));
    bus.out32(0xf4, 0x12345678);
    expect(statuses).toEqual([(0x78 << 1) | 1]);
  });

  it('does a 4-byte device at a chosen port take the whole 32-bit value?', () => {
    const bus = new IoBus();
    const statuses: number[] = [];
    new DebugExit(bus, (s) => statuses.push(s), { port: 0x501, width: 4 });
    bus.out32(0x501, 0x80000001);
    bus.out16(0x503, 0x0102);
    expect(statuses).toEqual([0x80000001 * 2 + 1, 0x0102 * 2 + 1]);
    expect(bus.in8(0xf4)).toBe(0xff);
  });

  it('does reading the port return 0, as QEMU\'s does?', () => {
    const bus = new IoBus();
    new DebugExit(bus, () => {});
    expect(bus.in8(0xf4)).toBe(0);
  });

  it('does a width other than 1 or 4 throw?', () => {
    expect(() => new DebugExit(new IoBus(), () => {}, { width: 2 as 1 })).toThrow(RangeError);
  });
});
