/**
 * The Intel 8254 programmable interval timer (ports 0x40-0x43) and the PC's
 * system control port B (0x61), which gates channel 2 and reads back its
 * output.
 *
 * Control word (port 0x43), after the 8254 datasheet:
 *
 *   | SC1 SC0 | RW1 RW0 | M2 M1 M0 | BCD |
 *     SC  = channel 0-2, or 3 for the read-back command
 *     RW  = 0 counter latch command, 1 LSB only, 2 MSB only, 3 LSB then MSB
 *     M   = mode 0-5 (6 and 7 are aliases of 2 and 3)
 *
 *   read-back: | 1 1 | /COUNT | /STATUS | CNT2 | CNT1 | CNT0 | 0 |
 *   status:    | OUT | NULL COUNT | RW1 RW0 | M2 M1 M0 | BCD |
 *
 * Port 0x61: | 0 0 | OUT2 | REFRESH | b3 b2 | SPEAKER | GATE2 |
 * (bits 3:0 read back as written; the speaker and bits 3:2 only are stored.)
 *
 * Time. The counters run from a 1193182 Hz clock derived from the virtual
 * clock: tick k happens at the first virtual nanosecond ns with
 * floor(ns * 1193182 / 1e9) >= k. Nothing ticks per instruction: a channel
 * records the tick its count was loaded at, and its count and OUT at any
 * moment are integer functions of the ticks elapsed since. Channel 0's OUT
 * drives IRQ 0 as a level (the PIC sees its rising edges); each OUT
 * transition is a VirtualClock event, so a halted CPU skips straight to it.
 *
 * Count and OUT per mode, e = ticks since the count was loaded into the
 * counting element (the load happens on the tick after the write), N = count:
 *   0  count N-e (wrapping); OUT low, high from e = N until a new count or mode
 *   1  as 0 but started by a gate rising edge; OUT low for e in [0, N)
 *   2  count N-(e mod N); OUT low only while the count is 1
 *   3  OUT high for ceil(N/2) ticks, low for floor(N/2); the count steps by 2
 *      within each half (odd N starts each half at N-1)
 *   4  count N-e (wrapping); OUT low for the single tick e = N
 *   5  as 4 but started by a gate rising edge
 * Gate (channel 2 only; channels 0 and 1 are tied high on a PC): low pauses
 * modes 0, 2, 3, 4, and forces OUT high in modes 2 and 3; a rising edge
 * reloads modes 1, 2, 3, 5.
 *
 * Choices where the datasheet leaves room: after reset every channel is in
 * mode 3, LSB-then-MSB, binary, with no count loaded and OUT high (so IRQ 0
 * is high and idle); a control word clears a pending latch; a new count
 * written in mode 2 takes effect at the end of the current period and in
 * mode 3 at the end of the current half period; before its first load a
 * count reads as the value it held when the control word was written.
 */
import createDebug from 'debug';
import type { IoBus } from '../io/bus.js';
import type { TimerEvent, VirtualClock } from '../io/clock.js';
import type { IrqSink } from '../io/irq.js';

const log = createDebug('vmmu:pit');

/** the PIT's input clock, Hz (14.31818 MHz / 12) */
export const PIT_HZ = 1193182;
const NS_PER_S = 1e9;
/** DRAM refresh period in PIT ticks (channel 1's usual count); port 0x61 bit 4 flips once per period */
const REFRESH_TICKS = 18;

/**
 * PIT ticks elapsed at virtual time `ns`. Exact (split into whole seconds so
 * every product stays below 2^53) for any time a run can reach.
 */
export function pitTickAt(ns: number): number {
  const t = Math.floor(ns);
  const s = Math.floor(t / NS_PER_S);
  return s * PIT_HZ + Math.floor((t - s * NS_PER_S) * PIT_HZ / NS_PER_S);
}

/** The first virtual nanosecond at which pitTickAt reaches `tick`. */
export function nsAtPitTick(tick: number): number {
  const s = Math.floor(tick / PIT_HZ);
  return s * NS_PER_S + Math.ceil((tick - s * PIT_HZ) * NS_PER_S / PIT_HZ);
}

function toBcd(v: number): number {
  return (((v / 1000) | 0) % 10) << 12 | (((v / 100) | 0) % 10) << 8 | (((v / 10) | 0) % 10) << 4 | (v % 10);
}

