/**
 * One vmmu boot: Debian's 686 kernel or its 64-bit kernel and the batch
 * initramfs of its architecture on a fresh Machine in one translation mode
 * (the 64-bit kernel on the CPU `--cpu +lm,+sse,+sse2`), run until the
 * final marker's line is complete. Runs in its own process (bench/boot/child.ts), so one mode's
 * code never makes another's call sites polymorphic.
 *
 * Stopping at the marker: when the serial port receives the newline that
 * ends the marker's line, the benchmark writes to the isa-debug-exit port
 * (0xf4) from the host side. The UART write that delivered the byte already
 * ended the CPU's slice at that OUT instruction (ports sync the clock), so
 * Machine.run returns 'exit' right there, and RunResult.instructions and
 * .seconds are the counts at the marker. The CPU's own instruction count,
 * read inside the callback, is kept as a cross-check.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Machine } from '../../src/machine/machine.js';
import type { ModeName } from '../../src/mmu/modes/mode.js';
import { DEBUG_EXIT_PORT } from '../../src/devices/debug-exit.js';
import type { BootGuest } from './guest.js';
import { ConsoleWatcher } from './console.js';
import { MEMORY_MIB, type EngineName, type EngineResult } from './engines.js';
import type { Engine } from '../../src/cpu/cpu.js';

/** The CMOS clock's date at power-on: fixed, so every run is the same run (the virtual clock is deterministic). */
export const START_DATE = new Date('2026-01-01T00:00:00Z');

/** Boots `guest`'s kernel under `mode` with CPU engine `engine`; never throws for a guest failure (the result says what happened). */
export function bootVmmu(mode: ModeName, guest: BootGuest, timeoutMs: number, engine: Engine, name: EngineName = mode): EngineResult {
  const arch = guest.arch;
  const watcher = new ConsoleWatcher(guest.batchArch);
  let machine: Machine | null = null;
  let atMarker = -1;
  let runStart = 0;
  let booted: EngineResult['booted'];
  const serialOut = (byte: number): void => {
    const marker = watcher.pushByte(byte);
    if (marker === null || machine === null) return;
    const instructions = machine.cpu.totalInstructions + machine.cpu.executed;
    if (marker === 'booted') {
      booted = { seconds: (performance.now() - runStart) / 1000, instructions };
      return;
    }
    atMarker = instructions;
    machine.io.out8(DEBUG_EXIT_PORT, 0);
  };
  const setupStart = performance.now();
  machine = new Machine({ mode, engine, memory: MEMORY_MIB << 20, startDate: START_DATE, serialOut, ...(guest.vmmuCpu ? { cpu: guest.vmmuCpu } : {}) });
  machine.loadLinux(readFileSync(guest.kernel), guest.kernel, readFileSync(guest.initrd), guest.initrd, guest.cmdline);
  const setupSeconds = (performance.now() - setupStart) / 1000;

  const cpuBefore = process.cpuUsage();
  runStart = performance.now();
  const r = machine.run({ maxMillis: timeoutMs });
  const cpu = process.cpuUsage(cpuBefore);
  const measured = {
    seconds: r.seconds, setupSeconds, instructions: r.instructions, cpuSeconds: (cpu.user + cpu.system) / 1e6, booted,
  };
  if (watcher.done && r.reason === 'exit') {
    const notes = atMarker === r.instructions ? [] : [`the CPU counted ${atMarker} instructions at the marker, the run ${r.instructions}`];
    return { name, arch, status: 'ok', ...measured, missing: watcher.missing(), consoleTail: watcher.tail(), notes };
  }
  const why = r.reason === 'time-limit'
    ? `no final marker within ${timeoutMs / 1000} s`
    : `the run stopped (${r.reason}${r.detail ? `: ${r.detail.split('\n')[0]}` : ''}) before the final marker`;
  return {
    name, arch, status: r.reason === 'time-limit' ? 'timeout' : 'failed', reason: why, ...measured,
    missing: watcher.missing(), consoleTail: watcher.tail(),
  };
}
