/**
 * The interactive serial console: the guest's first serial port on the
 * terminal. Keys go to the UART (raw mode, so the guest's own line editing
 * works); Ctrl-a x quits, Ctrl-a Ctrl-a sends Ctrl-a, Ctrl-a h lists the
 * commands (QEMU's escape conventions). Virtual time is paced against wall
 * time while the guest idles, so it waits for the person instead of
 * racing its clock ahead.
 */
import type { Machine } from '../machine/machine.js';
import type { BootRunResult } from './boot.js';
import type { BootProgress, SerialOutput } from './boot-status.js';

export interface ConsoleIo {
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (on: boolean) => unknown };
  output: NodeJS.WritableStream;
}

export interface ConsoleOptions {
  /** the guest's serial output, already wired to the machine's UART and to io.output */
  output: SerialOutput;
  /** the status line while the guest is busy and silent */
  progress?: BootProgress;
  /** stop after this many instructions, as a batch run does */
  maxInstructions?: number;
}

const CTRL_A = 0x01;

/**
 * Runs the machine with its serial console on `io` until the guest stops,
 * the instruction limit is reached, or the person quits (Ctrl-a x).
 */
export async function runConsole(m: Machine, io: ConsoleIo, o: ConsoleOptions): Promise<BootRunResult> {
  const started = performance.now();
  const virtualStart = m.clock.now;
  let escape = false;
  let quit = false;
  let wake: (() => void) | null = null;
  const pending: number[] = [];
  const onData = (chunk: Buffer | string): void => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    for (const b of bytes) {
      if (escape) {
        escape = false;
        if (b === 0x78 /* x */) quit = true;
        else if (b === CTRL_A) pending.push(CTRL_A);
        else if (b === 0x68 /* h */) {
          o.progress?.clear();
          io.output.write('\r\nC-a x    exit\r\nC-a C-a  send C-a\r\nC-a h    this help\r\n');
        }
        continue;
      }
      if (b === CTRL_A) escape = true;
      else pending.push(b);
    }
    wake?.();
  };
  const raw = io.input.isTTY === true && typeof io.input.setRawMode === 'function';
  if (raw) io.input.setRawMode!(true);
  io.input.on('data', onData);
  io.input.resume();
  let instructions = 0;
  // Seconds spent inside the machine's run: MIPS is measured over these, not over the waits for keys.
  let cpuSeconds = 0;
  const end = (r: Omit<BootRunResult, 'instructions' | 'seconds' | 'cpuSeconds'>): BootRunResult =>
    ({ ...r, instructions, seconds: (performance.now() - started) / 1000, cpuSeconds });
  try {
    for (;;) {
      if (pending.length > 0) m.uart.receive(pending.splice(0));
      if (quit) return end({ reason: 'quit', exitStatus: null, detail: '' });
      const allowed = virtualStart + (performance.now() - started) * 1e6;
      const limit = o.maxInstructions === undefined ? {} : { maxInstructions: o.maxInstructions - instructions };
      const r = m.run({ maxMillis: 25, idleBefore: Math.max(allowed, m.clock.now), ...limit });
      instructions += r.instructions;
      cpuSeconds += r.seconds;
      o.output.flush();
      if (r.reason === 'idle' || r.reason === 'time-limit') {
        if (r.reason === 'time-limit') o.progress?.tick({ instructions, cpuSeconds, virtualNs: m.clock.now });
        // Let input and output events through; while idle, sleep until a key or the next timer is due.
        const wait = r.reason === 'idle' ? Math.min(20, Math.max(1, (m.clock.nextEventTime() - allowed) / 1e6)) : 0;
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          wake = (): void => {
            clearTimeout(t);
            resolve();
          };
        });
        wake = null;
        continue;
      }
      return end({ reason: r.reason, exitStatus: r.exitStatus, detail: r.detail });
    }
  } finally {
    io.input.off('data', onData);
    if (raw) io.input.setRawMode!(false);
    io.input.pause();
  }
}
