/**
 * The interactive console as a person uses it: `vmmu boot` (the default
 * guest: Debian's 686 kernel and a busybox shell) driven through a
 * pseudo-terminal. The shell must answer typed commands, line editing must
 * work, and Ctrl-a x must end the session with a summary that says the
 * person quit (not that the guest halted).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const driver = fileURLToPath(new URL('./console-driver.py', import.meta.url));

it('does a person at a terminal get a busybox shell that answers, edits lines, and quits on Ctrl-a x?', () => {
  const out = execFileSync('python3', [driver, process.execPath, 'dist/src/cli/main.js', 'boot'], { cwd: root, encoding: 'utf8', timeout: 1_800_000 });
  const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
  expect(r, String(r.tail)).toMatchObject({ prompt: true, arithmetic: true, lineEditing: true, cursorKeys: true, uname: true, ctrlA: true, help: true, quitSaid: true, exitCode: 0 });
  console.log(`shell prompt after ${r.promptSeconds} s`);
}, 1_900_000);
