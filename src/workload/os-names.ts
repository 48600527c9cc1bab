/**
 * The synthetic OS's option names and the header-notes key of its traces,
 * apart from synthetic-os.ts so that command-line parsing does not load
 * the Mmu.
 */

export type OsFormat = '32-bit' | 'pae' | '4-level' | '5-level';
export const OS_FORMATS: readonly OsFormat[] = ['32-bit', 'pae', '4-level', '5-level'];
export type OsPageSize = '4k' | '2m' | '1g';

/**
 * The header-notes key (value `true`) of a trace recorded from this OS: its
 * accesses below CPL 3 are the kernel's page-table stores, which a replay
 * plays with the cost model paused and counts apart (docs/trace-format.md).
 */
export const KERNEL_APART = 'kernelApart';
