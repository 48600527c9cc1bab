/**
 * Every event vmmu counts, listed once. A counter is an index into one
 * Float64Array (exact to 2^53) bumped with a single increment.
 *
 * Two kinds of events:
 * - functional: they happen because of what the guest did, whatever the TLB
 *   geometry (VM exits, shadow pages built, EPT violations, guest faults);
 *   always counted.
 * - modeled: what the modeled hardware (TLBs, walk caches, walkers) would do
 *   for each access; counted only while `measure` is on, because every
 *   access then also goes through the model.
 */
export const COUNTERS = [
  // ---- accesses (modeled) ----
  ['access.read', 'guest data reads'],
  ['access.write', 'guest data writes'],
  ['access.fetch', 'guest instruction fetches'],
  // ---- modeled hardware TLB ----
  // In naive mode the hardware TLB translates the emulator's own accesses to
  // guest RAM (host virtual -> host physical); in shadow and slat mode it
  // translates the guest's accesses (guest virtual -> host physical).
  ['tlb.l1d.hit', 'L1 data TLB hits'],
  ['tlb.l1d.miss', 'L1 data TLB misses'],
  ['tlb.l1i.hit', 'L1 instruction TLB hits'],
  ['tlb.l1i.miss', 'L1 instruction TLB misses'],
  ['tlb.l2.hit', 'second-level TLB hits'],
  ['tlb.l2.miss', 'second-level TLB misses (each starts a hardware walk)'],
  ['tlb.flush.all', 'modeled TLB flushes of every entry'],
  ['tlb.flush.nonglobal', 'modeled TLB flushes of non-global entries (CR3 loads)'],
  ['tlb.flush.page', 'modeled single-page invalidations'],
  // ---- hardware walks ----
  ['walk.count', 'hardware page walks'],
  ['walk.refs', 'memory references made by hardware walks (all dimensions)'],
  ['walk.refs.guest', 'references to guest page tables during two-dimensional walks'],
  ['walk.refs.nested', 'references to EPT tables during two-dimensional walks'],
  ['walk.refs.shadow', 'references to shadow tables'],
  ['walk.refs.host', 'references to the host page table (naive mode)'],
  ['pwc.hit', 'paging-structure-cache hits'],
  ['pwc.miss', 'paging-structure-cache misses'],
  ['ntlb.hit', 'nested TLB hits (guest-physical to host-physical)'],
  ['ntlb.miss', 'nested TLB misses'],
  // ---- naive mode software translation ----
  ['sw.translate', 'software translations (one per guest access in naive mode)'],
  ['sw.vtlb.hit', 'naive virtual-TLB hits'],
  ['sw.vtlb.miss', 'naive virtual-TLB misses (each starts a software walk)'],
  ['sw.vtlb.l1d.hit', 'naive virtual TLB: L1 data hits (the guest-side figure to set beside shadow and slat tlb.l1d.hit)'],
  ['sw.vtlb.l1d.miss', 'naive virtual TLB: L1 data misses'],
  ['sw.vtlb.l1i.hit', 'naive virtual TLB: L1 instruction hits'],
  ['sw.vtlb.l1i.miss', 'naive virtual TLB: L1 instruction misses'],
  ['sw.vtlb.l2.hit', 'naive virtual TLB: second-level hits'],
  ['sw.vtlb.l2.miss', 'naive virtual TLB: second-level misses (= sw.vtlb.miss)'],
  ['sw.walk.refs', 'guest page-table references made by software walks'],
  // ---- functional ----
  ['fill', 'software-TLB fills (emulator internal)'],
  ['guest.pf', 'page faults delivered to the guest'],
  ['guest.ad', 'accessed/dirty bits written into guest page tables'],
  ['exit.total', 'VM exits, all reasons'],
  ['exit.hidden_pf', 'VM exits: hidden page faults (shadow entry missing or too weak)'],
  ['exit.guest_pf', 'VM exits: guest page faults intercepted and reflected'],
  ['exit.pt_write', 'VM exits: writes to write-protected guest page tables'],
  ['exit.cr3', 'VM exits: CR3 loads'],
  ['exit.cr', 'VM exits: CR0/CR4/EFER writes that change paging'],
  ['exit.invlpg', 'VM exits: INVLPG'],
  ['exit.invpcid', 'VM exits: INVPCID'],
  ['exit.ept_violation', 'VM exits: EPT violations'],
  ['exit.mmio', 'VM exits: accesses to device memory, emulated'],
  ['shadow.page.create', 'shadow pages created'],
  ['shadow.page.zap', 'shadow pages zapped'],
  ['shadow.page.reclaim', 'shadow pages zapped to stay within the budget'],
  ['shadow.unsync', 'shadow pages let go out of sync'],
  ['shadow.resync', 'out-of-sync shadow pages resynchronized'],
  ['shadow.resync.entries', 'guest entries re-read while resynchronizing'],
  ['shadow.unsync.stale', 'out-of-sync leaves found changed by the guest when used (dropped and rebuilt; real hardware would have used them stale until INVLPG)'],
  ['shadow.spte.update', 'shadow entries updated in place from a trapped guest write'],
  ['shadow.spte.zap', 'shadow entries cleared from a trapped guest write'],
  ['shadow.emulated_write', 'guest writes emulated by the hypervisor'],
  ['shadow.wrprotect', 'guest frames write-protected because they became page tables'],
  ['shadow.unprotect', 'guest frames unprotected'],
  ['shadow.flood', 'pages unshadowed by write-flood detection'],
  ['shadow.misaligned', 'pages unshadowed because of a misaligned write'],
  ['shadow.root.hit', 'CR3 loads that found their root in the root cache'],
  ['shadow.root.miss', 'CR3 loads that had to find or build a root'],
  ['ept.map', 'guest frames mapped into the EPT'],
  ['ept.table', 'EPT table pages allocated'],
] as const;

