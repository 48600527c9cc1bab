/**
 * The 16550A UART at COM1, probed and driven the way Linux's 8250 driver
 * does it.
 */
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../src/io/bus.js';
import { VirtualClock } from '../../src/io/clock.js';
import { Uart } from '../../src/devices/uart.js';
import { RecordingIrqSink, runUntil } from './helpers.js';

const COM1 = 0x3f8;
const RBR = COM1, THR = COM1, IER = COM1 + 1, IIR = COM1 + 2, FCR = COM1 + 2, LCR = COM1 + 3, MCR = COM1 + 4, LSR = COM1 + 5, MSR = COM1 + 6, SCR = COM1 + 7;

function setup(): { bus: IoBus; clock: VirtualClock; irqs: RecordingIrqSink; out: number[]; uart: Uart } {
  const clock = new VirtualClock();
  const bus = new IoBus();
  const irqs = new RecordingIrqSink(clock);
  const out: number[] = [];
  const uart = new Uart(bus, COM1, 4, irqs, (b) => out.push(b), clock);
  return { bus, clock, irqs, out, uart };
}

/** 8N1 at 115200 baud (divisor 1), FIFO on with trigger `fcrTrigger`, RX interrupts on, OUT2 set: a serial console's set-up. */
function consoleSetup(bus: IoBus, fcrTrigger = 0xc0, ier = 0x01): void {
  bus.out8(LCR, 0x83);
  bus.out8(RBR, 1);
  bus.out8(IER, 0);
  bus.out8(LCR, 0x03);
  bus.out8(FCR, fcrTrigger | 0x07);
  bus.out8(MCR, 0x0b); // DTR, RTS, OUT2
  bus.out8(IER, ier);
}

/** ns of one 10-bit character at `divisor` */
const charNs = (divisor: number): number => Math.ceil(10 * divisor * 1e9 / 115200);

describe('Linux\'s 8250 probe', () => {
  it('does the IER existence test read back 0 and then 0x0f?', () => {
    const { bus } = setup();
    const saved = bus.in8(IER);
    bus.out8(IER, 0);
    expect(bus.in8(IER) & 0x0f).toBe(0);
    bus.out8(IER, 0x0f);
    expect(bus.in8(IER) & 0x0f).toBe(0x0f);
    bus.out8(IER, saved);
    expect(bus.in8(IER)).toBe(saved);
  });

  it('does the scratch register hold what was written?', () => {
    const { bus } = setup();
    for (const v of [0x55, 0xaa, 0x00, 0xff]) {
      bus.out8(SCR, v);
      expect(bus.in8(SCR)).toBe(v);
    }
  });

  it('does the loopback test (MCR = LOOP | OUT2 | RTS) read MSR 7:4 as 0x90?', () => {
    const { bus } = setup();
    const saveMcr = bus.in8(MCR);
    bus.out8(MCR, 0x10 | 0x0a);
    expect(bus.in8(MSR) & 0xf0).toBe(0x90);
    bus.out8(MCR, saveMcr);
    expect(bus.in8(MSR) & 0xf0).toBe(0xb0); // back to a connected terminal: DCD, DSR, CTS
  });

  it('does FIFO detection see IIR bits 7:6 = 3 and none of the 16550A-variant features?', () => {
    const { bus } = setup();
    bus.out8(LCR, 0xbf);
    bus.out8(FCR, 0); // EFR on chips that have one; the FCR here
    bus.out8(LCR, 0);
    bus.out8(FCR, 0x01);
    expect(bus.in8(IIR) >> 6).toBe(3);
    // no EFR behind LCR = 0x80 or 0xbf: the IIR shows through, non-zero
    bus.out8(LCR, 0x80);
    expect(bus.in8(IIR)).not.toBe(0);
    bus.out8(LCR, 0xbf);
    expect(bus.in8(IIR)).not.toBe(0);
    // not a 16750: FCR bit 5 never shows as IIR bit 5
    bus.out8(LCR, 0);
    bus.out8(FCR, 0x21);
    expect(bus.in8(IIR) & 0xe0).toBe(0xc0);
    bus.out8(LCR, 0x80);
    bus.out8(FCR, 0x21);
    expect(bus.in8(IIR) & 0xe0).toBe(0xc0);
    bus.out8(LCR, 0);
    // not an XScale: IER bit 6 (UUE) does not stick
    bus.out8(IER, 0x40);
    expect(bus.in8(IER) & 0x40).toBe(0);
    // FIFO off again: 8250-style IIR
    bus.out8(FCR, 0);
    expect(bus.in8(IIR)).toBe(0x01);
  });

  it('does the UART report LSR THRE|TEMT and nothing else at reset, not the 0xff of an empty port?', () => {
    const { bus } = setup();
    expect(bus.in8(LSR)).toBe(0x60);
    expect(bus.in8(IIR)).toBe(0x01);
    expect(bus.in8(LCR)).toBe(0);
  });
});

