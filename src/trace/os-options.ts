/**
 * The synthetic OS under a text trace: its options and their defaults,
 * apart from replayer.ts so that command-line parsing does not load the
 * Mmu.
 */
import type { OsFormat, OsPageSize } from '../workload/os-names.js';

/** The synthetic guest OS under an imported trace. Every field has a default (OS_DEFAULTS). */
export interface OsReplayOptions {
  format: OsFormat;
  pageSize: OsPageSize;
  /** copies of the trace run as separate processes, round robin */
  processes: number;
  /** trace accesses a process runs before the next one is switched in */
  quantum: number;
  reclaim: boolean;
  /** guest memory in bytes */
  memory: number;
  /** seed of the guest-RAM scatter */
  seed: number;
}

export const OS_DEFAULTS: OsReplayOptions = {
  format: '4-level',
  pageSize: '4k',
  processes: 1,
  quantum: 100_000,
  reclaim: false,
  memory: 4 * 2 ** 30,
  seed: 1,
};

/**
 * The synthetic OS's default guest memory for a paging format: 1 GiB for
 * 32-bit and PAE paging (all their kernel direct-maps), 4 GiB for 4- and
 * 5-level paging. Guest RAM costs host memory only where the trace touches
 * it, and host memory holds at most 2 GiB, so 4 GiB of guest never runs out
 * before the host does; more (up to GUEST_MEMORY_MAX) only spreads the
 * guest-physical map, at the cost of larger per-frame tables at start-up.
 */
export function osMemoryDefault(format: OsFormat): number {
  return format === '32-bit' || format === 'pae' ? 2 ** 30 : OS_DEFAULTS.memory;
}
