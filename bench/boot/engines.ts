/**
 * The engines `npm run bench:boot` compares, in the order it runs them, and
 * the record each run produces. Shared by the parent (bench/boot.ts) and the
 * child process that runs one engine (bench/boot/child.ts).
 */
import { BOOT_ARCHES, type BootArch } from '../../src/cli/arch.js';

/**
 * vmmu in one translation mode with vmmu boot's default CPU engine (wasm:
 * the Machine's choice where guest and host memory fit in 4 GiB, as the
 * benchmark's 256 MiB do), vmmu shadow with the JavaScript jit
 * (`shadow-jit`), the block engine (`shadow-block`) and the reference
 * interpreter (`shadow-interp`), v86 with or without its x86-to-wasm JIT,
 * QEMU's TCG.
 */
export type EngineName = 'naive' | 'shadow' | 'slat' | 'shadow-jit' | 'shadow-block' | 'shadow-interp' | 'v86-jit' | 'v86-nojit' | 'qemu';

export interface Engine {
  name: EngineName;
  /** how the table names it */
  label: string;
  /** how it runs guest code: the table's "CPU engine" column */
  cpu: string;
  /** default time limit, seconds from start to the final marker */
  timeoutSeconds: number;
  /**
   * the guests it boots (by uname -m's names, as `vmmu boot --arch`): the
   * 686 kernel (i686) and Debian's 64-bit kernel (x86_64). v86 emulates a 32-bit CPU; the 64-bit kernel runs its 64-bit
   * code in vmmu's interpreter under every CPU engine (Cpu.runLong), so
   * only the default engine's rows are kept for it.
   */
  arches: readonly BootArch[];
}

const VMMU_TIMEOUT = 15 * 60;
const OTHER_TIMEOUT = 5 * 60;
const BOTH: readonly BootArch[] = BOOT_ARCHES;
const I686: readonly BootArch[] = ['i686'];

export const ENGINES: readonly Engine[] = [
  { name: 'naive', label: 'vmmu naive', cpu: 'wasm', timeoutSeconds: VMMU_TIMEOUT, arches: BOTH },
  { name: 'shadow', label: 'vmmu shadow', cpu: 'wasm', timeoutSeconds: VMMU_TIMEOUT, arches: BOTH },
  { name: 'slat', label: 'vmmu slat', cpu: 'wasm', timeoutSeconds: VMMU_TIMEOUT, arches: BOTH },
  { name: 'shadow-jit', label: 'vmmu shadow', cpu: 'jit', timeoutSeconds: VMMU_TIMEOUT, arches: I686 },
  { name: 'shadow-block', label: 'vmmu shadow', cpu: 'block', timeoutSeconds: VMMU_TIMEOUT, arches: I686 },
  { name: 'shadow-interp', label: 'vmmu shadow', cpu: 'interp', timeoutSeconds: VMMU_TIMEOUT, arches: I686 },
  { name: 'v86-jit', label: 'v86', cpu: 'wasm JIT', timeoutSeconds: OTHER_TIMEOUT, arches: I686 },
  { name: 'v86-nojit', label: 'v86', cpu: 'interpreter', timeoutSeconds: OTHER_TIMEOUT, arches: I686 },
  { name: 'qemu', label: 'QEMU', cpu: 'TCG', timeoutSeconds: OTHER_TIMEOUT, arches: BOTH },
];

/** Names `--only` accepts besides the engines' own: each stands for several engines. */
export const ENGINE_GROUPS: Readonly<Record<string, readonly EngineName[]>> = {
  vmmu: ['naive', 'shadow', 'slat', 'shadow-jit', 'shadow-block', 'shadow-interp'],
  v86: ['v86-jit', 'v86-nojit'],
};

/** The engine every row's time is divided by (the target: vmmu shadow at or below it). */
export const BASELINE: EngineName = 'v86-nojit';

/** The architectures, in the order the benchmark boots them. */
export const ARCHES: readonly BootArch[] = BOOT_ARCHES;

/** Guest memory of every engine, MiB. */
export const MEMORY_MIB = 256;

/**
 * ok: the final marker appeared (then `missing` says whether every expected
 * line came before it). timeout: the time limit passed first. failed: the
 * engine stopped without the marker or could not start. unavailable: the
 * engine is not installed here and could not be (reason says what to do).
 */
export type Status = 'ok' | 'timeout' | 'failed' | 'unavailable';

export interface EngineResult {
  name: EngineName;
  /** the guest's architecture (which kernel booted) */
  arch: BootArch;
  status: Status;
  /** why it is not ok, one line */
  reason?: string;
  /** wall seconds from the start of guest execution to the final marker (see docs/bench.md for where each engine starts the clock) */
  seconds?: number;
  /** wall seconds before guest execution starts (machine creation, loading, wasm compilation); not part of `seconds` */
  setupSeconds?: number;
  /** CPU seconds the engine's process used over `seconds` (user + system) */
  cpuSeconds?: number;
  /** guest instructions executed up to the marker, where the engine counts them */
  instructions?: number;
  /** the same two at the first marker (VMMU-GUEST-BOOTED: the kernel has booted, user space started) */
  booted?: { seconds: number; instructions?: number };
  /** regular expressions of expected batch lines that did not appear before the marker (empty when the guest ran right) */
  missing?: string[];
  /** the end of the guest console, for failures */
  consoleTail?: string;
  /** engine-specific facts worth printing (v86's JIT state, the vmmu stop check, QEMU's command) */
  notes?: string[];
}