describe('transmit', () => {
  it('does each THR write reach the sink at once, with THRE and TEMT staying set?', () => {
    const { bus, out } = setup();
    for (const c of 'hi\n') bus.out8(THR, c.charCodeAt(0));
    expect(String.fromCharCode(...out)).toBe('hi\n');
    expect(bus.in8(LSR) & 0x60).toBe(0x60);
  });

  it('does the divisor latch (DLAB) hold the divisor without disturbing THR and IER?', () => {
    const { bus, out } = setup();
    bus.out8(IER, 0x05);
    bus.out8(LCR, 0x80);
    bus.out8(RBR, 0x0c);
    bus.out8(IER, 0x00);
    expect(bus.in8(RBR)).toBe(0x0c);
    expect(bus.in8(IER)).toBe(0x00);
    bus.out8(LCR, 0x03);
    expect(bus.in8(IER)).toBe(0x05);
    expect(out).toEqual([]);
  });

  it('does enabling ETBEI raise THRE, an IIR read clear it, a THR write re-arm it, and IER 0 -> THRI re-assert it (Linux\'s THRE test)?', () => {
    const { bus, irqs } = setup();
    bus.out8(MCR, 0x08);
    bus.out8(IER, 0x02);
    expect(irqs.levels[4]).toBe(true);
    expect(bus.in8(IIR)).toBe(0x02);
    expect(bus.in8(IIR)).toBe(0x01);
    expect(irqs.levels[4]).toBe(false);
    bus.out8(THR, 0x41);
    expect(irqs.levels[4]).toBe(true);
    expect(bus.in8(IIR)).toBe(0x02);
    bus.out8(IER, 0);
    bus.out8(IER, 0x02);
    expect(bus.in8(IIR)).toBe(0x02);
  });
});

