/**
 * The 8254 PIT and port 0x61, driven through their ports as Linux and a BIOS
 * drive them, with virtual time moved by hand.
 */
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../src/io/bus.js';
import { VirtualClock } from '../../src/io/clock.js';
import { Pic } from '../../src/devices/pic.js';
import { Pit, PIT_HZ, nsAtPitTick, pitTickAt } from '../../src/devices/pit.js';
import { RecordingIrqSink, runUntil } from './helpers.js';

function setup(): { bus: IoBus; clock: VirtualClock; sink: RecordingIrqSink; pit: Pit } {
  const clock = new VirtualClock();
  const bus = new IoBus();
  const sink = new RecordingIrqSink(clock);
  const pit = new Pit(bus, clock, sink);
  return { bus, clock, sink, pit };
}

/** Programs `channel` with control word `ctrl` and a 16-bit count LSB then MSB; returns the tick the count loads at. */
function program(bus: IoBus, clock: VirtualClock, channel: number, ctrl: number, count: number): number {
  bus.out8(0x43, ctrl);
  bus.out8(0x40 + channel, count & 0xff);
  bus.out8(0x40 + channel, count >> 8);
  return pitTickAt(clock.now) + 1;
}

/** Counter latch command, then LSB and MSB. */
function latched(bus: IoBus, channel: number): number {
  bus.out8(0x43, channel << 6);
  const lo = bus.in8(0x40 + channel);
  return lo | (bus.in8(0x40 + channel) << 8);
}

const at = (clock: VirtualClock, tick: number): void => runUntil(clock, nsAtPitTick(tick));

describe('time base', () => {
  it('do PIT ticks and virtual nanoseconds convert exactly both ways, even after hours?', () => {
    expect(nsAtPitTick(0)).toBe(0);
    for (const tick of [1, 2, 1193181, 1193182, 1193183, 4294967296, 12345678901]) {
      const ns = nsAtPitTick(tick);
      expect(pitTickAt(ns)).toBe(tick);
      expect(pitTickAt(ns - 1)).toBe(tick - 1);
    }
    expect(pitTickAt(1e9)).toBe(PIT_HZ);
    expect(pitTickAt(3600e9 + 1e9 / 2)).toBe(3600 * PIT_HZ + PIT_HZ / 2);
  });
});