function fromBcd(raw: number): number {
  return ((raw >> 12) & 15) * 1000 + ((raw >> 8) & 15) * 100 + ((raw >> 4) & 15) * 10 + (raw & 15);
}

/** channel states */
const IDLE = 0; // no count loaded (or modes 1/5 waiting for a trigger): count and OUT held
const RUNNING = 1; // counting since loadTick
const PAUSED = 2; // gate low: counting stopped at pausedE

/** Saved state of one channel (plain JSON). */
export interface PitChannelState {
  ctrl: number; mode: number; bcd: boolean; access: number;
  cr: number; crWritten: boolean; crLoaded: boolean; n: number;
  state: number; loadTick: number; pausedE: number; heldValue: number; heldOut: boolean;
  pendingStart: number; pendingLoad: number; pendingN: number; gate: boolean;
  writeLow: number; writeHigh: boolean; readHigh: boolean;
  latchValue: number; latchState: number; status: number; statusLatched: boolean;
}

/** Saved state of the PIT and port 0x61. */
export interface PitState {
  channels: PitChannelState[];
  portB: number;
}

/** One counter. Every method takes the current PIT tick T. */
class PitChannel {
  /** bits 5:0 of the last control word, as the status byte reports them */
  ctrl = 0x36;
  mode = 3;
  bcd = false;
  /** 1 LSB only, 2 MSB only, 3 LSB then MSB */
  access = 3;
  /** count register: the last count written (1..65536, or 1..10000 in BCD) */
  cr = 0;
  crWritten = false;
  /** the count register has reached the counting element (NULL COUNT = 0) */
  crLoaded = false;
  /** the count in effect for the current cycle */
  n = 0x10000;
  state = IDLE;
  /** tick at which the counting element held n (e = 0) */
  loadTick = 0;
  /** e when paused */
  pausedE = 0;
  /** count and OUT shown while IDLE or before loadTick */
  heldValue = 0;
  heldOut = true;
  /** modes 2/3: a new count takes over at pendingStart with e measured from pendingLoad; -1 when none */
  pendingStart = -1;
  pendingLoad = 0;
  pendingN = 0;
  gate: boolean;
  writeLow = 0;
  /** write flip-flop: the next LSB-then-MSB write is the MSB */
  writeHigh = false;
  /** read flip-flop for unlatched LSB-then-MSB reads */
  readHigh = false;
  latchValue = 0;
  /** 0 none; 1 read LSB and done; 2 read MSB and done; 3 read LSB, then MSB */
  latchState = 0;
  status = 0;
  statusLatched = false;

  constructor(gate: boolean) {
    this.gate = gate;
  }

  reset(gate: boolean): void {
    this.ctrl = 0x36;
    this.mode = 3;
    this.bcd = false;
    this.access = 3;
    this.cr = 0;
    this.crWritten = false;
    this.crLoaded = false;
    this.n = 0x10000;
    this.state = IDLE;
    this.loadTick = 0;
    this.pausedE = 0;
    this.heldValue = 0;
    this.heldOut = true;
    this.pendingStart = -1;
    this.pendingLoad = 0;
    this.pendingN = 0;
    this.gate = gate;
    this.writeLow = 0;
    this.writeHigh = false;
    this.readHigh = false;
    this.latchValue = 0;
    this.latchState = 0;
    this.status = 0;
    this.statusLatched = false;
  }

  private modulus(): number {
    return this.bcd ? 10000 : 0x10000;
  }

  /** Applies a pending mode 2/3 reload whose time has come. */
  sync(T: number): void {
    if (this.pendingStart >= 0 && T >= this.pendingStart) {
      this.n = this.pendingN;
      this.loadTick = this.pendingLoad;
      this.pendingStart = -1;
      this.crLoaded = true;
    }
  }

  /** OUT at elapsed e >= 0 of the current cycle (gate high). */
  private outE(e: number): boolean {
    const n = this.n;
    switch (this.mode) {
      case 0: case 1: return e >= n;
      case 2: return e % n !== n - 1;
      case 3: return e % n < ((n + 1) >> 1);
      default: return e !== n;
    }
  }

  /** The counting element at elapsed e >= 0, as an integer 0..modulus-1. */
  private valueE(e: number): number {
    const n = this.n;
    const m = this.modulus();
    switch (this.mode) {
      case 2: return (n - (e % n)) % m;
      case 3: {
        const h = e % n;
        const high = (n + 1) >> 1;
        const p = h < high ? h : h - high;
        return ((n & ~1) - 2 * p) % m;
      }
      default: return (((n - e) % m) + m) % m;
    }
  }

