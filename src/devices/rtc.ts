/**
 * The PC's real-time clock and CMOS RAM: a Motorola MC146818A-compatible
 * part (Dallas DS12887 / DS12C887) at ports 0x70 (index) and 0x71 (data),
 * interrupting on IRQ 8.
 *
 *   port 0x70 write   | NMI off | register index (7 bits, 128 bytes) |
 *   port 0x70 read    0xff (the index register is write-only on the PIIX3)
 *   port 0x71         the indexed register
 *
 * Register map (MC146818A datasheet; the CMOS layout is the IBM PC/AT one
 * every BIOS follows):
 *
 *   0x00 seconds   0x01 seconds alarm   0x02 minutes   0x03 minutes alarm
 *   0x04 hours     0x05 hours alarm     0x06 day of week (1 = Sunday)
 *   0x07 date      0x08 month           0x09 year (00-99)
 *   0x0a A  | UIP | DV2 DV1 DV0 | RS3 RS2 RS1 RS0 |
 *   0x0b B  | SET | PIE | AIE | UIE | SQWE | DM | 24/12 | DSE |
 *   0x0c C  | IRQF | PF | AF | UF | 0 0 0 0 |    read-only, cleared by reading
 *   0x0d D  | VRT | 0 0 0 0 0 0 0 |              read-only, VRT always 1
 *   0x0e diagnostic status  0x0f shutdown status  0x10 diskette types
 *   0x12 hard disk types    0x14 equipment byte
 *   0x15/0x16 base memory in KiB (640)
 *   0x17/0x18 and 0x30/0x31 memory above 1 MiB in KiB (at most 0xffff)
 *   0x2e/0x2f checksum of 0x10-0x2d, high byte first
 *   0x32 century (the DS12C887 counts it with the year)
 *   0x34/0x35 memory above 16 MiB in 64 KiB units (the Bochs/SeaBIOS convention)
 *
 * Time. The 32.768 kHz oscillator is derived from the virtual clock:
 * oscillator cycle k happens at the first virtual nanosecond ns with
 * floor(ns * 32768 / 1e9) >= k. Nothing ticks per instruction: the
 * calendar is brought forward on access by the number of update cycles
 * begun since it was last brought forward, so a run is deterministic given
 * the start date. With DV = 010 the divider chain runs; an update cycle
 * begins every 32768 cycles, the first 500 ms after the chain was released
 * from reset (DV = 11x). UIP reads 1 from 244 us (8 cycles, tBUC) before an
 * update begins until the update ends 1984 us (65 cycles, tUC at 32.768 kHz)
 * later; the time registers show the new second from the start of the
 * update, and UF (and AF, when the alarm bytes match the new time) is set at
 * its end. SET = 1 inhibits updates and clears UIP and UIE, and the clock
 * stands still; any DV pattern other than 010 stops it too. At power-on the
 * calendar holds the start date and the next update begins 1 s later, so the
 * clock reads start + floor(t / 1 s) at virtual time t. The start date is
 * fixed (RTC_DEFAULT_START) unless the caller gives one, so that nothing the
 * guest reads depends on when it was run.
 *
 * Interrupts: PF is set at the periodic rate selected by RS (256 Hz and
 * 128 Hz for RS = 1, 2; 65536 >> RS Hz for RS = 3..15) whatever PIE says;
 * IRQF = (PF & PIE) | (AF & AIE) | (UF & UIE) drives IRQ 8, and reading
 * register C clears every flag and drops the line. Update ends are
 * VirtualClock events whenever the clock runs (one per virtual second);
 * periodic edges are events only while PIE is set, and otherwise PF is
 * worked out when register C is read.
 *
 * Deliberate departures from the silicon, all in the guest's favour:
 * - The calendar is kept as numbers and converted to the register format
 *   (BCD or binary, 12- or 24-hour) on every access, so changing DM or
 *   24/12 does not garble the time (the chip would keep the old encoding
 *   until software rewrote the registers).
 * - An out-of-range value written to a time register (hour 25, month 13) is
 *   normalised by the next update instead of counting on to odd values.
 * - DSE (daylight saving) is stored but never moves the clock.
 * - The square-wave output pin is not modelled (SQWE is stored).
 */