export type CounterName = (typeof COUNTERS)[number][0];
export const COUNTER_COUNT = COUNTERS.length;

function idOf(name: CounterName): number {
  return COUNTERS.findIndex((c) => c[0] === name);
}

export const C_ACCESS_READ = idOf('access.read');
export const C_ACCESS_WRITE = idOf('access.write');
export const C_ACCESS_FETCH = idOf('access.fetch');
export const C_L1D_HIT = idOf('tlb.l1d.hit');
export const C_L1D_MISS = idOf('tlb.l1d.miss');
export const C_L1I_HIT = idOf('tlb.l1i.hit');
export const C_L1I_MISS = idOf('tlb.l1i.miss');
export const C_L2_HIT = idOf('tlb.l2.hit');
export const C_L2_MISS = idOf('tlb.l2.miss');
export const C_TLB_FLUSH_ALL = idOf('tlb.flush.all');
export const C_TLB_FLUSH_NONGLOBAL = idOf('tlb.flush.nonglobal');
export const C_TLB_FLUSH_PAGE = idOf('tlb.flush.page');
export const C_WALK = idOf('walk.count');
export const C_WALK_REFS = idOf('walk.refs');
export const C_WALK_REFS_GUEST = idOf('walk.refs.guest');
export const C_WALK_REFS_NESTED = idOf('walk.refs.nested');
export const C_WALK_REFS_SHADOW = idOf('walk.refs.shadow');
export const C_WALK_REFS_HOST = idOf('walk.refs.host');
export const C_PWC_HIT = idOf('pwc.hit');
export const C_PWC_MISS = idOf('pwc.miss');
export const C_NTLB_HIT = idOf('ntlb.hit');
export const C_NTLB_MISS = idOf('ntlb.miss');
export const C_SW_TRANSLATE = idOf('sw.translate');
export const C_VTLB_HIT = idOf('sw.vtlb.hit');
export const C_VTLB_MISS = idOf('sw.vtlb.miss');
/** the six ids a virtual TLB counts into, in HardwareTlb's order (see tlb/hardware.ts) */
export const VTLB_IDS: readonly number[] = [
  idOf('sw.vtlb.l1d.hit'), idOf('sw.vtlb.l1d.miss'), idOf('sw.vtlb.l1i.hit'), idOf('sw.vtlb.l1i.miss'), idOf('sw.vtlb.l2.hit'), idOf('sw.vtlb.l2.miss'),
];
export const C_SW_WALK_REFS = idOf('sw.walk.refs');
export const C_FILL = idOf('fill');
export const C_GUEST_PF = idOf('guest.pf');
export const C_GUEST_AD = idOf('guest.ad');
export const C_EXIT = idOf('exit.total');
export const C_EXIT_HIDDEN_PF = idOf('exit.hidden_pf');
export const C_EXIT_GUEST_PF = idOf('exit.guest_pf');
export const C_EXIT_PT_WRITE = idOf('exit.pt_write');
export const C_EXIT_CR3 = idOf('exit.cr3');
export const C_EXIT_CR = idOf('exit.cr');
export const C_EXIT_INVLPG = idOf('exit.invlpg');
export const C_EXIT_INVPCID = idOf('exit.invpcid');
export const C_EXIT_EPT_VIOLATION = idOf('exit.ept_violation');
export const C_EXIT_MMIO = idOf('exit.mmio');
export const C_SP_CREATE = idOf('shadow.page.create');
export const C_SP_ZAP = idOf('shadow.page.zap');
export const C_SP_RECLAIM = idOf('shadow.page.reclaim');
export const C_SP_UNSYNC = idOf('shadow.unsync');
export const C_SP_RESYNC = idOf('shadow.resync');
export const C_SP_RESYNC_ENTRIES = idOf('shadow.resync.entries');
export const C_SP_STALE = idOf('shadow.unsync.stale');
export const C_SPTE_UPDATE = idOf('shadow.spte.update');
export const C_SPTE_ZAP = idOf('shadow.spte.zap');
export const C_EMULATED_WRITE = idOf('shadow.emulated_write');
export const C_WRPROTECT = idOf('shadow.wrprotect');
export const C_UNPROTECT = idOf('shadow.unprotect');
export const C_FLOOD = idOf('shadow.flood');
export const C_MISALIGNED = idOf('shadow.misaligned');
export const C_ROOT_HIT = idOf('shadow.root.hit');
export const C_ROOT_MISS = idOf('shadow.root.miss');
export const C_EPT_MAP = idOf('ept.map');
export const C_EPT_TABLE = idOf('ept.table');

/** A fresh, zeroed counter array. */
export function newCounters(): Float64Array {
  return new Float64Array(COUNTER_COUNT);
}

/** The counters as a plain object, name -> count (zeros included). */
export function countersToObject(c: Float64Array): Record<CounterName, number> {
  const out = {} as Record<CounterName, number>;
  for (let i = 0; i < COUNTER_COUNT; i++) out[COUNTERS[i]![0]] = c[i]!;
  return out;
}
