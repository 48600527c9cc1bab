/**
 * Watches a guest's serial console for the batch initramfs's markers.
 * Every engine feeds it what the guest prints (byte by byte or in chunks); it
 * says when the line holding MARKER_BOOTED (user space started) and the one
 * holding MARKER_DONE (the end) are complete, and afterwards which expected
 * lines were missing (src/guests/init-scripts.ts).
 */
import { MARKER_BOOTED, MARKER_DONE, missingBatchLines, stripTerminalControls, type GuestArch } from '../../src/guests/init-scripts.js';

const TAIL_CHARS = 2000;

export class ConsoleWatcher {
  private text = '';
  private line = '';
  /** the final marker's line has been completed */
  done = false;
  /** the first user-space marker's line has been completed */
  booted = false;

  /** `arch`: the guest's architecture, which decides the `uname -m` line expected */
  constructor(private readonly arch: GuestArch = 'i386') {}

  /**
   * Adds one byte of console output. Returns 'done' exactly once: for the
   * newline that completes the final marker's line; 'booted' likewise for
   * the first marker's (user space started); otherwise null. Markers are
   * matched as missingBatchLines matches them (at the end of the line,
   * terminal controls and carriage returns ignored), so the run is stopped
   * at the same point the check later looks for.
   */
  pushByte(byte: number): 'booted' | 'done' | null {
    const ch = String.fromCharCode(byte);
    this.text += ch;
    if (ch !== '\n') {
      this.line += ch;
      return null;
    }
    const line = stripTerminalControls(this.line);
    this.line = '';
    if (!this.booted && line.endsWith(MARKER_BOOTED)) {
      this.booted = true;
      return 'booted';
    }
    if (this.done || !line.endsWith(MARKER_DONE)) return null;
    this.done = true;
    return 'done';
  }

  /** Adds a chunk of output (QEMU's stdout); returns the markers whose lines it completed. */
  pushBytes(chunk: Uint8Array): ('booted' | 'done')[] {
    const completed: ('booted' | 'done')[] = [];
    for (const byte of chunk) {
      const m = this.pushByte(byte);
      if (m !== null) completed.push(m);
    }
    return completed;
  }

  /** Expected lines that did not appear, in order; empty when the guest printed all of them. */
  missing(): string[] {
    return missingBatchLines(this.text, this.arch);
  }

  /** The end of the console output, terminal controls removed. */
  tail(): string {
    return stripTerminalControls(this.text.slice(-TAIL_CHARS));
  }
}
