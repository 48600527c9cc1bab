/**
 * Turns counters into modeled cycles with a cost profile. The profile's
 * fields and their sources are in defaults.ts and docs/costs.md.
 */
import {
  C_ACCESS_FETCH, C_ACCESS_READ, C_ACCESS_WRITE, C_EXIT, C_EXIT_CR, C_EXIT_CR3, C_EXIT_EPT_VIOLATION, C_EXIT_GUEST_PF,
  C_EXIT_HIDDEN_PF, C_EXIT_INVLPG, C_EXIT_MMIO, C_EXIT_INVPCID, C_EXIT_PT_WRITE, C_L2_HIT, C_L1D_HIT, C_L1I_HIT, C_NTLB_HIT, C_PWC_HIT,
  C_SP_CREATE, C_SP_RESYNC_ENTRIES, C_SP_ZAP, C_SW_TRANSLATE, C_SW_WALK_REFS, C_TLB_FLUSH_ALL, C_TLB_FLUSH_NONGLOBAL,
  C_WALK_REFS,
} from './counters.js';
import type { CostProfile } from './defaults.js';

/** Modeled cycles by where they go. */
export interface CycleBreakdown {
  /** TLB hits (L1 and L2) */
  tlb: number;
  /** hardware page walks: memory references and walk-cache hits */
  walks: number;
  /** naive mode's software translation and software walks */
  software: number;
  /** VM exits: transitions plus the hypervisor's work per reason */
  exits: number;
  /** shadow-table bookkeeping outside exits' fixed costs: pages built, zapped, resynchronized */
  shadow: number;
  /** TLB flush instructions */
  flushes: number;
  total: number;
  /** accesses played through the model (0 when not measuring) */
  accesses: number;
  /** total / accesses (0 when nothing was measured) */
  perAccess: number;
}

/** Computes the modeled cycles of a counter set. */
export function cyclesOf(_mode: string, c: Float64Array, p: CostProfile): CycleBreakdown {
  const tlb = (c[C_L1D_HIT]! + c[C_L1I_HIT]!) * p.l1TlbHit + c[C_L2_HIT]! * p.l2TlbHit;
  const walks = c[C_WALK_REFS]! * p.walkRef + (c[C_PWC_HIT]! + c[C_NTLB_HIT]!) * p.pwcHit;
  const software = c[C_SW_TRANSLATE]! * p.swTranslate + c[C_SW_WALK_REFS]! * p.swWalkRef;
  const exits = c[C_EXIT]! * p.vmExit
    + c[C_EXIT_HIDDEN_PF]! * p.hiddenFault
    + (c[C_EXIT_PT_WRITE]! + c[C_EXIT_MMIO]!) * p.ptWriteEmulation
    + (c[C_EXIT_CR3]! + c[C_EXIT_CR]!) * p.cr3Switch
    + (c[C_EXIT_INVLPG]! + c[C_EXIT_INVPCID]!) * p.invlpg
    + c[C_EXIT_GUEST_PF]! * p.guestFaultInject
    + c[C_EXIT_EPT_VIOLATION]! * p.eptViolation;
  const shadow = c[C_SP_CREATE]! * p.shadowPageAlloc + c[C_SP_ZAP]! * p.shadowPageZap + c[C_SP_RESYNC_ENTRIES]! * p.resyncEntry;
  const flushes = (c[C_TLB_FLUSH_ALL]! + c[C_TLB_FLUSH_NONGLOBAL]!) * p.tlbFlushRefill;
  const total = tlb + walks + software + exits + shadow + flushes;
  const accesses = c[C_ACCESS_READ]! + c[C_ACCESS_WRITE]! + c[C_ACCESS_FETCH]!;
  return { tlb, walks, software, exits, shadow, flushes, total, accesses, perAccess: accesses > 0 ? total / accesses : 0 };
}