import createDebug from 'debug';
import type { IoBus } from '../io/bus.js';
import type { TimerEvent, VirtualClock } from '../io/clock.js';
import type { IrqSink } from '../io/irq.js';

const log = createDebug('vmmu:rtc');

export const RTC_IRQ = 8;
/** oscillator frequency, Hz */
const OSC_HZ = 32768;
const NS_PER_S = 1e9;
/** oscillator cycles between update cycles (1 s) */
const UPDATE_PERIOD = OSC_HZ;
/** cycles from divider release to the first update (500 ms) */
const FIRST_UPDATE_DELAY = OSC_HZ / 2;
/** UIP rises this many cycles before an update begins (tBUC = 244 us) */
const UIP_LEAD = 8;
/** an update cycle lasts this many cycles (tUC = 1984 us) */
const UPDATE_CYCLES = 65;

export const REG_SECONDS = 0x00;
export const REG_SECONDS_ALARM = 0x01;
export const REG_MINUTES = 0x02;
export const REG_MINUTES_ALARM = 0x03;
export const REG_HOURS = 0x04;
export const REG_HOURS_ALARM = 0x05;
export const REG_DAY_OF_WEEK = 0x06;
export const REG_DATE = 0x07;
export const REG_MONTH = 0x08;
export const REG_YEAR = 0x09;
export const REG_A = 0x0a;
export const REG_B = 0x0b;
export const REG_C = 0x0c;
export const REG_D = 0x0d;
export const REG_CENTURY = 0x32;

const A_UIP = 0x80;
const A_DV_MASK = 0x70;
/** DV = 010: oscillator on, divider running (32.768 kHz time base) */
const A_DV_RUN = 0x20;
const A_RS_MASK = 0x0f;

const B_SET = 0x80;
const B_PIE = 0x40;
const B_AIE = 0x20;
const B_UIE = 0x10;
const B_DM_BINARY = 0x04;
const B_24H = 0x02;

const C_IRQF = 0x80;
const C_PF = 0x40;
const C_AF = 0x20;
const C_UF = 0x10;

const D_VRT = 0x80;

/** an alarm byte of binary 11xxxxxx matches any value */
const ALARM_DONT_CARE = 0xc0;

/** Oscillator cycles elapsed at virtual time `ns` (exact for any reachable time). */
export function rtcCycleAt(ns: number): number {
  const t = Math.floor(ns);
  const s = Math.floor(t / NS_PER_S);
  return s * OSC_HZ + Math.floor((t - s * NS_PER_S) * OSC_HZ / NS_PER_S);
}

/** The first virtual nanosecond at which rtcCycleAt reaches `cycle` (cycle may be negative). */
export function nsAtRtcCycle(cycle: number): number {
  const s = Math.floor(cycle / OSC_HZ);
  return s * NS_PER_S + Math.ceil((cycle - s * OSC_HZ) * NS_PER_S / OSC_HZ);
}

/** Oscillator cycles per periodic-interrupt edge for rate select `rs` (1..15). */
export function periodicCycles(rs: number): number {
  return rs <= 2 ? 1 << (rs + 6) : 1 << (rs - 1);
}

/**
 * The date the RTC holds at virtual time 0 when no start date is given:
 * 2026-01-01 00:00:00 UTC, a Thursday. Fixed, so that a run is reproducible
 * instruction for instruction (docs/cpu.md, "Time"); milliseconds since 1970.
 */
export const RTC_DEFAULT_START = Date.UTC(2026, 0, 1, 0, 0, 0);

export interface RtcOptions {
  /** the wall-clock date the RTC holds at virtual time 0, read in UTC (default: RTC_DEFAULT_START) */
  startDate?: Date;
  /**
   * the guest-physical address where RAM ends (RAM being contiguous from
   * 1 MiB up to it), e.g. 64 MiB on a 64 MiB PC; sizes the CMOS memory
   * bytes. Default 64 MiB.
   */
  memoryBytes?: number;
  /** CMOS byte 0x14 (default 0x02: no diskette, EGA/VGA or no display, coprocessor present) */
  equipment?: number;
}

/** The calendar as numbers: hour 0..23, month 1..12, year 0..99, dayOfWeek 1..7 (Sunday = 1). */
export interface RtcCalendar {
  seconds: number; minutes: number; hours: number; dayOfWeek: number;
  date: number; month: number; year: number; century: number;
}