describe('channel 0 and IRQ 0', () => {
  it('does mode 2 with divisor 11932 raise IRQ 0 every 10 ms of virtual time, low for one tick before each edge?', () => {
    const { bus, clock, sink } = setup();
    clock.now = 1234;
    const N = 11932;
    const load = program(bus, clock, 0, 0x34, N);
    runUntil(clock, 55e6);
    const rises = sink.risingEdges(0).filter((t) => t > 1234);
    expect(rises).toEqual([1, 2, 3, 4, 5].map((k) => nsAtPitTick(load + k * N)));
    for (let k = 1; k < rises.length; k++) expect(Math.abs(rises[k] - rises[k - 1] - N * 1e9 / PIT_HZ)).toBeLessThanOrEqual(1);
    const falls = sink.changes.filter((c) => c.irq === 0 && !c.level).map((c) => c.at);
    expect(falls.slice(0, 2)).toEqual([nsAtPitTick(load + N - 1), nsAtPitTick(load + 2 * N - 1)]);
  });

  it('does the latched count decrease with virtual time, following N - (elapsed mod N)?', () => {
    const { bus, clock } = setup();
    const N = 11932;
    const load = program(bus, clock, 0, 0x34, N);
    runUntil(clock, 1e6);
    const v1 = latched(bus, 0);
    expect(v1).toBe(N - ((pitTickAt(clock.now) - load) % N));
    expect(v1).toBeGreaterThan(N - 1193 - 2);
    expect(v1).toBeLessThan(N - 1193 + 2);
    runUntil(clock, 3e6);
    const v2 = latched(bus, 0);
    expect(v2).toBe(N - ((pitTickAt(clock.now) - load) % N));
    expect(v2).toBeLessThan(v1);
    runUntil(clock, 12e6); // past one reload
    expect(latched(bus, 0)).toBe(N - ((pitTickAt(clock.now) - load) % N));
  });

  it('does a latched count stay frozen until read, a second latch being ignored?', () => {
    const { bus, clock } = setup();
    const load = program(bus, clock, 0, 0x34, 50000);
    at(clock, load + 100);
    bus.out8(0x43, 0x00);
    at(clock, load + 5000);
    bus.out8(0x43, 0x00);
    expect(bus.in8(0x40) | (bus.in8(0x40) << 8)).toBe(50000 - 100);
    expect(latched(bus, 0)).toBe(50000 - 5000);
  });

  it('does mode 3 give a square wave: high for the first half, edges every N ticks, counting by 2?', () => {
    const { bus, clock, sink } = setup();
    const load = program(bus, clock, 0, 0x36, 1000);
    at(clock, load + 10);
    expect(latched(bus, 0)).toBe(980);
    at(clock, load + 499);
    expect(sink.levels[0]).toBe(true);
    at(clock, load + 500);
    expect(sink.levels[0]).toBe(false);
    expect(latched(bus, 0)).toBe(1000);
    at(clock, load + 3000);
    expect(sink.risingEdges(0).filter((t) => t > 0)).toEqual([1, 2, 3].map((k) => nsAtPitTick(load + k * 1000)));
  });

  it('does an odd mode 3 count stay high one tick longer than low?', () => {
    const { bus, clock, sink } = setup();
    const load = program(bus, clock, 0, 0x36, 1001);
    at(clock, load + 500);
    expect(sink.levels[0]).toBe(true);
    expect(latched(bus, 0)).toBe(0); // N-1, N-3, ... reaches 0 on the last high tick
    at(clock, load + 501);
    expect(sink.levels[0]).toBe(false);
    expect(latched(bus, 0)).toBe(1000);
    at(clock, load + 1001);
    expect(sink.levels[0]).toBe(true);
  });

  it('does Linux\'s one-shot (mode 4) raise IRQ 0 exactly once per count written?', () => {
    const { bus, clock, sink } = setup();
    bus.out8(0x43, 0x38);
    bus.out8(0x40, 1193 & 0xff);
    bus.out8(0x40, 1193 >> 8);
    const load = pitTickAt(clock.now) + 1;
    expect(clock.nextEventTime()).toBe(nsAtPitTick(load + 1193));
    runUntil(clock, 200e6);
    expect(sink.risingEdges(0).filter((t) => t > 0)).toEqual([nsAtPitTick(load + 1193 + 1)]);
    expect(clock.nextEventTime()).toBe(Infinity);
    bus.out8(0x40, 100);
    bus.out8(0x40, 0);
    const load2 = pitTickAt(clock.now) + 1;
    runUntil(clock, 400e6);
    expect(sink.risingEdges(0).filter((t) => t > 0)).toEqual([nsAtPitTick(load + 1194), nsAtPitTick(load2 + 101)]);
  });

  it('does mode 0 raise IRQ 0 at terminal count and hold it until the next count\'s first byte?', () => {
    const { bus, clock, sink } = setup();
    bus.out8(0x43, 0x30);
    expect(sink.levels[0]).toBe(false); // mode 0 sets OUT low at once
    bus.out8(0x40, 0x00);
    bus.out8(0x40, 0x10);
    const load = pitTickAt(clock.now) + 1;
    runUntil(clock, 100e6);
    expect(sink.risingEdges(0).filter((t) => t > 0)).toEqual([nsAtPitTick(load + 0x1000)]);
    expect(sink.levels[0]).toBe(true);
    bus.out8(0x40, 0x00);
    expect(sink.levels[0]).toBe(false);
  });

  it('does a new mode 2 count wait for the end of the current period?', () => {
    const { bus, clock, sink } = setup();
    const load = program(bus, clock, 0, 0x34, 1000);
    at(clock, load + 300);
    bus.out8(0x40, 500 & 0xff);
    bus.out8(0x40, 500 >> 8);
    expect(latched(bus, 0)).toBe(700);
    at(clock, load + 2100);
    expect(sink.risingEdges(0).filter((t) => t > 0)).toEqual([1000, 1500, 2000].map((e) => nsAtPitTick(load + e)));
  });

  it('does a new mode 3 count take over at the end of the current half period?', () => {
    const { bus, clock, sink } = setup();
    const load = program(bus, clock, 0, 0x36, 1000);
    at(clock, load + 100);
    bus.out8(0x40, 400 & 0xff);
    bus.out8(0x40, 400 >> 8);
    at(clock, load + 1500);
    const edges = sink.changes.filter((c) => c.irq === 0 && c.at > 0).map((c) => [c.level, c.at]);
    // old high half ends at 500; the new count's low half (200), high half (200), low half ...
    expect(edges).toEqual([[false, load + 500], [true, load + 700], [false, load + 900], [true, load + 1100], [false, load + 1300], [true, load + 1500]].map(([l, t]) => [l, nsAtPitTick(t as number)]));
  });

  it('does a 1000 Hz mode 2 tick (count 1193) keep exact time over 10 virtual seconds?', () => {
    const { bus, clock, sink } = setup();
    const load = program(bus, clock, 0, 0x34, 1193);
    runUntil(clock, 10e9);
    const rises = sink.risingEdges(0).filter((t) => t > 0);
    expect(rises.length).toBe(Math.floor((pitTickAt(10e9) - load) / 1193));
    expect(rises[rises.length - 1]).toBe(nsAtPitTick(load + rises.length * 1193));
  });

  it('does IRQ 0 reach a real PIC as vector 0x20 when a halted CPU skips straight to the next event?', () => {
    const clock = new VirtualClock();
    const bus = new IoBus();
    const pic = new Pic(bus);
    new Pit(bus, clock, pic);
    for (const [port, v] of [[0x20, 0x11], [0x21, 0x20], [0x21, 0x04], [0x21, 0x01], [0xa0, 0x11], [0xa1, 0x28], [0xa1, 0x02], [0xa1, 0x01], [0x21, 0xfe], [0xa1, 0xff]]) bus.out8(port, v);
    program(bus, clock, 0, 0x34, 11932);
    let wakeups = 0;
    while (!pic.hasInterrupt()) {
      clock.now = clock.nextEventTime(); // what HLT does
      clock.runDue();
      wakeups++;
    }
    expect(wakeups).toBe(2); // the one-tick low, then the rising edge
    expect(clock.now).toBeGreaterThan(10e6);
    expect(clock.now).toBeLessThan(10.01e6);
    expect(pic.acknowledge()).toBe(0x20);
  });
});