  out(T: number): boolean {
    if (this.state === IDLE) return this.heldOut;
    if (this.state === PAUSED) return this.mode === 2 || this.mode === 3 ? true : this.outE(this.pausedE);
    return T < this.loadTick ? this.heldOut : this.outE(T - this.loadTick);
  }

  private value(T: number): number {
    if (this.state === IDLE) return this.heldValue;
    if (this.state === PAUSED) return this.valueE(this.pausedE);
    return T < this.loadTick ? this.heldValue : this.valueE(T - this.loadTick);
  }

  /** The count as the guest reads it (binary or BCD, 16 bits). */
  readout(T: number): number {
    const v = this.value(T);
    return this.bcd ? toBcd(v) : v & 0xffff;
  }

  private nullCount(T: number): boolean {
    return !this.crLoaded || (this.state !== IDLE && T < this.loadTick);
  }

  /** The next e > e0 at which OUT changes in the current cycle, or -1. */
  private nextE(e0: number): number {
    const n = this.n;
    switch (this.mode) {
      case 0: case 1: return e0 < n ? n : -1;
      case 2: {
        if (n === 1) return -1;
        const h = e0 % n;
        return h < n - 1 ? e0 - h + n - 1 : e0 + 1;
      }
      case 3: {
        if (n === 1) return -1;
        const h = e0 % n;
        const high = (n + 1) >> 1;
        return h < high ? e0 - h + high : e0 - h + n;
      }
      default: return e0 < n ? n : e0 === n ? n + 1 : -1;
    }
  }

  /** The next tick > T at which OUT may change or a pending reload applies, or -1. */
  nextEvent(T: number): number {
    let next = -1;
    if (this.state === RUNNING) {
      const l = this.loadTick;
      if (T < l) {
        next = this.heldOut !== this.outE(0) ? l : l + this.nextE(0);
        if (next < l) next = -1;
      } else {
        const e = this.nextE(T - l);
        next = e < 0 ? -1 : l + e;
      }
    }
    if (this.pendingStart >= 0 && (next < 0 || this.pendingStart < next)) next = this.pendingStart;
    return next;
  }

  /** A control word selecting this channel (not a latch command). */
  control(T: number, v: number): void {
    this.heldValue = this.value(T);
    this.ctrl = v & 0x3f;
    this.access = (v >> 4) & 3;
    const mode = (v >> 1) & 7;
    this.mode = mode > 5 ? mode - 4 : mode;
    this.bcd = (v & 1) !== 0;
    this.heldOut = this.mode !== 0;
    this.state = IDLE;
    this.crWritten = false;
    this.crLoaded = false;
    this.pendingStart = -1;
    this.writeHigh = false;
    this.readHigh = false;
    this.latchState = 0;
    this.statusLatched = false;
  }

  latchCount(T: number): void {
    if (this.latchState !== 0) return; // a second latch before the read is ignored
    this.latchValue = this.readout(T);
    this.latchState = this.access;
  }

  latchStatus(T: number): void {
    if (this.statusLatched) return;
    this.status = (this.out(T) ? 0x80 : 0) | (this.nullCount(T) ? 0x40 : 0) | this.ctrl;
    this.statusLatched = true;
  }

  read(T: number): number {
    if (this.statusLatched) {
      this.statusLatched = false;
      return this.status;
    }
    switch (this.latchState) {
      case 1: this.latchState = 0; return this.latchValue & 0xff;
      case 2: this.latchState = 0; return this.latchValue >> 8;
      case 3: this.latchState = 2; return this.latchValue & 0xff;
      default: break;
    }
    const v = this.readout(T);
    if (this.access === 1) return v & 0xff;
    if (this.access === 2) return v >> 8;
    this.readHigh = !this.readHigh;
    return this.readHigh ? v & 0xff : v >> 8;
  }

  write(T: number, byte: number): void {
    if (this.access === 1) {
      this.writeCount(T, byte);
    } else if (this.access === 2) {
      this.writeCount(T, byte << 8);
    } else if (!this.writeHigh) {
      this.writeLow = byte;
      this.writeHigh = true;
      if (this.mode === 0) {
        // mode 0: the first byte stops counting and sets OUT low at once
        this.heldValue = this.value(T);
        this.heldOut = false;
        this.state = IDLE;
        this.pendingStart = -1;
      }
    } else {
      this.writeHigh = false;
      this.writeCount(T, this.writeLow | (byte << 8));
    }
  }

