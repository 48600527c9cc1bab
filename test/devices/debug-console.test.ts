/**
 * Port 0xe9, the Bochs/QEMU debug console.
 */
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../src/io/bus.js';
import { DebugConsole } from '../../src/devices/debug-console.js';

describe('debug console', () => {
  it('does every byte written to port 0xe9 reach the sink, in order?', () => {
    const bus = new IoBus();
    const out: number[] = [];
    new DebugConsole(bus, (b) => out.push(b));
    for (const c of 'ok\n') bus.out8(0xe9, c.charCodeAt(0));
    bus.out8(0xe9, 0x1ff); // only the byte goes out
    expect(out).toEqual([0x6f, 0x6b, 0x0a, 0xff]);
  });

  it('does a read of port 0xe9 return 0xe9, so a guest can detect the port?', () => {
    const bus = new IoBus();
    new DebugConsole(bus, () => {});
    expect(bus.in8(0xe9)).toBe(0xe9);
    expect(bus.in8(0xea)).toBe(0xff); // its neighbour is the empty bus
  });

  it('does a 16-bit write send its two bytes, low first?', () => {
    const bus = new IoBus();
    const out: number[] = [];
    new DebugConsole(bus, (b) => out.push(b));
    bus.out16(0xe9, 0x4241);
    expect(out).toEqual([0x41]); // the high byte goes to port 0xea, which nobody decodes
  });
});
