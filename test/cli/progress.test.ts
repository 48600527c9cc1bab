/**
 * The progress bar: shown on a terminal only, quiet in pipes and CI, with
 * a rate and an ETA.
 */
import { afterEach, expect, it } from 'vitest';
import { ProgressBar, progressWanted } from '../../src/cli/progress.js';

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
