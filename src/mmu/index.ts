/**
 * vmmu/mmu: the importable MMU library.
 *
 * An Mmu translates guest virtual addresses to host physical addresses in one
 * of three modes (naive, shadow, slat), gives the guest the same view in all
 * three, and counts what each costs. See docs/mmu.md for a walkthrough.
 */
export { Mmu, Fault, VEC_GP, VEC_PF, T_FAULT, T_MMIO, ACC_SIZE_SHIFT, ACC_SIZE_MASK, defaultShadowPages } from './mmu.js';
export type { MmuOptions, MmuReport, PagingRegisters, MmuObserver } from './mmu.js';
export { WATCH_CODE, WATCH_RECORD, WATCH_ROM, WATCH_SHADOW } from './watch.js';
export type { ModeName } from './modes/mode.js';
export { MODE_NAMES } from './modes/mode.js';
export type { ShadowOptions } from './modes/shadow.js';
export type { SlatOptions } from './modes/slat.js';
export { HVA_BASE_HI } from './modes/naive.js';
export { GUEST_MEMORY_MAX, OPEN_BUS } from './host/memory-map.js';
export type { MmioHandler, PhysicalHole } from './host/memory-map.js';
export { HostMemory, PAGE_SIZE, HOST_MEMORY_MAX } from './host/memory.js';
export { Arena } from './host/arena.js';
export type { ArenaProvider } from './host/arena.js';
export * from './paging/bits.js';
export { FORMAT_NAMES, FMT_NONE, FMT_32, FMT_PAE, FMT_L4, FMT_L5, guestFormatOf } from './paging/format.js';
export type { FormatId } from './paging/format.js';
export { COUNTERS, countersToObject } from './counters.js';
export type { CounterName } from './counters.js';
export { DEFAULT_COST_PROFILE, SKYLAKE_TLB } from './defaults.js';
export type { CostProfile, TlbGeometry, TlbArrayGeometry } from './defaults.js';
export { cyclesOf } from './cost.js';
export type { CycleBreakdown } from './cost.js';
