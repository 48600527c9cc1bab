/**
 * COM1 (0x3f8, IRQ 4) and COM2 (0x2f8, IRQ 3): two 16550A UARTs on one bus,
 * probed and used as Linux's 8250 driver does for ttyS0 and ttyS1.
 */
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../src/io/bus.js';
import { VirtualClock } from '../../src/io/clock.js';
import { Uart } from '../../src/devices/uart.js';
import { RecordingIrqSink, runUntil } from './helpers.js';

const COM1 = 0x3f8;
const COM2 = 0x2f8;

function setup(): { bus: IoBus; clock: VirtualClock; irqs: RecordingIrqSink; out1: number[]; out2: number[]; com1: Uart; com2: Uart } {
  const clock = new VirtualClock();
  const bus = new IoBus();
  const irqs = new RecordingIrqSink(clock);
  const out1: number[] = [];
  const out2: number[] = [];
  const com1 = new Uart(bus, COM1, 4, irqs, (b) => out1.push(b), clock);
  const com2 = new Uart(bus, COM2, 3, irqs, (b) => out2.push(b), clock);
  return { bus, clock, irqs, out1, out2, com1, com2 };
}

describe('COM1 and COM2 together', () => {
  it('does each UART claim its own eight ports and leave the ones between unclaimed?', () => {
    const { bus } = setup();
    for (let i = 0; i < 8; i++) {
      expect(bus.ownerOf(COM1 + i)).toBe('uart@0x3f8');
      expect(bus.ownerOf(COM2 + i)).toBe('uart@0x2f8');
    }
    expect(bus.ownerOf(COM2 + 8)).toBeUndefined();
    expect(bus.ownerOf(COM1 - 1)).toBeUndefined();
  });

  it('does the 8250 probe (scratch, IER, loopback) pass on both, with registers kept apart?', () => {
    const { bus } = setup();
    bus.out8(COM1 + 7, 0x11);
    bus.out8(COM2 + 7, 0x22);
    expect([bus.in8(COM1 + 7), bus.in8(COM2 + 7)]).toEqual([0x11, 0x22]);
    bus.out8(COM2 + 1, 0x0f);
    expect([bus.in8(COM1 + 1), bus.in8(COM2 + 1)]).toEqual([0x00, 0x0f]);
    for (const base of [COM1, COM2]) {
      bus.out8(base + 4, 0x1a);
      expect(bus.in8(base + 6) & 0xf0).toBe(0x90);
      bus.out8(base + 4, 0x00);
      expect(bus.in8(base + 5)).toBe(0x60);
    }
  });

  it('does output written to each UART reach only its own sink?', () => {
    const { bus, out1, out2 } = setup();
    for (const c of 'one') bus.out8(COM1, c.charCodeAt(0));
    for (const c of 'two') bus.out8(COM2, c.charCodeAt(0));
    expect(String.fromCharCode(...out1)).toBe('one');
    expect(String.fromCharCode(...out2)).toBe('two');
  });

  it('does input to COM2 raise IRQ 3 and never IRQ 4, and COM1\'s THR-empty interrupt raise IRQ 4 only?', () => {
    const { bus, clock, irqs, com2 } = setup();
    for (const base of [COM1, COM2]) {
      bus.out8(base + 2, 0x07);
      bus.out8(base + 4, 0x0b); // DTR, RTS, OUT2
      bus.out8(base + 1, 0x01); // RX data interrupts
    }
    com2.receive([0x41]);
    runUntil(clock, 1_000_000);
    expect(irqs.levels[3]).toBe(true);
    expect(irqs.levels[4]).toBe(false);
    expect(bus.in8(COM2)).toBe(0x41);
    expect(irqs.levels[3]).toBe(false);
    bus.out8(COM1 + 1, 0x03);
    expect(irqs.levels[4]).toBe(true);
    expect(irqs.levels[3]).toBe(false);
    expect(irqs.changes.filter((c) => c.irq !== 3 && c.irq !== 4)).toEqual([]);
  });
});
