/**
 * A progress bar with rate and ETA for long replays, on standard error, and
 * only on a terminal: quiet when stderr is a pipe or a file, or when CI is
 * set, so scripts and logs get clean output.
 */

export function progressWanted(stream: NodeJS.WriteStream = process.stderr): boolean {
  return stream.isTTY === true && !process.env.CI;
}

export class ProgressBar {
  private readonly bytes: Float64Array;
  private readonly records: Float64Array;
  private readonly start = Date.now();
  private lastDraw = 0;
  private drawn = false;

  /** `total`: bytes all jobs will read together; `jobs`: how many report. */
  constructor(private readonly total: number, jobs: number, private readonly label: string, private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.bytes = new Float64Array(jobs);
    this.records = new Float64Array(jobs);
  }

  /** Job `job` has read `bytes` and replayed `records`. Redraws at most ten times a second. */
  update(job: number, bytes: number, records: number): void {
    this.bytes[job] = bytes;
    this.records[job] = records;
    const now = Date.now();
    if (now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.draw(now);
  }

  private draw(now: number): void {
    let b = 0, r = 0;
    for (let i = 0; i < this.bytes.length; i++) { b += this.bytes[i]!; r += this.records[i]!; }
    const frac = this.total > 0 ? Math.min(1, b / this.total) : 0;
    const secs = (now - this.start) / 1000;
    const rate = secs > 0 ? r / secs : 0;
    const eta = frac > 0.001 ? (secs / frac) * (1 - frac) : NaN;
    const width = 24;
    const full = Math.round(frac * width);
    const bar = '#'.repeat(full) + '-'.repeat(width - full);
    const line = `${this.label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}%  ${fmt(r)} records  ${fmt(rate)}/s  ETA ${Number.isFinite(eta) ? `${eta.toFixed(0)}s` : '?'}`;
    this.stream.write(`\r${line.padEnd(this.stream.columns ? Math.min(this.stream.columns - 1, 100) : 100)}`);
    this.drawn = true;
  }

  /** Clears the bar. */
  done(): void {
    if (this.drawn) this.stream.write(`\r${' '.repeat(this.stream.columns ? Math.min(this.stream.columns - 1, 100) : 100)}\r`);
  }
}

function fmt(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}
