/**
 * The deterministic virtual clock. Time advances only as the CPU executes
 * instructions (a fixed number of virtual nanoseconds each), so a run is
 * reproducible instruction for instruction. Devices schedule events at
 * virtual times; the run loop executes instructions up to the next event,
 * then fires it. A halted CPU (HLT with interrupts enabled) skips straight to
 * the next event instead of spinning.
 */

/** A scheduled callback; keep the object to cancel or re-arm it. */
export interface TimerEvent {
  /** virtual time (ns) at which it fires; Infinity when not armed */
  at: number;
  readonly name: string;
  fire(now: number): void;
}

export class VirtualClock {
  /** virtual nanoseconds since power-on */
  now = 0;
  /** virtual ns per executed instruction (default 1: a 1 GHz, 1-IPC virtual CPU) */
  readonly nsPerInstruction: number;
  private readonly events: TimerEvent[] = [];

  constructor(nsPerInstruction = 1) {
    if (!(nsPerInstruction > 0)) throw new RangeError(`nsPerInstruction ${nsPerInstruction} must be positive`);
    this.nsPerInstruction = nsPerInstruction;
  }

  /** Creates an event (not armed). */
  timer(name: string, fire: (now: number) => void): TimerEvent {
    const e: TimerEvent = { at: Infinity, name, fire };
    this.events.push(e);
    return e;
  }

  /** Arms `e` to fire at virtual time `at` (replacing any earlier arming). */
  arm(e: TimerEvent, at: number): void {
    e.at = at;
  }

  /** Disarms `e`. */
  cancel(e: TimerEvent): void {
    e.at = Infinity;
  }

  /** The earliest armed event time, or Infinity. */
  nextEventTime(): number {
    let t = Infinity;
    for (const e of this.events) if (e.at < t) t = e.at;
    return t;
  }

  /** Fires every event due at or before now (an event may re-arm itself). */
  runDue(): void {
    for (let guard = 0; guard < 1000; guard++) {
      let due: TimerEvent | null = null;
      for (const e of this.events) if (e.at <= this.now && (due === null || e.at < due.at)) due = e;
      if (due === null) return;
      const at = due.at;
      due.at = Infinity;
      due.fire(at);
    }
    throw new Error('virtual clock: more than 1000 events due at one instant (a device re-arms at the same time)');
  }
}
