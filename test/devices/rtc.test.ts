/**
 * The MC146818A RTC and CMOS RAM, read and programmed through ports
 * 0x70/0x71 the way a BIOS and Linux's mc146818 and rtc-cmos code do it,
 * with virtual time moved by hand.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IoBus } from '../../src/io/bus.js';
import { VirtualClock } from '../../src/io/clock.js';
import { Rtc, RTC_DEFAULT_START, nsAtRtcCycle, periodicCycles, rtcCycleAt, type RtcOptions } from '../../src/devices/rtc.js';
import { RecordingIrqSink, runUntil } from './helpers.js';

/** Thursday 29 February 2024, 23:59:58 UTC: two seconds before a month, day and weekday rollover */
const LEAP_EVE = new Date(Date.UTC(2024, 1, 29, 23, 59, 58));
const MS = 1e6;
const S = 1e9;

function setup(options: RtcOptions = { startDate: LEAP_EVE }): { bus: IoBus; clock: VirtualClock; irqs: RecordingIrqSink; rtc: Rtc } {
  const clock = new VirtualClock();
  const bus = new IoBus();
  const irqs = new RecordingIrqSink(clock);
  const rtc = new Rtc(bus, clock, irqs, options);
  return { bus, clock, irqs, rtc };
}

const rd = (bus: IoBus, r: number): number => {
  bus.out8(0x70, r);
  return bus.in8(0x71);
};
const wr = (bus: IoBus, r: number, v: number): void => {
  bus.out8(0x70, r);
  bus.out8(0x71, v);
};

/** seconds, minutes, hours, day of week, date, month, year, century as the registers read */
const timeRegs = (bus: IoBus): number[] => [0, 2, 4, 6, 7, 8, 9, 0x32].map((r) => rd(bus, r));

const bcd2bin = (v: number): number => (v >> 4) * 10 + (v & 15);

/**
 * Reads the date the way Linux's mc146818_get_time does on x86 (which
 * always treats the registers as BCD, RTC_ALWAYS_BCD): poll until UIP is
 * clear, read, and accept only if seconds did not change and UIP stayed
 * clear; years 00-69 are 20xx. Returns the date, or null after 10 ms of
 * tries.
 */
function linuxGetTime(bus: IoBus, clock: VirtualClock): Date | null {
  for (let i = 0; i < 100; i++) {
    const seconds = rd(bus, 0);
    if (rd(bus, 0x0a) & 0x80) {
      runUntil(clock, clock.now + 100_000); // udelay(100)
      continue;
    }
    const min = rd(bus, 2), hour = rd(bus, 4), day = rd(bus, 7), mon = rd(bus, 8), year = rd(bus, 9);
    if (rd(bus, 0) !== seconds || rd(bus, 0x0a) & 0x80) continue;
    let y = bcd2bin(year);
    y += y <= 69 ? 2000 : 1900;
    return new Date(Date.UTC(y, bcd2bin(mon) - 1, bcd2bin(day), bcd2bin(hour), bcd2bin(min), bcd2bin(seconds)));
  }
  return null;
}

/** Services IRQ 8 like an interrupt handler: whenever the line is high, reads register C. Returns the C values read. */
function serviceUntil(bus: IoBus, clock: VirtualClock, irqs: RecordingIrqSink, t: number): number[] {
  const seen: number[] = [];
  for (;;) {
    const next = Math.min(clock.nextEventTime(), t);
    runUntil(clock, next);
    if (irqs.levels[8]) seen.push(rd(bus, 0x0c));
    if (next >= t) return seen;
  }
}