/** Saved state (plain JSON). */
export interface RtcState {
  cmos: number[]; calendar: RtcCalendar; flags: number; index: number; nmiDisabled: boolean;
  divBase: number; firstUpdate: number; syncedCycle: number; pfCycle: number; nextUpdateEnd: number;
}

function toBcd(v: number): number {
  return (((v / 10) | 0) % 10) << 4 | (v % 10);
}

function fromBcd(v: number): number {
  return (v >> 4) * 10 + (v & 15);
}

/** Seconds since 1970 of a calendar (out-of-range fields roll over, as Date does). */
function epochSeconds(c: RtcCalendar): number {
  const d = new Date(0);
  d.setUTCFullYear(c.century * 100 + c.year, c.month - 1, c.date);
  d.setUTCHours(c.hours, c.minutes, c.seconds, 0);
  return Math.floor(d.getTime() / 1000);
}

export class Rtc {
  /** the 128 bytes of CMOS; the time bytes and registers C, D live elsewhere */
  private readonly cmos = new Uint8Array(128);
  private readonly calendar: RtcCalendar = { seconds: 0, minutes: 0, hours: 0, dayOfWeek: 1, date: 1, month: 1, year: 0, century: 20 };
  /** register C bits 6:4 (PF, AF, UF) */
  private flags = 0;
  private index = 0;
  private nmiDisabled = false;
  /** oscillator cycle at which the divider chain was released from reset */
  private divBase = -FIRST_UPDATE_DELAY;
  /** cycle at which the first update cycle after the release (or power-on) begins; later ones follow every 32768 */
  private firstUpdate = UPDATE_PERIOD;
  /** the calendar includes every update begun at or before this cycle */
  private syncedCycle = 0;
  /** PF includes every periodic edge at or before this cycle */
  private pfCycle = 0;
  /** the end of the next update cycle not yet processed (UF, AF) */
  private nextUpdateEnd = UPDATE_PERIOD + UPDATE_CYCLES;
  /** the level IRQ 8 was last set to */
  private irqLevel = false;
  private readonly timer: TimerEvent;

  constructor(bus: IoBus, private readonly clock: VirtualClock, private readonly irq: IrqSink, options: RtcOptions = {}) {
    this.timer = clock.timer('rtc', (at) => this.onTimer(at));
    bus.registerPorts(0x70, 2, {
      in8: (port) => (port === 0x70 ? 0xff : this.readRegister(this.index)),
      out8: (port, v) => {
        if (port === 0x70) {
          this.index = v & 0x7f;
          this.nmiDisabled = (v & 0x80) !== 0;
        } else {
          this.writeRegister(this.index, v);
        }
      },
    }, 'rtc');
    this.powerOn(options);
  }

  /** Power-on state as a BIOS leaves it: the start date, 32.768 kHz divider running at 1024 Hz, BCD, 24-hour, CMOS filled in. */
  private powerOn(o: RtcOptions): void {
    const start = o.startDate ?? new Date(RTC_DEFAULT_START);
    if (Number.isNaN(start.getTime())) throw new RangeError('RTC start date is not a valid date');
    const c = this.calendar;
    c.seconds = start.getUTCSeconds();
    c.minutes = start.getUTCMinutes();
    c.hours = start.getUTCHours();
    c.dayOfWeek = start.getUTCDay() + 1;
    c.date = start.getUTCDate();
    c.month = start.getUTCMonth() + 1;
    c.year = start.getUTCFullYear() % 100;
    c.century = Math.floor(start.getUTCFullYear() / 100);

    const now = this.cycle();
    this.cmos.fill(0);
    this.cmos[REG_A] = A_DV_RUN | 0x06;
    this.cmos[REG_B] = B_24H;
    this.flags = 0;
    // the chain has been running; the next update begins 1 s from now
    this.divBase = now - FIRST_UPDATE_DELAY;
    this.firstUpdate = now + UPDATE_PERIOD;
    this.syncedCycle = now;
    this.pfCycle = now;
    this.nextUpdateEnd = this.firstUpdate + UPDATE_CYCLES;

    const memoryBytes = o.memoryBytes ?? 64 << 20;
    if (!(memoryBytes >= 1 << 20)) throw new RangeError(`RTC memory size ${memoryBytes} is below 1 MiB`);
    const cm = this.cmos;
    cm[0x0e] = 0; // diagnostic status: all tests passed
    cm[0x0f] = 0; // shutdown status: power-on or reset
    cm[0x10] = 0; // no diskette drives
    cm[0x12] = 0; // no hard disks (types in 0x19/0x1a unused)
    cm[0x14] = (o.equipment ?? 0x02) & 0xff;
    cm[0x15] = 640 & 0xff;
    cm[0x16] = 640 >> 8;
    const extKiB = Math.min(0xffff, Math.floor((memoryBytes - (1 << 20)) / 1024));
    cm[0x17] = cm[0x30] = extKiB & 0xff;
    cm[0x18] = cm[0x31] = extKiB >> 8;
    const above16M = Math.min(0xffff, Math.max(0, Math.floor((memoryBytes - (16 << 20)) / 65536)));
    cm[0x34] = above16M & 0xff;
    cm[0x35] = above16M >> 8;
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += cm[i];
    cm[0x2e] = (sum >> 8) & 0xff;
    cm[0x2f] = sum & 0xff;
    this.index = 0;
    this.nmiDisabled = false;
    this.rearm();
    this.updateIrq();
  }

