/**
 * The Bochs/QEMU debug console: every byte written to port 0xe9 goes to a
 * sink, with no setup and no flow control, so a guest can print from its
 * first instruction. Reading the port returns 0xe9, which is how a guest
 * tells the port is there (an empty ISA port reads 0xff).
 */
import type { IoBus } from '../io/bus.js';

export const DEBUG_CONSOLE_PORT = 0xe9;

export class DebugConsole {
  constructor(bus: IoBus, private readonly sink: (byte: number) => void, readonly port = DEBUG_CONSOLE_PORT) {
    bus.registerPorts(port, 1, {
      in8: () => DEBUG_CONSOLE_PORT,
      out8: (_port, v) => this.sink(v),
    }, 'debug-console');
  }

  /** No state: nothing to reset. */
  reset(): void {}

  save(): object {
    return {};
  }

  restore(_state: object): void {}
}