describe('reading the start date', () => {
  it('does a BCD, 24-hour RTC read 23:59:58, Thursday 29/02/24, century 20?', () => {
    const { bus } = setup();
    expect(timeRegs(bus)).toEqual([0x58, 0x59, 0x23, 5, 0x29, 0x02, 0x24, 0x20]);
  });

  it('does setting DM give the same date in binary?', () => {
    const { bus } = setup();
    wr(bus, 0x0b, 0x06);
    expect(timeRegs(bus)).toEqual([58, 59, 23, 5, 29, 2, 24, 20]);
  });

  it('does 12-hour mode show 23h as 11 with the PM bit, in BCD and binary, and take a 12-hour write back?', () => {
    const { bus } = setup();
    wr(bus, 0x0b, 0x00);
    expect(rd(bus, 4)).toBe(0x91);
    wr(bus, 0x0b, 0x04);
    expect(rd(bus, 4)).toBe(0x8b);
    wr(bus, 4, 12); // 12 AM = midnight
    wr(bus, 0x0b, 0x06);
    expect(rd(bus, 4)).toBe(0);
  });

  it('do Linux\'s rtc-cmos probe checks pass: register D reads VRT with bit 6 clear, register B has 24-hour mode, A selects 32.768 kHz at 1024 Hz?', () => {
    const { bus } = setup();
    expect(rd(bus, 0x0d)).toBe(0x80);
    expect(rd(bus, 0x0b)).toBe(0x02);
    expect(rd(bus, 0x0a)).toBe(0x26);
  });

  it('does Linux\'s mc146818_get_time read the start date, and the right date an hour of virtual time later?', () => {
    const { bus, clock } = setup();
    expect(linuxGetTime(bus, clock)?.toISOString()).toBe('2024-02-29T23:59:58.000Z');
    runUntil(clock, 3600 * S + 0.25 * S);
    expect(linuxGetTime(bus, clock)?.toISOString()).toBe('2024-03-01T00:59:58.000Z');
  });

  describe('without a start date', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    it('does the clock start at the fixed 2026-01-01 00:00:00 UTC (a Thursday), whatever the host\'s clock says?', () => {
      expect(new Date(RTC_DEFAULT_START).toISOString()).toBe('2026-01-01T00:00:00.000Z');
      for (const host of [Date.UTC(2031, 4, 17, 8, 9, 10), Date.UTC(1999, 11, 31, 23, 59, 59)]) {
        vi.useFakeTimers({ now: host, toFake: ['Date'] });
        expect(Date.now()).toBe(host);
        const { bus, clock } = setup({});
        expect(linuxGetTime(bus, clock)?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
        expect(rd(bus, 0x06)).toBe(5); // day of week, Sunday = 1
        vi.useRealTimers();
      }
    });
  });
});

describe('time keeping', () => {
  it('does the clock advance once per virtual second and roll over the month, weekday and leap day?', () => {
    const { bus, clock } = setup();
    runUntil(clock, 1 * S - 1);
    expect(rd(bus, 0)).toBe(0x58);
    runUntil(clock, 1 * S + 300 * 1000);
    expect(rd(bus, 0)).toBe(0x59);
    runUntil(clock, 2.5 * S);
    expect(timeRegs(bus)).toEqual([0x00, 0x00, 0x00, 6, 0x01, 0x03, 0x24, 0x20]);
  });

  it('does the century byte count on from 2099 to 2100?', () => {
    const { bus, clock } = setup({ startDate: new Date(Date.UTC(2099, 11, 31, 23, 59, 59)) });
    runUntil(clock, 1.5 * S);
    expect(timeRegs(bus)).toEqual([0, 0, 0, 6, 0x01, 0x01, 0x00, 0x21]); // Friday 1 January 2100
  });

  it('is UIP set from 244 us before each update to 1984 us after it, and clear elsewhere?', () => {
    const { bus, clock } = setup();
    const uipAt = (ns: number): number => {
      runUntil(clock, ns);
      return rd(bus, 0x0a) & 0x80;
    };
    expect(uipAt(0)).toBe(0);
    expect(uipAt(1 * S - 250_000)).toBe(0);
    expect(uipAt(1 * S - 240_000)).toBe(0x80);
    expect(uipAt(1 * S + 1_980_000)).toBe(0x80);
    expect(uipAt(1 * S + 1_990_000)).toBe(0);
    expect(uipAt(2 * S - 100_000)).toBe(0x80);
  });

  it('does SET freeze the clock and clear UIP and UIE, and the clock resume without catching up?', () => {
    const { bus, clock } = setup();
    wr(bus, 0x0b, 0x12); // UIE
    runUntil(clock, 0.5 * S);
    wr(bus, 0x0b, 0x92); // SET
    expect(rd(bus, 0x0b)).toBe(0x82);
    runUntil(clock, 1 * S);
    expect(rd(bus, 0x0a) & 0x80).toBe(0);
    runUntil(clock, 3.5 * S);
    expect(rd(bus, 0)).toBe(0x58);
    wr(bus, 0x0b, 0x02);
    runUntil(clock, 4.5 * S);
    expect(rd(bus, 0)).toBe(0x59);
    // SET cleared in the middle of an update window: that update never ran, so no UIP for it
    wr(bus, 0x0b, 0x82);
    runUntil(clock, 5 * S + 1_000_000);
    wr(bus, 0x0b, 0x02);
    expect(rd(bus, 0x0a) & 0x80).toBe(0);
    expect(rd(bus, 0)).toBe(0x59);
  });

  it('does Linux\'s set_time sequence (SET, divider reset, write, release) make the next second come 500 ms after the release?', () => {
    const { bus, clock } = setup();
    runUntil(clock, 10.3 * S);
    wr(bus, 0x0b, 0x82);
    wr(bus, 0x0a, 0x26 | 0x70);
    wr(bus, 0, 0x00);
    wr(bus, 2, 0x30);
    wr(bus, 4, 0x12);
    wr(bus, 7, 0x15);
    wr(bus, 8, 0x06);
    wr(bus, 9, 0x25);
    wr(bus, 0x0b, 0x02);
    runUntil(clock, 10.7 * S);
    expect(rd(bus, 0)).toBe(0x00); // the divider is still in reset
    wr(bus, 0x0a, 0x26);
    const release = clock.now;
    // 16384 oscillator edges after the write: 500 ms less the part of a cycle already gone
    runUntil(clock, release + 0.5 * S - 31_000);
    expect(rd(bus, 0)).toBe(0x00);
    runUntil(clock, release + 0.5 * S + 10);
    expect(timeRegs(bus).slice(0, 3)).toEqual([0x01, 0x30, 0x12]);
    runUntil(clock, release + 1.5 * S + 10);
    expect(linuxGetTime(bus, clock)?.toISOString()).toBe('2025-06-15T12:30:02.000Z');
  });
});

