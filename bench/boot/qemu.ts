/**
 * One QEMU boot: qemu-system-i386 (the 686 kernel) or qemu-system-x86_64
 * (the 64-bit kernel) from Debian, software emulation (TCG), the same
 * kernel, initramfs and command line, the serial console on stdout.
 * Timing runs from spawning QEMU (its own start-up and SeaBIOS included)
 * to the chunk of stdout that completes the final marker's line; QEMU's
 * CPU seconds are read from /proc then, and QEMU is killed. QEMU counts no
 * instructions here.
 *
 * When the binary is missing, the benchmark installs Debian's
 * qemu-system-x86 (which holds both) with apt-get as root (the command the
 * i386 guests manifest records), and otherwise reports QEMU as unavailable
 * with what to run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { qemuArgs } from '../../src/guests/qemu-check.js';
import { ConsoleWatcher } from './console.js';
import { MEMORY_MIB, type EngineResult } from './engines.js';
import type { BootGuest } from './guest.js';

const PACKAGE = 'qemu-system-x86';

/** The path of `binary` on $PATH, or null. Changes nothing. */
export function whichBinary(binary: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    const path = join(dir, binary);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * CPU seconds (user + system) process `pid` has used so far, from
 * /proc/PID/stat (utime and stime, in clock ticks of 1/100 s, the value
 * of USER_HZ Linux reports to user space); undefined where there is no /proc.
 */
function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the fields after the command name, which is in parentheses and may hold spaces
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return undefined;
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

/**
 * The path of `guest`'s QEMU binary, installing Debian's package first when
 * it is missing and this process is root; or why QEMU cannot be used. May
 * run apt-get (and `apt-get update` when the first install fails).
 */
export function ensureQemu(guest: BootGuest, say: (line: string) => void): { binary: string } | { reason: string } {
  const binary = guest.qemuBinary;
  const found = whichBinary(binary);
  if (found) return { binary: found };
  const install = guest.files?.manifest.qemu.installCommand || `apt-get install -y --no-install-recommends ${PACKAGE}`;
  if (process.getuid?.() !== 0) {
    return { reason: `${binary} is not installed and this is not root: run \`${install}\` as root (as root the benchmark installs it itself)` };
  }
  if (!whichBinary('apt-get')) return { reason: `${binary} is not installed and there is no apt-get to install ${PACKAGE} with` };
  const [cmd, ...args] = install.split(' ');
  const run = (c: string, a: string[]): { ok: boolean; why: string } => {
    say(`  ${c} ${a.join(' ')}`);
    const r = spawnSync(c, a, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 << 20 });
    return { ok: r.status === 0, why: r.error ? r.error.message : `exit ${r.status}: ${lastLine(r.stderr || r.stdout)}` };
  };
  say(`${binary} is missing: installing Debian's ${PACKAGE}`);
  let r = run(cmd!, args);
  if (!r.ok) {
    const update = run('apt-get', ['update']);
    if (update.ok) r = run(cmd!, args);
  }
  const after = whichBinary(binary);
  if (after) return { binary: after };
  return { reason: `${binary} is not installed and \`${install}\` failed (${r.why})` };
}

/** Boots `guest`'s kernel under QEMU (TCG); resolves with the result, QEMU gone (never rejects). */
export function bootQemu(binary: string, guest: BootGuest, timeoutMs: number): Promise<EngineResult> {
  const args = [
    ...qemuArgs(guest.kernel, guest.initrd, { cmdline: guest.cmdline, timeoutMs, memoryMiB: MEMORY_MIB, cpu: guest.qemuCpu }),
    // QEMU chooses TCG by default; said explicitly, since this machine may have /dev/kvm.
    '-accel', 'tcg',
  ];
  const watcher = new ConsoleWatcher(guest.batchArch);
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    let outcome: Omit<EngineResult, 'name' | 'arch'> | null = null;
    const limit = setTimeout(() => {
      outcome ??= { status: 'timeout', reason: `no final marker within ${timeoutMs / 1000} s` };
      child.kill('SIGKILL');
    }, timeoutMs);
    let booted: EngineResult['booted'];
    child.stdout.on('data', (chunk: Buffer) => {
      const markers = watcher.pushBytes(chunk);
      if (markers.length === 0 || outcome !== null) return;
      const seconds = (performance.now() - started) / 1000;
      if (markers.includes('booted')) booted = { seconds };
      if (!markers.includes('done')) return;
      outcome = { status: 'ok', seconds, cpuSeconds: cpuSecondsOf(child.pid) };
      child.kill('SIGKILL');
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    const done = (fallback: Omit<EngineResult, 'name' | 'arch'>): void => {
      clearTimeout(limit);
      const o = outcome ?? fallback;
      resolve({
        name: 'qemu', arch: guest.arch, ...o, booted, missing: watcher.missing(), consoleTail: watcher.tail(),
        notes: [`${binary} ${args.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')}`],
      });
    };
    child.on('error', (e: Error) => done({ status: 'failed', reason: `${binary} could not be started: ${e.message}` }));
    child.on('close', (code, signal) => done({
      status: 'failed',
      reason: `QEMU exited (${signal ?? `exit ${code}`}) before the final marker${stderr.trim() ? `: ${lastLine(stderr)}` : ''}`,
    }));
  });
}
