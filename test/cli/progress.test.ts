/**
 * The progress bar: shown on a terminal only, quiet in pipes and CI, with
 * a rate and an ETA. And the boot command's status line while the guest is
 * silent, and the serial output it gives way to.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ProgressBar, progressWanted } from '../../src/cli/progress.js';
import { BootProgress, SerialOutput } from '../../src/cli/boot-status.js';

const savedCi = process.env.CI;
afterEach(() => {
  if (savedCi === undefined) delete process.env.CI;
  else process.env.CI = savedCi;
});

function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = { isTTY, columns: 120, text: '', write(t: string): boolean { s.text += t; return true; } };
  return s as unknown as NodeJS.WriteStream & { text: string };
}

it('is the bar wanted on a terminal, but not in a pipe or when CI is set?', () => {
  delete process.env.CI;
  expect(progressWanted(fakeStream(true))).toBe(true);
  expect(progressWanted(fakeStream(false))).toBe(false);
  process.env.CI = 'true';
  expect(progressWanted(fakeStream(true))).toBe(false);
});

it('does the bar show the share done, the records, a rate and an ETA, and clear itself?', async () => {
  const s = fakeStream(true);
  const bar = new ProgressBar(1000, 2, 'replaying x', s);
  bar.update(0, 100, 5000);
  await new Promise((r) => setTimeout(r, 120));
  bar.update(1, 150, 7000);
  expect(s.text).toMatch(/replaying x \[#+-+\]\s+25%\s+12\.0k records\s+[\d.]+k?\/s\s+ETA \d+s/);
  bar.done();
  expect(s.text.endsWith('\r')).toBe(true);
});

describe('the boot command\'s status line', () => {
  const figures = { instructions: 123_456_789, cpuSeconds: 3, virtualNs: 2.5e9 };
  /** A SerialOutput on a byte array, a BootProgress on a fake stream, and a clock the test moves. */
  function setup(isTTY: boolean, sharesTerminal = false): { out: SerialOutput; bytes: number[]; err: ReturnType<typeof fakeStream>; p: BootProgress; at: (ms: number) => void } {
    let now = 0;
    const bytes: number[] = [];
    const out = new SerialOutput({ write: (b: Uint8Array): void => { bytes.push(...b); } }, () => now);
    const err = fakeStream(isTTY);
    const p = new BootProgress(err, out, { quitHint: 'Ctrl-C stops', sharesTerminal, live: isTTY, now: () => now });
    return { out, bytes, err, p, at: (ms: number): void => { now = ms; } };
  }

  it('does the text give instructions, MIPS over the CPU\'s seconds, virtual and wall time?', () => {
    expect(BootProgress.text(figures, 7)).toBe('123.46M instructions, 41.2 MIPS, virtual time 2.50 s, 7 s');
  });

  it('on a terminal, is the line drawn only after a second of silence, redrawn in place, and erased before guest output?', () => {
    const s = setup(true);
    s.at(500);
    s.p.tick(figures);
    expect(s.err.text).toBe('');
    s.at(1500);
    s.p.tick(figures);
    expect(s.err.text).toBe('\rvmmu: 123.46M instructions, 41.2 MIPS, virtual time 2.50 s, 2 s (guest silent 2 s; Ctrl-C stops)\x1b[K');
    s.at(1600);
    s.p.tick(figures); // too soon to redraw
    s.at(1800);
    s.p.tick(figures);
    expect(s.err.text.split('\r').length - 1).toBe(2);
    s.out.push(0x41);
    s.out.push(0x0a);
    expect(s.out.flush()).toBe(true);
    expect(s.err.text.endsWith('\r\x1b[K')).toBe(true);
    expect(s.bytes).toEqual([0x41, 0x0a]);
    s.at(2000);
    s.p.tick(figures); // the guest spoke 200 ms ago
    expect(s.err.text.endsWith('\r\x1b[K')).toBe(true);
  });

  it('sharing the terminal with the guest, is the line held back while the guest\'s last line is unfinished (a prompt)?', () => {
    const s = setup(true, true);
    for (const b of Buffer.from('vmmu:/root# ')) s.out.push(b);
    s.out.flush();
    s.at(60_000);
    s.p.tick(figures);
    expect(s.err.text).toBe('');
    s.out.push(0x0a);
    s.out.flush();
    s.at(62_000);
    s.p.tick(figures);
    expect(s.err.text).toMatch(/^\rvmmu: .* \(guest silent 2 s; Ctrl-C stops\)\x1b\[K$/);
  });

  it('off a terminal, is it a plain line every 30 s of silence, with no carriage return or escape sequence?', () => {
    const s = setup(false);
    s.at(29_000);
    s.p.tick(figures);
    expect(s.err.text).toBe('');
    s.at(31_000);
    s.p.tick(figures);
    s.at(40_000);
    s.p.tick(figures);
    expect(s.err.text).toBe('vmmu: still running: 123.46M instructions, 41.2 MIPS, virtual time 2.50 s, 31 s; no guest output for 31 s\n');
    s.at(61_500);
    s.p.tick(figures);
    expect(s.err.text.split('\n')).toHaveLength(3);
    s.p.clear();
    expect(s.err.text).not.toMatch(/\r|\x1b/);
  });

  it('are the guest\'s bytes passed on as they are, also when they fill the buffer?', () => {
    const s = setup(false);
    const all = Array.from({ length: 40_000 }, (_, i) => (i * 7) & 0xff);
    for (const b of all) s.out.push(b);
    s.out.flush();
    expect(s.bytes).toEqual(all);
    expect(s.out.flush()).toBe(false);
  });
});