describe('interrupts', () => {
  it('do periodic interrupts come at 1024 Hz with RS = 6, one IRQ 8 edge each when register C is read?', () => {
    const { bus, clock, irqs } = setup();
    wr(bus, 0x0b, 0x42); // PIE
    const seen = serviceUntil(bus, clock, irqs, 100 * MS);
    // the divider has run since -16384 cycles: edges every 32 cycles from there
    const expected: number[] = [];
    for (let c = 32; nsAtRtcCycle(c) <= 100 * MS; c += 32) expected.push(nsAtRtcCycle(c));
    expect(expected.length).toBe(102);
    expect(irqs.risingEdges(8)).toEqual(expected);
    expect(seen.every((v) => v === 0xc0)).toBe(true);
  });

  it('does the rate follow RS: 2 Hz for RS = 15, 8192 Hz for RS = 3, 256 Hz for RS = 1?', () => {
    expect([15, 3, 1, 2, 6].map(periodicCycles)).toEqual([16384, 4, 128, 256, 32]);
    for (const [rs, hz] of [[15, 2], [3, 8192], [1, 256]]) {
      const { bus, clock, irqs } = setup();
      wr(bus, 0x0a, 0x20 | rs);
      wr(bus, 0x0b, 0x42);
      serviceUntil(bus, clock, irqs, 1 * S);
      expect(irqs.risingEdges(8).length).toBe(hz);
    }
  });

  it('does register C clear on read and drop IRQ 8, and show PF without IRQF when PIE is off?', () => {
    const { bus, clock, irqs } = setup();
    runUntil(clock, 10 * MS);
    expect(rd(bus, 0x0c)).toBe(0x40);
    expect(rd(bus, 0x0c)).toBe(0x00);
    expect(irqs.levels[8]).toBe(false);
    runUntil(clock, 20 * MS);
    wr(bus, 0x0b, 0x42); // enabling PIE with PF already set raises the line at once
    expect(irqs.levels[8]).toBe(true);
    expect(rd(bus, 0x0c)).toBe(0xc0);
    expect(irqs.levels[8]).toBe(false);
    expect(rd(bus, 0x0c)).toBe(0x00);
  });

  it('does the update-ended interrupt come at the end of each update cycle?', () => {
    const { bus, clock, irqs } = setup();
    wr(bus, 0x0a, 0x20); // no periodic flag to muddy register C
    wr(bus, 0x0b, 0x12);
    const seen = serviceUntil(bus, clock, irqs, 3.5 * S);
    expect(irqs.risingEdges(8)).toEqual([1, 2, 3].map((s) => nsAtRtcCycle(s * 32768 + 65)));
    // the alarm bytes are 0 from power-on, so the midnight update sets AF too (not enabled: no IRQ of its own)
    expect(seen).toEqual([0x90, 0xb0, 0x90]);
  });

  it('does the alarm fire when the time matches, and every second with don\'t-care bytes?', () => {
    const { bus, clock, irqs } = setup();
    wr(bus, 0x0a, 0x20);
    wr(bus, 1, 0x00);
    wr(bus, 3, 0x00);
    wr(bus, 5, 0x00); // 00:00:00, two seconds away
    wr(bus, 0x0b, 0x22); // AIE
    const seen = serviceUntil(bus, clock, irqs, 5.5 * S);
    expect(irqs.risingEdges(8)).toEqual([nsAtRtcCycle(2 * 32768 + 65)]);
    expect(seen).toEqual([0xb0]); // IRQF, AF and the (not enabled) UF
    wr(bus, 1, 0xc0);
    wr(bus, 3, 0xc0);
    wr(bus, 5, 0xc0);
    serviceUntil(bus, clock, irqs, 8.5 * S);
    expect(irqs.risingEdges(8).length).toBe(4);
  });

  it('does reset clear the interrupt enables and flags and drop the line, but keep the time?', () => {
    const { bus, clock, irqs, rtc } = setup();
    wr(bus, 0x0b, 0x72);
    runUntil(clock, 1.5 * S);
    expect(irqs.levels[8]).toBe(true);
    rtc.reset();
    expect(irqs.levels[8]).toBe(false);
    expect(rd(bus, 0x0b)).toBe(0x02);
    expect(rd(bus, 0x0c)).toBe(0x00);
    expect(rd(bus, 0)).toBe(0x59);
  });
});

