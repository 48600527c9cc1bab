/**
 * One v86 boot (the npm package `v86`, headless in Node): SeaBIOS and its
 * VGA BIOS from the guests cache, the same bzImage, initramfs and command
 * line as vmmu, 256 MiB, serial output watched for the final marker.
 *
 * The JIT: v86 compiles hot x86 code to WebAssembly. Its `disable_jit`
 * option (V86Options in the package's v86.d.ts: "Turn off the x86-to-wasm
 * jit") reaches the CPU's init, which sets JIT config 0 (JIT_DISABLED); the
 * CPU then interprets every instruction. The result records that config
 * value (read back from the wasm exports) and how many wasm modules the JIT
 * compiled, so the report shows the switch took effect.
 *
 * Timing starts at the 'emulator-started' event (the CPU begins at the BIOS
 * reset vector); the wasm compilation, memory and image loading before it
 * are `setupSeconds`. v86 paces its timers by the host's real clock, so idle
 * guest time (HLT) passes in real time; `cpuSeconds` shows how busy it was.
 *
 * The instruction counter (`get_instruction_counter`) is a 32-bit register
 * in the wasm memory that wraps; it is sampled often enough (every serial
 * byte and every 100 ms: v86 yields to the event loop between slices) to
 * count the wraps.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { GuestFiles } from '../../src/guests/paths.js';
import { ConsoleWatcher } from './console.js';
import { MEMORY_MIB, type EngineName, type EngineResult } from './engines.js';

const SETUP_GRACE_MS = 60_000;

/** The parts of v86's CPU the benchmark looks at (not in v86's typings). */
interface V86Cpu {
  wm?: { exports?: { get_jit_config?: (i: number) => number } };
  /** called by the JIT for every wasm module it has generated, to instantiate it */
  codegen_finalize?: (...args: unknown[]) => unknown;
}
interface V86Internals {
  v86?: { cpu?: V86Cpu };
}

/**
 * Counts the wasm modules v86's JIT compiles, by wrapping the CPU's
 * codegen_finalize hook (the wasm calls it through a closure that looks the
 * method up on the CPU object each time). Returns the count so far, or null
 * when the hook is not where this version of v86 was seen to keep it.
 */
function countJitModules(cpu: V86Cpu | undefined): () => number | null {
  const original = cpu?.codegen_finalize;
  if (!cpu || typeof original !== 'function') return () => null;
  let modules = 0;
  cpu.codegen_finalize = (...args: unknown[]): unknown => {
    modules++;
    return original.apply(cpu, args);
  };
  return () => modules;
}

/** A 32-bit counter that wraps, unwrapped by sampling it at least once per wrap. */
class WrappingCounter {
  private last = 0;
  private wraps = 0;

  sample(value: number): number {
    if (value < this.last) this.wraps++;
    this.last = value;
    return this.wraps * 2 ** 32 + value;
  }
}

function arrayBuffer(path: string): ArrayBuffer {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** Boots the 686 kernel under v86; resolves with the result (never rejects for a guest failure). */
export async function bootV86(jit: boolean, files: GuestFiles, timeoutMs: number): Promise<EngineResult> {
  const name: EngineName = jit ? 'v86-jit' : 'v86-nojit';
  let V86: typeof import('v86').V86;
  let wasmPath: string;
  try {
    ({ V86 } = await import('v86'));
    wasmPath = join(dirname(createRequire(import.meta.url).resolve('v86')), 'v86.wasm');
  } catch (e) {
    return { name, arch: 'i686', status: 'unavailable', reason: `the npm package v86 cannot be loaded (${(e as Error).message.split('\n')[0]}); run \`npm install\` (it is a devDependency)` };
  }

  const watcher = new ConsoleWatcher();
  const counter = new WrappingCounter();
  const setupStart = performance.now();
  const emulator = new V86({
    wasm_path: wasmPath,
    memory_size: MEMORY_MIB << 20,
    bios: { buffer: arrayBuffer(files.bios256k) },
    vga_bios: { buffer: arrayBuffer(files.vgabios) },
    bzimage: { buffer: arrayBuffer(files.kernels['686']) },
    initrd: { buffer: arrayBuffer(files.initramfs.batch) },
    cmdline: files.cmdline,
    disable_jit: !jit,
    autostart: true,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
  });

  return new Promise<EngineResult>((resolve) => {
    let started = 0;
    let cpuAtStart = process.cpuUsage();
    let finished = false;
    let jitModules: () => number | null = () => null;
    let booted: EngineResult['booted'];
    const sampler = setInterval(() => counter.sample(emulator.get_instruction_counter()), 100);
    const finish = (partial: Omit<EngineResult, 'name' | 'arch'>): void => {
      if (finished) return;
      finished = true;
      clearInterval(sampler);
      clearTimeout(limit);
      const cpu = process.cpuUsage(cpuAtStart);
      const wasm = (emulator as unknown as V86Internals).v86?.cpu?.wm?.exports;
      const notes = [
        `disable_jit: ${!jit}; JIT config 0 (JIT_DISABLED) = ${wasm?.get_jit_config?.(0) ?? 'unknown'}; `
          + `wasm modules compiled by the JIT: ${jitModules() ?? 'unknown'}`,
      ];
      const result: EngineResult = {
        name, arch: 'i686', ...partial, setupSeconds: started > 0 ? (started - setupStart) / 1000 : undefined,
        cpuSeconds: (cpu.user + cpu.system) / 1e6, booted, missing: watcher.missing(), consoleTail: watcher.tail(), notes,
      };
      void emulator.stop().then(() => emulator.destroy()).catch(() => {}).finally(() => resolve(result));
    };
    const timedOut = (): void => {
      finish({ status: 'timeout', reason: `no final marker within ${timeoutMs / 1000} s`, instructions: counter.sample(emulator.get_instruction_counter()) });
    };
    // Set-up gets a minute of its own; the limit proper counts from the start, like the other engines'.
    let limit = setTimeout(timedOut, timeoutMs + SETUP_GRACE_MS);
    emulator.add_listener('emulator-started', () => {
      if (started > 0) return;
      started = performance.now();
      cpuAtStart = process.cpuUsage();
      jitModules = countJitModules((emulator as unknown as V86Internals).v86?.cpu);
      clearTimeout(limit);
      limit = setTimeout(timedOut, timeoutMs);
    });
    emulator.add_listener('serial0-output-byte', (byte: number) => {
      const instructions = counter.sample(emulator.get_instruction_counter());
      const marker = watcher.pushByte(byte);
      if (marker === 'booted') booted = { seconds: (performance.now() - started) / 1000, instructions };
      if (marker === 'done') finish({ status: 'ok', seconds: (performance.now() - started) / 1000, instructions });
    });
  });
}