  /**
   * The RESET pin (a system reset): clears PIE, AIE, UIE, SQWE and every
   * interrupt flag, drops IRQ 8. Time, NVRAM and the divider are battery-
   * backed and unaffected.
   */
  reset(): void {
    const c = this.cycle();
    this.syncTime(c);
    this.cmos[REG_B] &= ~(B_PIE | B_AIE | B_UIE | 0x08);
    this.flags = 0;
    this.pfCycle = c;
    this.rearm();
    this.updateIrq();
  }

  /** Whether port 0x70 bit 7 leaves NMIs enabled. */
  nmiEnabled(): boolean {
    return !this.nmiDisabled;
  }

  /** The calendar as it stands now (a copy). */
  now(): RtcCalendar {
    this.syncTime(this.cycle());
    return { ...this.calendar };
  }

  private cycle(): number {
    return rtcCycleAt(this.clock.now);
  }

  private running(): boolean {
    return (this.cmos[REG_A] & A_DV_MASK) === A_DV_RUN;
  }

  private updating(): boolean {
    return this.running() && !(this.cmos[REG_B] & B_SET);
  }

  /** Update cycles begun at or before cycle `c`. */
  private updatesBy(c: number): number {
    return c < this.firstUpdate ? 0 : Math.floor((c - this.firstUpdate) / UPDATE_PERIOD) + 1;
  }

  /** Brings the calendar forward by the updates begun in (syncedCycle, c]. */
  private syncTime(c: number): void {
    if (c <= this.syncedCycle) return;
    if (this.updating()) {
      const n = this.updatesBy(c) - this.updatesBy(this.syncedCycle);
      if (n > 0) this.advance(n);
    }
    this.syncedCycle = c;
  }

  /** Adds `n` seconds to the calendar; the day of week steps once per midnight passed. */
  private advance(n: number): void {
    const c = this.calendar;
    const t0 = epochSeconds(c);
    const t1 = t0 + n;
    const d = new Date(t1 * 1000);
    const days = Math.floor(t1 / 86400) - Math.floor(t0 / 86400);
    c.seconds = d.getUTCSeconds();
    c.minutes = d.getUTCMinutes();
    c.hours = d.getUTCHours();
    c.date = d.getUTCDate();
    c.month = d.getUTCMonth() + 1;
    c.year = d.getUTCFullYear() % 100;
    c.century = Math.floor(d.getUTCFullYear() / 100);
    c.dayOfWeek = ((((c.dayOfWeek - 1 + days) % 7) + 7) % 7) + 1;
  }

  /** Sets PF if a periodic edge came in (pfCycle, c]. */
  private syncPeriodic(c: number): void {
    if (c <= this.pfCycle) return;
    const rs = this.cmos[REG_A] & A_RS_MASK;
    if (this.running() && rs !== 0) {
      const p = periodicCycles(rs);
      if (Math.floor((c - this.divBase) / p) > Math.floor((this.pfCycle - this.divBase) / p)) this.flags |= C_PF;
    }
    this.pfCycle = c;
  }

