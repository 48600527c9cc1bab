/**
 * One Debian boot in a child process (linux-boot-runner.mjs, on the compiled
 * code in dist/), and what it reports: shared by the boot tests
 * (linux-boot.ts) and the boot matrix (soak/boot-matrix.ts, which runs
 * from dist/, hence the runner found from the project's root).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LinuxBoot {
  output: string;
  reason: string;
  instructions: number;
  seconds: number;
  release: string;
  counters: Record<string, number>;
  /** SHA-256 of all guest RAM at the end */
  memoryHash: string;
  /** the general registers, EFLAGS and EIP at the end */
  cpuState: string;
  /** CR4 at the end */
  cr4?: number;
  /** the local APIC's counts and the IOAPIC's messages, with --cpu +apic; else null */
  apic: { timer: number; accepted: number; eoi: number; ipi: number; spurious: number; extint: number; ioapicMessages: number } | null;
}

/** The directory holding package.json above this file (from test/machine/ or dist/test/machine/). */
function projectRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    d = up;
  }
  return d;
}

const runner = join(projectRoot(), 'test/machine/linux-boot-runner.mjs');

/** Boots kernel `flavour` ('686', '686-pae') under `mode` with `engine` and the `--cpu` specification `cpu` ('' for the defaults). */
export function bootLinux(flavour: string, mode: string, engine: string, cpu: string, timeoutMs = 1_800_000): Promise<LinuxBoot> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [runner, flavour, mode, engine, cpu], { maxBuffer: 64 << 20, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${flavour} ${mode} ${engine}${cpu ? ` ${cpu}` : ''}: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as LinuxBoot);
    });
  });
}
