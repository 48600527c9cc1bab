/**
 * Test helpers for device models: an IRQ sink that records every level
 * change with its virtual time, and a loop that advances virtual time the
 * way the run loop does (to each due event in turn).
 */
import type { VirtualClock } from '../../src/io/clock.js';
import type { IrqSink } from '../../src/io/irq.js';

export interface IrqChange {
  irq: number;
  level: boolean;
  at: number;
}

export class RecordingIrqSink implements IrqSink {
  readonly changes: IrqChange[] = [];
  readonly levels: boolean[] = new Array<boolean>(16).fill(false);

  constructor(private readonly clock: VirtualClock) {}

  setIrq(irq: number, level: boolean): void {
    this.levels[irq] = level;
    this.changes.push({ irq, level, at: this.clock.now });
  }

  /** virtual times at which `irq` rose */
  risingEdges(irq: number): number[] {
    return this.changes.filter((c) => c.irq === irq && c.level).map((c) => c.at);
  }
}

/** Advances virtual time to `t`, stopping at each event on the way and firing it at its own time. */
export function runUntil(clock: VirtualClock, t: number): void {
  for (;;) {
    const next = clock.nextEventTime();
    if (next > t) break;
    clock.now = Math.max(clock.now, next);
    clock.runDue();
  }
  clock.now = Math.max(clock.now, t);
  clock.runDue();
}
