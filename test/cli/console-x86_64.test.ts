/**
 * The interactive 64-bit console as a person uses it: `vmmu boot --arch
 * x86_64` (Debian's 64-bit kernel and the busybox shell built around
 * busybox-static:amd64) driven through a pseudo-terminal, one boot for all
 * of it. The shell must answer typed commands from 64-bit user space, the
 * kernel must report the CPU --arch x86_64 gives, and Ctrl-a x must end the
 * session with a summary that says the person quit. The boot to the prompt
 * runs about 590 million instructions, all in the 64-bit interpreter: about
 * a minute of CPU time (docs/bench.md).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const driver = fileURLToPath(new URL('./console-x86_64-driver.py', import.meta.url));

it('does a person at a terminal get a 64-bit busybox shell that answers, on the CPU --arch x86_64 gives, and quits on Ctrl-a x?', () => {
  const out = execFileSync('python3', [driver, process.execPath, 'dist/src/cli/main.js', 'boot', '--arch', 'x86_64'], { cwd: root, encoding: 'utf8', timeout: 1_800_000 });
  const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown> & { cpuFlags: string[] | null; banner: string };
  expect(r, String(r.tail)).toMatchObject({ prompt: true, uname: true, arithmetic: true, quitSaid: true, exitCode: 0 });
  expect(r.banner).toMatch(/^vmmu: booting Debian \S+-cloud-amd64 with a busybox shell \(shadow translation, 256 MiB, CPU \+sse,\+sse2,\+lm\); Ctrl-a x quits$/);
  // what the kernel found in CPUID: long mode and what comes with it, SSE and SSE2; nothing --arch does not turn on
  expect(r.cpuFlags, String(r.tail)).toEqual(expect.arrayContaining(['lm', 'sse', 'sse2', 'syscall', 'nx', 'cx16', 'lahf_lm', 'fxsr', 'pae']));
  expect(r.cpuFlags).not.toContain('apic');
  expect(r.cpuFlags).not.toContain('smep');
  expect(r.instructions as number).toBeGreaterThan(400_000_000);
  console.log(`64-bit shell prompt after ${r.promptSeconds} s; ${r.instructions} instructions in all, the CPU ran ${r.cpuSeconds} s, the command used ${r.processCpuSeconds} s of CPU time`);
}, 1_900_000);