  /** A complete count `raw` (as written: binary or BCD, 0 = the maximum). */
  private writeCount(T: number, raw: number): void {
    const count = this.bcd ? fromBcd(raw) : raw;
    this.cr = count === 0 ? this.modulus() : count;
    this.crWritten = true;
    this.crLoaded = false;
    switch (this.mode) {
      case 0: case 4:
        // loaded on the next tick; counting restarts from the new count
        this.heldOut = this.mode === 0 ? false : this.out(T);
        this.heldValue = this.value(T);
        this.pendingStart = -1;
        this.load(T);
        break;
      case 1: case 5:
        break; // takes effect at the next trigger
      default:
        if (this.state === RUNNING && T >= this.loadTick) {
          this.reloadAtBoundary(T);
        } else if (this.state === RUNNING) {
          this.n = this.cr; // rewritten before the first load: the new count is loaded instead
          this.crLoaded = true;
        } else if (this.gate) {
          this.heldValue = this.value(T);
          this.heldOut = true;
          this.load(T);
        }
    }
  }

  /** Starts a cycle with the count register at the next tick (or holds it at e = 0 with the gate low, modes 0/4). */
  private load(T: number): void {
    this.n = this.cr;
    this.crLoaded = true;
    this.loadTick = T + 1;
    if (!this.gate && (this.mode === 0 || this.mode === 4)) {
      this.state = PAUSED;
      this.pausedE = 0;
    } else {
      this.state = RUNNING;
    }
  }

  /** Modes 2/3: the new count waits for the end of the period (mode 3: of the half period). */
  private reloadAtBoundary(T: number): void {
    const n = this.n;
    const e = T - this.loadTick;
    const h = e % n;
    const high = (n + 1) >> 1;
    if (this.mode === 3 && h < high) {
      // the new count starts with its low half, where the old high half ends
      this.pendingStart = T - h + high;
      this.pendingLoad = this.pendingStart - ((this.cr + 1) >> 1);
    } else {
      this.pendingStart = T - h + n;
      this.pendingLoad = this.pendingStart;
    }
    this.pendingN = this.cr;
  }

  setGate(T: number, level: boolean): void {
    if (level === this.gate) return;
    this.gate = level;
    switch (this.mode) {
      case 0: case 4:
        if (!level && this.state === RUNNING) {
          this.pausedE = Math.max(0, T - this.loadTick);
          this.state = PAUSED;
        } else if (level && this.state === PAUSED) {
          // counting resumes on the next tick (and never before the count is loaded)
          this.state = RUNNING;
          this.loadTick = Math.max(T - this.pausedE, this.loadTick);
        }
        break;
      case 1: case 5:
        if (level && this.crWritten) this.trigger(T, this.out(T));
        break;
      default:
        if (!level && this.state === RUNNING) {
          this.pausedE = Math.max(0, T - this.loadTick);
          this.state = PAUSED;
          this.pendingStart = -1;
        } else if (level && this.crWritten) {
          this.trigger(T, true);
        }
    }
  }

  /** Reloads the count register at the next tick (gate trigger). */
  private trigger(T: number, outBefore: boolean): void {
    this.heldValue = this.value(T);
    this.heldOut = outBefore;
    this.pendingStart = -1;
    this.n = this.cr;
    this.crLoaded = true;
    this.state = RUNNING;
    this.loadTick = T + 1;
  }

  save(): PitChannelState {
    return {
      ctrl: this.ctrl, mode: this.mode, bcd: this.bcd, access: this.access,
      cr: this.cr, crWritten: this.crWritten, crLoaded: this.crLoaded, n: this.n,
      state: this.state, loadTick: this.loadTick, pausedE: this.pausedE, heldValue: this.heldValue, heldOut: this.heldOut,
      pendingStart: this.pendingStart, pendingLoad: this.pendingLoad, pendingN: this.pendingN, gate: this.gate,
      writeLow: this.writeLow, writeHigh: this.writeHigh, readHigh: this.readHigh,
      latchValue: this.latchValue, latchState: this.latchState, status: this.status, statusLatched: this.statusLatched,
    };
  }

