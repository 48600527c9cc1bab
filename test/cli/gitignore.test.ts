/**
 * What the commands write by default into the working directory stays out
 * of git: `vmmu compare` without -o writes ./vmmu-report.html.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const inGit = spawnSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: root, encoding: 'utf8' }).stdout?.trim() === 'true';

it.skipIf(!inGit)('does git ignore the default compare report, at the top and in a subdirectory, and still see other HTML?', () => {
  const ignored = (path: string): boolean => spawnSync('git', ['check-ignore', '-q', '--no-index', path], { cwd: root }).status === 0;
  expect(ignored('vmmu-report.html')).toBe(true);
  expect(ignored('traces/vmmu-report.html')).toBe(true);
  expect(ignored('report.html')).toBe(false);
});