describe('receive', () => {
  it('does the RX-data interrupt wait for the FIFO trigger level (14) and drop below it?', () => {
    const { bus, irqs, uart } = setup();
    consoleSetup(bus, 0xc0);
    uart.receive(new Uint8Array(13).fill(0x61));
    expect(bus.in8(IIR)).toBe(0xc1);
    expect(irqs.levels[4]).toBe(false);
    uart.receive([0x62]);
    expect(bus.in8(IIR)).toBe(0xc4);
    expect(irqs.levels[4]).toBe(true);
    expect(bus.in8(RBR)).toBe(0x61);
    expect(bus.in8(IIR)).toBe(0xc1);
    expect(irqs.levels[4]).toBe(false);
    expect(bus.in8(LSR) & 0x01).toBe(1);
  });

  it('does a character-timeout interrupt come 4 character times after the last byte, at the programmed baud rate?', () => {
    const { bus, clock, irqs, uart } = setup();
    consoleSetup(bus, 0x80); // trigger 8
    bus.out8(LCR, 0x83);
    bus.out8(RBR, 12); // 9600 baud
    bus.out8(LCR, 0x03);
    clock.now = 1000;
    uart.receive([1, 2, 3]);
    runUntil(clock, 1000 + 4 * charNs(12) - 1);
    expect(bus.in8(IIR)).toBe(0xc1);
    runUntil(clock, 1000 + 4 * charNs(12));
    expect(bus.in8(IIR)).toBe(0xcc);
    expect(irqs.levels[4]).toBe(true);
    expect(bus.in8(RBR)).toBe(1); // a read clears the timeout and restarts the count
    expect(bus.in8(IIR)).toBe(0xc1);
    expect(irqs.levels[4]).toBe(false);
    runUntil(clock, clock.now + 4 * charNs(12));
    expect(bus.in8(IIR)).toBe(0xcc);
    bus.in8(RBR);
    bus.in8(RBR);
    expect(bus.in8(LSR) & 0x01).toBe(0);
    expect(clock.nextEventTime()).toBe(Infinity);
  });

  it('does a new byte restart the timeout count?', () => {
    const { bus, clock, uart } = setup();
    consoleSetup(bus, 0x80);
    const t4 = 4 * charNs(1);
    uart.receive([1]);
    runUntil(clock, t4 - 10);
    uart.receive([2]);
    runUntil(clock, t4 + 10);
    expect(bus.in8(IIR)).toBe(0xc1);
    runUntil(clock, 2 * t4);
    expect(bus.in8(IIR)).toBe(0xcc);
  });

  it('does a paste far larger than the FIFO arrive whole and in order, with no overrun?', () => {
    const { bus, uart } = setup();
    consoleSetup(bus);
    const text = Array.from({ length: 5000 }, (_, i) => (i * 7) & 0xff);
    uart.receive(text);
    expect(uart.pendingInput()).toBe(5000);
    const got: number[] = [];
    while (bus.in8(LSR) & 0x01) got.push(bus.in8(RBR));
    expect(got).toEqual(text);
    expect(bus.in8(LSR) & 0x02).toBe(0);
    expect(uart.pendingInput()).toBe(0);
  });

  it('does the FIFO-less (16450) mode hold one byte and raise RX data at once?', () => {
    const { bus, uart } = setup();
    bus.out8(MCR, 0x08);
    bus.out8(IER, 0x01);
    uart.receive([7, 8]);
    expect(bus.in8(IIR)).toBe(0x04);
    expect(bus.in8(RBR)).toBe(7);
    expect(bus.in8(IIR)).toBe(0x04);
    expect(bus.in8(RBR)).toBe(8);
    expect(bus.in8(IIR)).toBe(0x01);
    expect(bus.in8(RBR)).toBe(8); // an empty receiver reads its last byte again
  });

  it('does an RX FIFO reset empty the FIFO and cancel a timeout?', () => {
    const { bus, clock } = setup();
    consoleSetup(bus, 0x80);
    bus.out8(MCR, 0x1b); // loopback: no host input reaches the FIFO
    for (let i = 0; i < 3; i++) bus.out8(THR, i);
    expect(bus.in8(LSR) & 0x01).toBe(1);
    bus.out8(FCR, 0x83);
    expect(bus.in8(LSR) & 0x01).toBe(0);
    expect(clock.nextEventTime()).toBe(Infinity);
  });
});