describe('status and access modes', () => {
  it('does the read-back command latch a status byte with OUT, NULL COUNT and the programmed mode?', () => {
    const { bus, clock } = setup();
    bus.out8(0x61, 0x01); // gate 2 high
    bus.out8(0x43, 0xb0); // channel 2, LSB then MSB, mode 0
    const status = (): number => {
      bus.out8(0x43, 0xe8); // read-back: status only, channel 2
      return bus.in8(0x42);
    };
    expect(status()).toBe(0x70); // OUT low, null count, RW=3, mode 0
    bus.out8(0x42, 100);
    bus.out8(0x42, 0);
    const load = pitTickAt(clock.now) + 1;
    expect(status()).toBe(0x70);
    at(clock, load);
    expect(status()).toBe(0x30);
    at(clock, load + 100);
    expect(status()).toBe(0xb0);
  });

  it('does NULL COUNT clear when the count is loaded even with the gate low, while the count holds still?', () => {
    const { bus, clock } = setup();
    const load = program(bus, clock, 2, 0xb0, 100);
    bus.out8(0x43, 0xe8);
    expect(bus.in8(0x42)).toBe(0x70);
    at(clock, load + 50);
    bus.out8(0x43, 0xe8);
    expect(bus.in8(0x42)).toBe(0x30);
    expect(latched(bus, 2)).toBe(100);
  });

  it('does a read-back of count and status return the status first, then the count?', () => {
    const { bus, clock } = setup();
    const load = program(bus, clock, 0, 0x34, 1000);
    at(clock, load + 10);
    bus.out8(0x43, 0xc2); // count and status, channel 0
    expect(bus.in8(0x40)).toBe(0xb4);
    at(clock, load + 50);
    expect(bus.in8(0x40) | (bus.in8(0x40) << 8)).toBe(990);
  });

  it('does BCD mode count and read in decimal digits?', () => {
    const { bus, clock } = setup();
    const load = program(bus, clock, 2, 0xb1, 0x1000); // 1000 decimal
    bus.out8(0x61, 0x01);
    at(clock, load + 17);
    expect(latched(bus, 2)).toBe(0x0983);
  });

  it('does LSB-only access load a one-byte count and read back one byte?', () => {
    const { bus, clock } = setup();
    bus.out8(0x61, 0x01);
    bus.out8(0x43, 0x94); // channel 2, LSB only, mode 2
    bus.out8(0x42, 0x10);
    const load = pitTickAt(clock.now) + 1;
    at(clock, load + 3);
    expect(bus.in8(0x42)).toBe(0x0d);
    expect(bus.in8(0x42)).toBe(0x0d);
    bus.out8(0x43, 0x80);
    at(clock, load + 20);
    expect(bus.in8(0x42)).toBe(16 - 3); // the latch, taken at +3
  });

  it('does MSB-only access load count << 8?', () => {
    const { bus, clock } = setup();
    bus.out8(0x43, 0x20 | 0x04); // channel 0, MSB only, mode 2
    bus.out8(0x40, 0x02);
    const load = pitTickAt(clock.now) + 1;
    at(clock, load + 1);
    bus.out8(0x43, 0x00);
    expect(bus.in8(0x40)).toBe(0x01); // 512 - 1 = 0x1ff: the MSB
  });
});

