/**
 * Numbers and sizes given on the command line, checked here with the
 * option's name and its allowed range in every message, before anything
 * is allocated: a size the engine cannot hold is a usage mistake, not an
 * allocation failure deep inside it.
 */

import { GUEST_MEMORY_MAX } from '../mmu/host/memory-map.js';

/** A command-line value out of shape or out of range: printed as a usage mistake (exit 2). */
export class OptionError extends Error {}

/**
 * Host memory for guest RAM plus the MMU's tables is one ArrayBuffer of at
 * most 2 GiB (src/mmu/host/memory.ts); 2000 MiB of guest memory leaves room
 * for the tables, the PC hole and the shadow budget.
 */
export const MAX_GUEST_MEMORY = 2000 << 20;

/**
 * Text traces: every synthetic-OS process plays the one parse of the file
 * (src/trace/stream.ts), each from its own place in it, with an address
 * space and page tables of its own; the count is bounded so that the
 * guest's tables and the chunks kept for the slowest process stay small.
 */
export const MAX_TRACE_PROCESSES = 256;

/** The demonstration workload's processes live in guest memory; past this many, a guest runs out anyway. */
export const MAX_DEMO_PROCESSES = 4096;

/** The demonstration's working set, pages per process (4 GiB): more cannot be mapped in a 32-bit space anyway. */
export const MAX_WORKING_SET = 1 << 20;

/** Entries in one modeled TLB or walk-cache array (--tlb, --sweep): real ones hold at most a few thousand. */
export const MAX_TLB_ENTRIES = 65536;

/** Worker threads for replays (--jobs): each holds a whole guest memory. */
export const MAX_JOBS = 64;

export interface IntRange {
  min: number;
  max: number;
  /** why the maximum is what it is, for the message */
  why?: string;
}

/**
 * A whole number in decimal digits (no sign, exponent, fraction or hex)
 * within [min, max]; `dflt` when the option is absent.
 */
export function intOption(name: string, v: unknown, dflt: number, r: IntRange): number {
  if (v === undefined) return dflt;
  const s = String(v);
  const range = r.max === Number.MAX_SAFE_INTEGER ? `${r.min} or more` : `${r.min} to ${r.max}`;
  if (!/^\d+$/.test(s)) throw new OptionError(`--${name} must be a whole number, ${range}, not '${s}'`);
  const n = Number(s);
  if (n < r.min) throw new OptionError(`--${name} must be ${range}, not ${s}`);
  if (n > r.max || !Number.isSafeInteger(n)) throw new OptionError(`--${name} ${s} is more than the limit of ${r.max}${r.why ? ` (${r.why})` : ''}`);
  return n;
}

/** Any count of things done in time (accesses, instructions): no memory depends on it. */
export const ANY_COUNT: IntRange = { min: 1, max: Number.MAX_SAFE_INTEGER };

/** A seed: the engine uses its low 32 bits, so only those are accepted. */
export const SEED_RANGE: IntRange = { min: 0, max: 0xffffffff, why: 'seeds are 32-bit' };

const UNIT: Record<string, number> = { '': 1 << 20, B: 1, K: 1 << 10, M: 1 << 20, G: 1 << 30 };

/** A size for messages: whole GiB or MiB when it is one, else bytes. */
export function mib(bytes: number): string {
  return bytes % (1 << 30) === 0 ? `${bytes / (1 << 30)} GiB` : bytes % (1 << 20) === 0 ? `${bytes / (1 << 20)} MiB` : `${bytes} bytes`;
}

/** The `--memory` limits of an x86 machine: guest RAM and the MMU's tables share one host buffer of at most 2 GiB. */
export const MACHINE_MEMORY_LIMIT = { max: MAX_GUEST_MEMORY, why: "guest memory and the MMU's tables share one host buffer of at most 2 GiB" };

/** The `--memory` limits of the synthetic OS under a trace: guest RAM costs host memory only where the trace touches it. */
export const TRACE_MEMORY_LIMIT = { max: GUEST_MEMORY_MAX, why: 'the largest guest-physical map vmmu builds (36-bit physical addresses)' };

/**
 * A memory size: a number with K, M or G (KiB, MiB, GiB; "M", "MB" and
 * "MiB" all mean MiB), B for bytes, or a bare number of MiB. Whole 4 KiB
 * pages only, from `min` to `limit.max`.
 */
export function memoryOption(name: string, v: unknown, dflt: number, min: number, limit: { max: number; why: string } = MACHINE_MEMORY_LIMIT): number {
  if (v === undefined) return dflt;
  const s = String(v);
  const m = /^(\d+)(?:([KMG])(?:i?B)?|(B))?$/i.exec(s.trim());
  if (!m) throw new OptionError(`--${name} must be a size such as 256M or 1G (a bare number is MiB), not '${s}'`);
  const bytes = Number(m[1]) * UNIT[(m[2] ?? m[3] ?? '').toUpperCase()]!;
  if (!Number.isSafeInteger(bytes) || bytes > limit.max) {
    throw new OptionError(`--${name} ${s} is more than the maximum of ${mib(limit.max)} (${limit.why})`);
  }
  if (bytes < min) throw new OptionError(`--${name} ${s} is below the minimum of ${mib(min)}`);
  if (bytes % 4096 !== 0) throw new OptionError(`--${name} ${s} is not a whole number of 4 KiB pages`);
  return bytes;
}