describe('CMOS contents', () => {
  const word = (bus: IoBus, lo: number): number => rd(bus, lo) | (rd(bus, lo + 1) << 8);

  it('does a 64 MiB PC report 640 KiB base, 63 MiB extended and 48 MiB above 16 MiB?', () => {
    const { bus } = setup({ startDate: LEAP_EVE, memoryBytes: 64 << 20 });
    expect(word(bus, 0x15)).toBe(640);
    expect(word(bus, 0x17)).toBe(63 * 1024);
    expect(word(bus, 0x30)).toBe(63 * 1024);
    expect(word(bus, 0x34)).toBe(48 * 16);
  });

  it('does a 1 GiB PC cap the KiB counts at 0xffff and report 1008 MiB above 16 MiB in 64 KiB units?', () => {
    const { bus } = setup({ startDate: LEAP_EVE, memoryBytes: 1 << 30 });
    expect(word(bus, 0x17)).toBe(0xffff);
    expect(word(bus, 0x30)).toBe(0xffff);
    expect(word(bus, 0x34)).toBe(1008 * 16);
  });

  it('are shutdown status, diskette and hard disk types 0, the equipment byte set, and the checksum right?', () => {
    const { bus } = setup({ startDate: LEAP_EVE, memoryBytes: 128 << 20 });
    expect([rd(bus, 0x0e), rd(bus, 0x0f), rd(bus, 0x10), rd(bus, 0x12), rd(bus, 0x14)]).toEqual([0, 0, 0, 0, 0x02]);
    let sum = 0;
    for (let r = 0x10; r <= 0x2d; r++) sum += rd(bus, r);
    expect((rd(bus, 0x2e) << 8) | rd(bus, 0x2f)).toBe(sum);
  });

  it('does NVRAM keep what is written, the NMI bit of the index port get stored, and registers C and D ignore writes?', () => {
    const { bus, rtc } = setup();
    for (let r = 0x0e; r < 0x80; r++) if (r !== 0x32) wr(bus, r, r ^ 0x5a);
    for (let r = 0x0e; r < 0x80; r++) if (r !== 0x32) expect(rd(bus, r)).toBe(r ^ 0x5a);
    expect(rtc.nmiEnabled()).toBe(true);
    bus.out8(0x70, 0x8f);
    expect(rtc.nmiEnabled()).toBe(false);
    expect(bus.in8(0x71)).toBe(0x0f ^ 0x5a);
    wr(bus, 0x0d, 0);
    wr(bus, 0x0c, 0xff);
    expect(rd(bus, 0x0d)).toBe(0x80);
    expect(rd(bus, 0x0c) & 0x30).toBe(0);
  });
});

describe('snapshots', () => {
  it('does a restored RTC keep its time, NVRAM and periodic rate?', () => {
    const a = setup();
    wr(a.bus, 0x40, 0x77);
    wr(a.bus, 0x0b, 0x42);
    serviceUntil(a.bus, a.clock, a.irqs, 1.2 * S);
    const state = JSON.parse(JSON.stringify(a.rtc.save())) as object;
    const b = setup({ startDate: new Date(0) });
    b.clock.now = a.clock.now;
    b.rtc.restore(state);
    expect(rd(b.bus, 0x40)).toBe(0x77);
    expect(timeRegs(b.bus)).toEqual(timeRegs(a.bus));
    serviceUntil(a.bus, a.clock, a.irqs, 1.3 * S);
    serviceUntil(b.bus, b.clock, b.irqs, 1.3 * S);
    const after = (s: RecordingIrqSink): number[] => s.risingEdges(8).filter((t) => t > 1.2 * S);
    expect(after(b.irqs)).toEqual(after(a.irqs));
    expect(after(b.irqs).length).toBeGreaterThan(100);
    expect(rtcCycleAt(nsAtRtcCycle(123456789))).toBe(123456789);
  });
});
