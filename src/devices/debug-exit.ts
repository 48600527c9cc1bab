/**
 * QEMU's isa-debug-exit device: a write of value v to its port ends the run
 * with exit status (v << 1) | 1, so a test guest reports pass or fail through
 * the emulator's own exit status (which can never be 0: a plain 0 stays
 * distinguishable from any guest report). QEMU's defaults: port 0xf4,
 * 1 byte wide; `iosize` 4 claims four ports. Each write of any width to any
 * claimed port is one exit request carrying that write's value; reads return 0.
 *
 * `onExit` receives the full status, v * 2 + 1 (up to 2^33 - 1 for a 32-bit
 * write); a host process exit status keeps only its low 8 bits.
 */
import createDebug from 'debug';
import type { IoBus, PortHandler } from '../io/bus.js';

const log = createDebug('vmmu:debug-exit');

export const DEBUG_EXIT_PORT = 0xf4;

export interface DebugExitOptions {
  /** first port (default 0xf4) */
  port?: number;
  /** ports claimed, 1 or 4 (default 1) */
  width?: 1 | 4;
}

export class DebugExit {
  readonly port: number;
  readonly width: 1 | 4;

  constructor(bus: IoBus, private readonly onExit: (status: number) => void, options: DebugExitOptions = {}) {
    this.port = options.port ?? DEBUG_EXIT_PORT;
    this.width = options.width ?? 1;
    if (this.width !== 1 && this.width !== 4) throw new RangeError(`debug-exit width ${String(this.width)} must be 1 or 4`);
    const exit = (_port: number, v: number): void => this.request(v);
    // A 1-byte device takes byte writes only: a wider write is split by the
    // bus, and its low byte reaches this port first.
    const handler: PortHandler = this.width === 4
      ? { in8: () => 0, in16: () => 0, in32: () => 0, out8: exit, out16: exit, out32: exit }
      : { in8: () => 0, out8: exit };
    bus.registerPorts(this.port, this.width, handler, 'debug-exit');
  }

  private request(v: number): void {
    const status = (v >>> 0) * 2 + 1;
    log('exit requested: value 0x%s, status %d', (v >>> 0).toString(16), status);
    this.onExit(status);
  }

  /** No state: nothing to reset. */
  reset(): void {}

  save(): object {
    return {};
  }

  restore(_state: object): void {}
}