describe('interrupt priority and gating', () => {
  it('does IIR report line status, then RX data, then THR empty, then modem status?', () => {
    const { bus } = setup();
    bus.out8(FCR, 0x07); // FIFO on, trigger 1
    bus.out8(IER, 0x0f);
    bus.out8(MCR, 0x10); // loopback: THR feeds RBR
    bus.in8(MSR); // entering loopback dropped CTS, DSR, DCD; clear those deltas
    for (let i = 0; i < 17; i++) bus.out8(THR, 0x30 + i); // the 17th overruns
    bus.out8(MCR, 0x11); // DTR on: DSR changes, a modem-status condition
    expect(bus.in8(IIR)).toBe(0xc6);
    expect(bus.in8(LSR) & 0x03).toBe(0x03); // DR | OE; the read clears OE
    expect(bus.in8(IIR)).toBe(0xc4);
    for (let i = 0; i < 16; i++) expect(bus.in8(RBR)).toBe(0x30 + i);
    expect(bus.in8(IIR)).toBe(0xc2); // the read clears THRE
    expect(bus.in8(IIR)).toBe(0xc0);
    expect(bus.in8(MSR) & 0x0f).toBe(0x02); // DDSR; the read clears it
    expect(bus.in8(IIR)).toBe(0xc1);
  });

  it('does the IRQ line need OUT2, as on a PC, while IIR shows the interrupt regardless?', () => {
    const { bus, irqs, uart } = setup();
    bus.out8(IER, 0x01);
    uart.receive([0x41]);
    expect(bus.in8(IIR)).toBe(0x04);
    expect(irqs.levels[4]).toBe(false);
    bus.out8(MCR, 0x08);
    expect(irqs.levels[4]).toBe(true);
    bus.out8(MCR, 0x00);
    expect(irqs.levels[4]).toBe(false);
    bus.out8(MCR, 0x08);
    bus.in8(RBR);
    expect(irqs.levels[4]).toBe(false);
  });

  it('does loopback mode keep the IRQ line low, and keep host input waiting until it ends?', () => {
    const { bus, irqs, uart } = setup();
    bus.out8(IER, 0x01);
    bus.out8(MCR, 0x18);
    uart.receive([0x5a]);
    expect(bus.in8(LSR) & 0x01).toBe(0);
    bus.out8(THR, 0x33);
    expect(bus.in8(IIR)).toBe(0x04);
    expect(irqs.levels[4]).toBe(false);
    expect(bus.in8(RBR)).toBe(0x33);
    bus.out8(MCR, 0x08);
    expect(irqs.levels[4]).toBe(true);
    expect(bus.in8(RBR)).toBe(0x5a);
  });

  it('does MSR set TERI only when the looped-back RI turns off?', () => {
    const { bus } = setup();
    bus.out8(MCR, 0x10);
    bus.in8(MSR);
    bus.out8(MCR, 0x14); // OUT1 -> RI on
    expect(bus.in8(MSR)).toBe(0x40);
    bus.out8(MCR, 0x10); // RI off
    expect(bus.in8(MSR)).toBe(0x04);
  });
});

describe('snapshots', () => {
  it('does a restored UART keep its FIFO, backlog, registers and pending timeout?', () => {
    const a = setup();
    consoleSetup(a.bus, 0x80);
    a.bus.out8(SCR, 0x5e);
    a.uart.receive(Array.from({ length: 20 }, (_, i) => i));
    a.bus.in8(RBR);
    const state = JSON.parse(JSON.stringify(a.uart.save())) as object;
    const b = setup();
    b.uart.restore(state);
    expect(b.bus.in8(SCR)).toBe(0x5e);
    expect(b.bus.in8(IIR)).toBe(0xc4);
    expect(b.irqs.levels[4]).toBe(true);
    const got: number[] = [];
    while (b.bus.in8(LSR) & 0x01) got.push(b.bus.in8(RBR));
    expect(got).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
    const c = setup();
    c.uart.restore(state);
    for (let i = 0; i < 12; i++) c.bus.in8(RBR); // below the trigger; the timeout is pending
    runUntil(c.clock, c.clock.now + 4 * charNs(1));
    expect(c.bus.in8(IIR)).toBe(0xcc);
  });

  it('does reset bring back the datasheet\'s reset values and drop the IRQ line?', () => {
    const { bus, irqs, uart } = setup();
    consoleSetup(bus, 0xc0, 0x03);
    expect(irqs.levels[4]).toBe(true);
    uart.reset();
    expect(irqs.levels[4]).toBe(false);
    expect([bus.in8(IER), bus.in8(IIR), bus.in8(LCR), bus.in8(MCR), bus.in8(LSR)]).toEqual([0, 0x01, 0, 0, 0x60]);
  });
});