  restore(s: PitChannelState): void {
    this.ctrl = s.ctrl; this.mode = s.mode; this.bcd = s.bcd; this.access = s.access;
    this.cr = s.cr; this.crWritten = s.crWritten; this.crLoaded = s.crLoaded; this.n = s.n;
    this.state = s.state; this.loadTick = s.loadTick; this.pausedE = s.pausedE; this.heldValue = s.heldValue; this.heldOut = s.heldOut;
    this.pendingStart = s.pendingStart; this.pendingLoad = s.pendingLoad; this.pendingN = s.pendingN; this.gate = s.gate;
    this.writeLow = s.writeLow; this.writeHigh = s.writeHigh; this.readHigh = s.readHigh;
    this.latchValue = s.latchValue; this.latchState = s.latchState; this.status = s.status; this.statusLatched = s.statusLatched;
  }
}

export class Pit {
  private readonly channels: PitChannel[] = [new PitChannel(true), new PitChannel(true), new PitChannel(false)];
  /** fires at channel 0's next OUT transition */
  private readonly timer: TimerEvent;
  /** port 0x61 bits 3:0 as written */
  private portB = 0;
  /** the level IRQ 0 was last set to */
  private irqLevel = false;

  constructor(bus: IoBus, private readonly clock: VirtualClock, private readonly irq: IrqSink) {
    this.timer = clock.timer('pit', (at) => this.update0(pitTickAt(at)));
    bus.registerPorts(0x40, 4, {
      in8: (port) => this.readPort(port),
      out8: (port, v) => this.writePort(port, v),
    }, 'pit');
    bus.registerPorts(0x61, 1, {
      in8: () => this.readPortB(),
      out8: (_port, v) => this.writePortB(v),
    }, 'port61');
    this.reset();
  }

  reset(): void {
    this.channels[0].reset(true);
    this.channels[1].reset(true);
    this.channels[2].reset(false);
    this.portB = 0;
    this.update0(this.tick());
  }

  private tick(): number {
    return pitTickAt(this.clock.now);
  }

  private readPort(port: number): number {
    if (port === 0x43) return 0xff; // the control register is write-only
    const T = this.tick();
    const c = this.channels[port & 3];
    c.sync(T);
    return c.read(T);
  }

  private writePort(port: number, v: number): void {
    const T = this.tick();
    if (port !== 0x43) {
      const ch = port & 3;
      this.channels[ch].sync(T);
      this.channels[ch].write(T, v);
      if (ch === 0) this.update0(T);
      return;
    }
    const sc = v >> 6;
    if (sc === 3) {
      // read-back command: latch count and/or status of each selected channel
      for (let ch = 0; ch < 3; ch++) {
        if (!(v & (2 << ch))) continue;
        const c = this.channels[ch];
        c.sync(T);
        if (!(v & 0x20)) c.latchCount(T);
        if (!(v & 0x10)) c.latchStatus(T);
      }
      return;
    }
    const c = this.channels[sc];
    c.sync(T);
    if ((v & 0x30) === 0) {
      c.latchCount(T);
      return;
    }
    c.control(T, v);
    if (log.enabled) log('ch%d mode %d rw %d%s', sc, c.mode, c.access, c.bcd ? ' bcd' : '');
    if (sc === 0) this.update0(T);
  }

  private readPortB(): number {
    const T = this.tick();
    const c = this.channels[2];
    c.sync(T);
    const refresh = Math.floor(T / REFRESH_TICKS) % 2;
    return this.portB | (refresh << 4) | (c.out(T) ? 0x20 : 0);
  }

  private writePortB(v: number): void {
    this.portB = v & 0x0f;
    const T = this.tick();
    const c = this.channels[2];
    c.sync(T);
    c.setGate(T, (v & 1) !== 0);
  }

  /** Brings IRQ 0 to channel 0's OUT at tick T and arms the event for its next transition. */
  private update0(T: number, force = false): void {
    const c = this.channels[0];
    c.sync(T);
    const out = c.out(T);
    if (out !== this.irqLevel || force) {
      this.irqLevel = out;
      this.irq.setIrq(0, out);
    }
    const next = c.nextEvent(T);
    if (next < 0) this.clock.cancel(this.timer);
    else this.clock.arm(this.timer, nsAtPitTick(next));
  }

  save(): PitState {
    return { channels: this.channels.map((c) => c.save()), portB: this.portB };
  }

  restore(state: object): void {
    const s = state as PitState;
    for (let i = 0; i < 3; i++) this.channels[i].restore(s.channels[i]);
    this.portB = s.portB & 0x0f;
    // re-assert IRQ 0: harmless if the interrupt controller was restored with the line
    this.update0(this.tick(), true);
  }
}
