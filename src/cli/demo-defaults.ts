/**
 * The demo workload's options and defaults, apart from demo.ts so that the
 * trace commands' help and option parsing do not load the Mmu.
 */
import type { ModeName } from '../mmu/modes/mode.js';
import type { CostProfile, TlbGeometry } from '../mmu/defaults.js';
import type { OsFormat } from '../workload/os-names.js';

export interface DemoOptions {
  modes: readonly ModeName[];
  format: OsFormat;
  /** guest accesses per mode */
  accesses: number;
  processes: number;
  /** pages in each process's working set */
  workingSet: number;
  /** accesses between context switches */
  quantum: number;
  /** guest memory in bytes */
  memory: number;
  seed: number;
  costProfile?: CostProfile;
  tlb?: TlbGeometry;
}

export const DEMO_DEFAULTS: DemoOptions = {
  modes: ['naive', 'shadow', 'slat'],
  format: '4-level',
  accesses: 2_000_000,
  processes: 4,
  workingSet: 2048,
  quantum: 20_000,
  memory: 128 << 20,
  seed: 1,
};
