/**
 * One QEMU boot: qemu-system-i386 from Debian, software emulation (TCG),
 * the same kernel, initramfs and command line, the serial console on
 * stdout. Timing runs from spawning QEMU (its own start-up and SeaBIOS
 * included) to the chunk of stdout that completes the final marker's line;
 * QEMU is killed then. QEMU counts no instructions here.
 *
 * When qemu-system-i386 is missing, the benchmark installs Debian's
 * qemu-system-x86 with apt-get as root (the command the guests manifest
 * records), and otherwise reports QEMU as unavailable with what to run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { GuestFiles } from '../../src/guests/paths.js';
import { qemuArgs } from '../../src/guests/qemu-check.js';
import { ConsoleWatcher } from './console.js';
import { MEMORY_MIB, type EngineResult } from './engines.js';

const BINARY = 'qemu-system-i386';
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

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

/**
 * qemu-system-i386's path, installing Debian's package first when it is
 * missing and this process is root; or why QEMU cannot be used. May run
 * apt-get (and `apt-get update` when the first install fails).
 */
export function ensureQemu(files: GuestFiles, say: (line: string) => void): { binary: string } | { reason: string } {
  const found = whichBinary(BINARY);
  if (found) return { binary: found };
  const install = files.manifest.qemu.installCommand || `apt-get install -y --no-install-recommends ${PACKAGE}`;
  if (process.getuid?.() !== 0) {
    return { reason: `${BINARY} is not installed and this is not root: run \`${install}\` as root (as root the benchmark installs it itself)` };
  }
  if (!whichBinary('apt-get')) return { reason: `${BINARY} is not installed and there is no apt-get to install ${PACKAGE} with` };
  const [cmd, ...args] = install.split(' ');
  const run = (c: string, a: string[]): { ok: boolean; why: string } => {
    say(`  ${c} ${a.join(' ')}`);
    const r = spawnSync(c, a, { encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 << 20 });
    return { ok: r.status === 0, why: r.error ? r.error.message : `exit ${r.status}: ${lastLine(r.stderr || r.stdout)}` };
  };
  say(`${BINARY} is missing: installing Debian's ${PACKAGE}`);
  let r = run(cmd!, args);
  if (!r.ok) {
    const update = run('apt-get', ['update']);
    if (update.ok) r = run(cmd!, args);
  }
  const after = whichBinary(BINARY);
  if (after) return { binary: after };
  return { reason: `${BINARY} is not installed and \`${install}\` failed (${r.why})` };
}

/** Boots the 686 kernel under QEMU (TCG); resolves with the result, QEMU gone (never rejects). */
export function bootQemu(binary: string, files: GuestFiles, timeoutMs: number): Promise<EngineResult> {
  const args = [
    ...qemuArgs(files.kernels['686'], files.initramfs.batch, { cmdline: files.cmdline, timeoutMs, memoryMiB: MEMORY_MIB, cpu: 'pentium3' }),
    // QEMU chooses TCG by default; said explicitly, since this machine may have /dev/kvm.
    '-accel', 'tcg',
  ];
  const watcher = new ConsoleWatcher();
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    let outcome: Omit<EngineResult, 'name'> | null = null;
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
      outcome = { status: 'ok', seconds };
      child.kill('SIGKILL');
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    const done = (fallback: Omit<EngineResult, 'name'>): void => {
      clearTimeout(limit);
      const o = outcome ?? fallback;
      resolve({
        name: 'qemu', ...o, booted, missing: watcher.missing(), consoleTail: watcher.tail(),
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