describe('channel 2 and port 0x61', () => {
  it('does channel 2\'s OUT on port 0x61 go high N+1 ticks after the count is written in mode 0 (Linux\'s pit_calibrate_tsc)?', () => {
    const { bus, clock } = setup();
    clock.now = 5000;
    bus.out8(0x61, (bus.in8(0x61) & ~0x02) | 0x01);
    expect(bus.in8(0x61) & 0x03).toBe(0x01);
    const N = 11932;
    const written = pitTickAt(clock.now);
    bus.out8(0x43, 0xb0);
    bus.out8(0x42, N & 0xff);
    bus.out8(0x42, N >> 8);
    expect(bus.in8(0x61) & 0x20).toBe(0);
    at(clock, written + N);
    expect(bus.in8(0x61) & 0x20).toBe(0);
    at(clock, written + N + 1);
    expect(bus.in8(0x61) & 0x20).toBe(0x20);
    runUntil(clock, 1e9);
    expect(bus.in8(0x61) & 0x20).toBe(0x20); // mode 0 holds OUT high
  });

  it('does quick_pit_calibrate see the unlatched MSB fall by one every 256 ticks?', () => {
    const { bus, clock } = setup();
    bus.out8(0x61, (bus.in8(0x61) & ~0x02) | 0x01);
    const load = program(bus, clock, 2, 0xb0, 0xffff);
    for (let k = 0; k < 20; k++) {
      at(clock, load + k * 256 + 5);
      bus.in8(0x42); // LSB
      expect(bus.in8(0x42)).toBe(0xff - k);
    }
  });

  it('does a low gate stop channel 2 counting in mode 0 and a high gate resume it?', () => {
    const { bus, clock } = setup();
    bus.out8(0x61, 0x01);
    const load = program(bus, clock, 2, 0xb0, 1000);
    at(clock, load + 100);
    bus.out8(0x61, 0x00);
    const frozen = latched(bus, 2);
    expect(frozen).toBe(900);
    at(clock, load + 5000);
    expect(latched(bus, 2)).toBe(900);
    expect(bus.in8(0x61) & 0x20).toBe(0);
    bus.out8(0x61, 0x01);
    at(clock, load + 5000 + 900);
    expect(bus.in8(0x61) & 0x20).toBe(0x20);
  });

  it('does mode 1 start its one-shot on a gate rising edge, OUT low for exactly N ticks?', () => {
    const { bus, clock } = setup();
    program(bus, clock, 2, 0xb2, 100);
    at(clock, 1000);
    expect(bus.in8(0x61) & 0x20).toBe(0x20); // waiting for a trigger, OUT high
    bus.out8(0x61, 0x01);
    const trig = pitTickAt(clock.now);
    at(clock, trig + 1);
    expect(bus.in8(0x61) & 0x20).toBe(0);
    at(clock, trig + 100);
    expect(bus.in8(0x61) & 0x20).toBe(0);
    at(clock, trig + 101);
    expect(bus.in8(0x61) & 0x20).toBe(0x20);
  });

  it('does mode 2 with a low gate hold OUT high and a rising gate restart the period?', () => {
    const { bus, clock } = setup();
    bus.out8(0x61, 0x01);
    const load = program(bus, clock, 2, 0xb4, 10);
    at(clock, load + 9);
    expect(bus.in8(0x61) & 0x20).toBe(0); // count 1: OUT low
    bus.out8(0x61, 0x00);
    expect(bus.in8(0x61) & 0x20).toBe(0x20);
    at(clock, load + 100);
    bus.out8(0x61, 0x01);
    const trig = pitTickAt(clock.now);
    at(clock, trig + 5);
    expect(latched(bus, 2)).toBe(10 - 4);
  });

  it('does port 0x61 bit 4 toggle as virtual time passes, and keep bits 3:0 as written?', () => {
    const { bus, clock } = setup();
    bus.out8(0x61, 0x0e);
    const seen = new Set<number>();
    for (let k = 0; k < 6; k++) {
      at(clock, k * 18 + 1);
      const v = bus.in8(0x61);
      expect(v & 0x0f).toBe(0x0e);
      seen.add(v & 0x10);
      expect(v & 0x10).toBe((k & 1) << 4);
    }
    expect(seen.size).toBe(2);
  });
});

