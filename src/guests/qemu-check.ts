/**
 * Boots the cached guests under QEMU (qemu-system-i386, software
 * emulation) as a reference: the same kernel, initramfs and command line
 * vmmu boots, checked the same way. Used by `npm run guests -- --qemu`;
 * QEMU is not installed by the pipeline (the benchmark installs it).
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { GuestsError } from './errors.js';
import { MARKER_BOOTED, MARKER_DONE } from './init-scripts.js';

export interface QemuRun {
  args: string[];
  /** everything QEMU wrote to stdout (the serial console) */
  output: string;
  exitCode: number | null;
  timedOut: boolean;
  elapsedMs: number;
  /** ms from start to MARKER_BOOTED / MARKER_DONE, when they appeared */
  bootedMs: number | null;
  doneMs: number | null;
}

/** One line typed into the console once `after` has appeared in the output (after the previous step's). */
export interface ConsoleStep {
  after: string;
  send: string;
}

export interface QemuBootOptions {
  binary?: string;
  cmdline: string;
  timeoutMs: number;
  steps?: readonly ConsoleStep[];
  /** the CPU model (default pentium3: no PAE-only or SSE2 assumptions in the guest) */
  cpu?: string;
  memoryMiB?: number;
}

/** QEMU's arguments for a direct kernel boot on the serial console. */
export function qemuArgs(kernel: string, initrd: string, options: QemuBootOptions): string[] {
  return [
    '-m', String(options.memoryMiB ?? 256), '-nographic', '-kernel', kernel, '-initrd', initrd,
    '-append', options.cmdline, '-no-reboot', '-cpu', options.cpu ?? 'pentium3',
  ];
}

/**
 * Boots `kernel` with `initrd` and resolves when QEMU exits or the time is
 * up (QEMU is then killed). Rejects with GuestsError when QEMU cannot be
 * started. Starts and ends one process.
 */
export function bootInQemu(kernel: string, initrd: string, options: QemuBootOptions): Promise<QemuRun> {
  const binary = options.binary ?? 'qemu-system-i386';
  const args = qemuArgs(kernel, initrd, options);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let stderr = '';
    let bootedMs: number | null = null;
    let doneMs: number | null = null;
    let timedOut = false;
    const steps = [...(options.steps ?? [])];
    let searchFrom = 0;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      output += chunk;
      const now = performance.now() - started;
      if (bootedMs === null && output.includes(MARKER_BOOTED)) bootedMs = now;
      if (doneMs === null && output.includes(MARKER_DONE)) doneMs = now;
      while (steps.length > 0) {
        const at = output.indexOf(steps[0]!.after, searchFrom);
        if (at < 0) break;
        searchFrom = at + steps[0]!.after.length;
        child.stdin.write(steps.shift()!.send);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new GuestsError(e.code === 'ENOENT'
        ? `${binary} is not installed (apt-get install -y --no-install-recommends qemu-system-x86)`
        : `${binary} could not be started: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        args: [binary, ...args],
        output: stderr ? `${output}\n[qemu stderr] ${stderr}` : output,
        exitCode: code,
        timedOut,
        elapsedMs: performance.now() - started,
        bootedMs,
        doneMs,
      });
    });
  });
}
