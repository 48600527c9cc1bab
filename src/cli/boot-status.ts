/**
 * What `vmmu boot` shows while the guest runs: the guest's serial output,
 * passed through byte for byte, and a status line on standard error while
 * the guest is silent (a Linux boot with `quiet` prints nothing for minutes).
 *
 * On a terminal the status line is redrawn in place and erased before the
 * guest's output continues; on anything else (a pipe, a file, CI) it is a
 * plain line now and then. Standard output only ever carries the guest's
 * bytes.
 */
import { num } from './table.js';

/** Where the guest's bytes go: a stream that takes Buffers as they are. */
export interface ByteSink {
  write(chunk: Uint8Array): unknown;
}

/**
 * The guest's serial output, buffered: the UART hands over one byte at a
 * time, the stream gets them in chunks (at each flush, or when the buffer
 * fills), unchanged: a byte 0xff stays the single byte 0xff.
 */
export class SerialOutput {
  private readonly buf = new Uint8Array(16384);
  private len = 0;
  /** the last byte written was a newline, or nothing was written yet */
  atLineStart = true;
  /** the clock's time of the last flush that wrote something (or of creation) */
  lastOutputAt: number;
  /** called before any bytes are written (the status line erases itself) */
  beforeWrite: () => void = () => {};

  /** `now`: the clock, in ms (default performance.now; tests pass their own) */
  constructor(private readonly sink: ByteSink, private readonly now: () => number = () => performance.now()) {
    this.lastOutputAt = now();
  }

  /** The UART's sink: one byte. */
  readonly push = (byte: number): void => {
    if (this.len === this.buf.length) this.flush();
    this.buf[this.len++] = byte;
  };

  /** Writes what is buffered; returns whether there was anything. */
  flush(): boolean {
    if (this.len === 0) return false;
    this.beforeWrite();
    // A copy: the stream may still hold the chunk after write() returns.
    this.sink.write(Buffer.from(this.buf.subarray(0, this.len)));
    this.atLineStart = this.buf[this.len - 1] === 0x0a;
    this.len = 0;
    this.lastOutputAt = this.now();
    return true;
  }
}

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** how to stop the run, for the status line ("Ctrl-C stops", "Ctrl-a x quits") */
  quitHint: string;
  /**
   * Whether the guest's output shares the terminal with the status line;
   * then the line is drawn only at the start of a line of guest output, so
   * it never overwrites a partial line (a shell prompt). Default: no.
   */
  sharesTerminal?: boolean;
  /** draw live on a terminal (default: stream.isTTY and CI unset) */
  live?: boolean;
  /** silence before the live line appears, ms (default 1000) */
  liveAfterMs?: number;
  /** silence before, and between, plain lines on a non-terminal, ms (default 30 000) */
  plainEveryMs?: number;
  /** the clock, for tests (default performance.now) */
  now?: () => number;
}

/** The figures a status line shows. */
export interface RunFigures {
  instructions: number;
  /** seconds the CPU ran (console idle waits left out) */
  cpuSeconds: number;
  /** guest virtual time, ns */
  virtualNs: number;
}

/** The status line on standard error while the guest is silent. */
export class BootProgress {
  private drawn = false;
  private lastDraw = -Infinity;
  private lastPlain: number;
  private readonly live: boolean;
  private readonly liveAfterMs: number;
  private readonly plainEveryMs: number;
  private readonly now: () => number;
  private readonly started: number;

  constructor(private readonly stream: ProgressStream, private readonly output: SerialOutput, private readonly o: ProgressOptions) {
    this.live = o.live ?? (stream.isTTY === true && !process.env.CI);
    this.liveAfterMs = o.liveAfterMs ?? 1000;
    this.plainEveryMs = o.plainEveryMs ?? 30_000;
    this.now = o.now ?? ((): number => performance.now());
    this.started = this.now();
    this.lastPlain = this.started;
    output.beforeWrite = (): void => this.clear();
  }

  /** The status text: instructions, MIPS over the CPU's running time, virtual time, wall time. */
  static text(f: RunFigures, wallSeconds: number): string {
    const mips = f.cpuSeconds > 0 ? f.instructions / f.cpuSeconds / 1e6 : 0;
    return `${num(f.instructions)} instructions, ${mips.toFixed(1)} MIPS, virtual time ${(f.virtualNs / 1e9).toFixed(2)} s, ${wallSeconds.toFixed(0)} s`;
  }

  /** Called between run slices: draws, redraws or prints the status when the guest has been silent long enough. */
  tick(f: RunFigures): void {
    const now = this.now();
    const silentMs = now - Math.max(this.output.lastOutputAt, this.started);
    const wall = (now - this.started) / 1000;
    if (this.live) {
      if (silentMs < this.liveAfterMs || now - this.lastDraw < 250) return;
      if (this.o.sharesTerminal && !this.output.atLineStart) return;
      let line = `vmmu: ${BootProgress.text(f, wall)} (guest silent ${(silentMs / 1000).toFixed(0)} s; ${this.o.quitHint})`;
      const width = (this.stream.columns ?? 80) - 1;
      if (width > 10 && line.length > width) line = line.slice(0, width);
      this.stream.write(`\r${line}\x1b[K`);
      this.drawn = true;
      this.lastDraw = now;
      return;
    }
    if (silentMs < this.plainEveryMs || now - this.lastPlain < this.plainEveryMs) return;
    this.stream.write(`vmmu: still running: ${BootProgress.text(f, wall)}; no guest output for ${(silentMs / 1000).toFixed(0)} s\n`);
    this.lastPlain = now;
  }

  /** Erases the live line (before guest output, and at the end). */
  clear(): void {
    if (!this.drawn) return;
    this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