describe('snapshots', () => {
  it('does a restored PIT keep counting and raise the next IRQ 0 at the same virtual time?', () => {
    const a = setup();
    const load = program(a.bus, a.clock, 0, 0x34, 11932);
    runUntil(a.clock, 15e6);
    a.bus.out8(0x43, 0x00); // a latch in flight is part of the state
    const state = JSON.parse(JSON.stringify(a.pit.save())) as object;
    const b = setup();
    b.clock.now = a.clock.now;
    b.pit.restore(state);
    expect(b.bus.in8(0x40) | (b.bus.in8(0x40) << 8)).toBe(11932 - ((pitTickAt(a.clock.now) - load) % 11932));
    runUntil(a.clock, 45e6);
    runUntil(b.clock, 45e6);
    const after = (s: RecordingIrqSink): number[] => s.risingEdges(0).filter((t) => t > 15e6);
    expect(after(b.sink)).toEqual(after(a.sink));
    expect(after(b.sink).length).toBe(3);
  });

  it('does reset stop channel 0 and leave IRQ 0 high and idle?', () => {
    const { bus, clock, sink, pit } = setup();
    program(bus, clock, 0, 0x30, 1000);
    expect(sink.levels[0]).toBe(false);
    pit.reset();
    expect(sink.levels[0]).toBe(true);
    expect(clock.nextEventTime()).toBe(Infinity);
  });
});