  /**
   * UIP at cycle c: from 8 cycles before an update begins until it ends,
   * for updates that run (not one SET suppressed, whose end was skipped).
   */
  private uip(c: number): boolean {
    if (!this.updating()) return false;
    const k = Math.floor((c + UIP_LEAD - this.firstUpdate) / UPDATE_PERIOD);
    if (k < 0) return false;
    const end = this.firstUpdate + k * UPDATE_PERIOD + UPDATE_CYCLES;
    return c < end && end >= this.nextUpdateEnd;
  }

  /** The first update end after cycle c that belongs to an update that will run. */
  private updateEndAfter(c: number): number {
    const first = this.firstUpdate + UPDATE_CYCLES;
    if (c < first) return first;
    return first + (Math.floor((c - first) / UPDATE_PERIOD) + 1) * UPDATE_PERIOD;
  }

  /** Encodes a calendar value in the current data mode. */
  private enc(v: number): number {
    return this.cmos[REG_B] & B_DM_BINARY ? v & 0xff : toBcd(v);
  }

  private dec(v: number): number {
    return this.cmos[REG_B] & B_DM_BINARY ? v : fromBcd(v);
  }

  /** The hours register: 0-23, or 1-12 with bit 7 = PM in 12-hour mode. */
  private encHours(h: number): number {
    if (this.cmos[REG_B] & B_24H) return this.enc(h);
    return this.enc(h % 12 === 0 ? 12 : h % 12) | (h >= 12 ? 0x80 : 0);
  }

  private decHours(v: number): number {
    if (this.cmos[REG_B] & B_24H) return this.dec(v);
    return (this.dec(v & 0x7f) % 12) + (v & 0x80 ? 12 : 0);
  }

  private readRegister(r: number): number {
    const c = this.cycle();
    switch (r) {
      case REG_SECONDS: this.syncTime(c); return this.enc(this.calendar.seconds);
      case REG_MINUTES: this.syncTime(c); return this.enc(this.calendar.minutes);
      case REG_HOURS: this.syncTime(c); return this.encHours(this.calendar.hours);
      case REG_DAY_OF_WEEK: this.syncTime(c); return this.enc(this.calendar.dayOfWeek);
      case REG_DATE: this.syncTime(c); return this.enc(this.calendar.date);
      case REG_MONTH: this.syncTime(c); return this.enc(this.calendar.month);
      case REG_YEAR: this.syncTime(c); return this.enc(this.calendar.year);
      case REG_CENTURY: this.syncTime(c); return this.enc(this.calendar.century);
      case REG_A: return (this.cmos[REG_A] & 0x7f) | (this.uip(c) ? A_UIP : 0);
      case REG_C: {
        this.syncPeriodic(c);
        const v = this.irqf() ? C_IRQF | this.flags : this.flags;
        this.flags = 0;
        this.updateIrq();
        return v;
      }
      case REG_D: return D_VRT;
      default: return this.cmos[r];
    }
  }

  private writeRegister(r: number, v: number): void {
    const c = this.cycle();
    const cal = this.calendar;
    switch (r) {
      case REG_SECONDS: this.syncTime(c); cal.seconds = this.dec(v & 0x7f); break;
      case REG_MINUTES: this.syncTime(c); cal.minutes = this.dec(v); break;
      case REG_HOURS: this.syncTime(c); cal.hours = this.decHours(v); break;
      case REG_DAY_OF_WEEK: this.syncTime(c); cal.dayOfWeek = this.dec(v); break;
      case REG_DATE: this.syncTime(c); cal.date = this.dec(v); break;
      case REG_MONTH: this.syncTime(c); cal.month = this.dec(v); break;
      case REG_YEAR: this.syncTime(c); cal.year = this.dec(v); break;
      case REG_CENTURY: this.syncTime(c); cal.century = this.dec(v); break;
      case REG_A: this.writeA(c, v); break;
      case REG_B: this.writeB(c, v); break;
      case REG_C: case REG_D: break; // read-only
      default: this.cmos[r] = v;
    }
  }

  private writeA(c: number, v: number): void {
    this.syncTime(c);
    this.syncPeriodic(c);
    const wasRunning = this.running();
    this.cmos[REG_A] = v & 0x7f;
    if (this.running() && !wasRunning) {
      // released from reset (or the oscillator turned on): the first update comes 500 ms later
      this.divBase = c;
      this.firstUpdate = c + FIRST_UPDATE_DELAY;
      this.nextUpdateEnd = this.firstUpdate + UPDATE_CYCLES;
      log('divider released at cycle %d', c);
    }
    if (log.enabled) log('A 0x%s', v.toString(16));
    this.rearm();
  }

  private writeB(c: number, v: number): void {
    this.syncTime(c);
    this.syncPeriodic(c);
    const old = this.cmos[REG_B];
    // SET going high clears UIE (DS12887 register B)
    if ((v & B_SET) && !(old & B_SET)) v &= ~B_UIE;
    this.cmos[REG_B] = v;
    // updates skipped while SET was high do not happen later
    if ((old & B_SET) && !(v & B_SET)) this.nextUpdateEnd = this.updateEndAfter(c + UPDATE_CYCLES);
    if (log.enabled) log('B 0x%s', v.toString(16));
    this.rearm();
    this.updateIrq();
  }

  private irqf(): boolean {
    return (this.flags & this.cmos[REG_B] & (C_PF | C_AF | C_UF)) !== 0;
  }

  private updateIrq(force = false): void {
    const level = this.irqf();
    if (level !== this.irqLevel || force) {
      this.irqLevel = level;
      this.irq.setIrq(RTC_IRQ, level);
    }
  }

  /** Whether the three alarm bytes match the time (each matching any value when 11xxxxxx). */
  private alarmMatches(): boolean {
    const m = (alarm: number, now: number): boolean => (alarm & ALARM_DONT_CARE) === ALARM_DONT_CARE || alarm === now;
    const cal = this.calendar;
    return m(this.cmos[REG_SECONDS_ALARM], this.enc(cal.seconds))
      && m(this.cmos[REG_MINUTES_ALARM], this.enc(cal.minutes))
      && m(this.cmos[REG_HOURS_ALARM], this.encHours(cal.hours));
  }

  private onTimer(at: number): void {
    const c = rtcCycleAt(at);
    this.syncTime(c);
    this.syncPeriodic(c);
    if (this.updating() && c >= this.nextUpdateEnd) {
      this.flags |= C_UF;
      if (this.alarmMatches()) this.flags |= C_AF;
      this.nextUpdateEnd = this.updateEndAfter(c);
    }
    this.rearm();
    this.updateIrq();
  }

  /** Arms the timer for the next update end (while the clock runs) or periodic edge (while PIE is set). */
  private rearm(): void {
    let next = Infinity;
    if (this.updating()) next = this.nextUpdateEnd;
    const rs = this.cmos[REG_A] & A_RS_MASK;
    if (this.running() && rs !== 0 && (this.cmos[REG_B] & B_PIE)) {
      const p = periodicCycles(rs);
      const edge = this.divBase + (Math.floor((this.pfCycle - this.divBase) / p) + 1) * p;
      if (edge < next) next = edge;
    }
    if (next === Infinity) this.clock.cancel(this.timer);
    else this.clock.arm(this.timer, nsAtRtcCycle(next));
  }

  save(): RtcState {
    this.syncTime(this.cycle());
    return {
      cmos: Array.from(this.cmos), calendar: { ...this.calendar }, flags: this.flags, index: this.index, nmiDisabled: this.nmiDisabled,
      divBase: this.divBase, firstUpdate: this.firstUpdate, syncedCycle: this.syncedCycle, pfCycle: this.pfCycle, nextUpdateEnd: this.nextUpdateEnd,
    };
  }

  restore(state: object): void {
    const s = state as RtcState;
    for (let i = 0; i < 128; i++) this.cmos[i] = s.cmos[i] & 0xff;
    Object.assign(this.calendar, s.calendar);
    this.flags = s.flags & (C_PF | C_AF | C_UF);
    this.index = s.index & 0x7f;
    this.nmiDisabled = s.nmiDisabled;
    this.divBase = s.divBase;
    this.firstUpdate = s.firstUpdate;
    this.syncedCycle = s.syncedCycle;
    this.pfCycle = s.pfCycle;
    this.nextUpdateEnd = s.nextUpdateEnd;
    this.rearm();
    // re-assert the line: harmless if the interrupt controller was restored with it
    this.updateIrq(true);
  }
}
