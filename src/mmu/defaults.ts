/**
 * Default hardware geometry and cost profile for vmmu.
 *
 * Every number below is explained in docs/costs.md; the bracketed numbers in
 * the comments ([1], [6], ...) refer to the numbered reference list at the end
 * of that document. A value marked "estimate" has no published figure behind
 * it; the reasoning for it is in docs/costs.md.
 *
 * This file has no dependencies on purpose: it is data, not code.
 */

/** One modeled TLB structure: `entries` total, `ways`-way set associative (ways === entries means fully associative), true LRU. */
export interface TlbArrayGeometry { readonly entries: number; readonly ways: number; }

/** Modeled hardware TLB geometry, per page size. A missing array (undefined) means that page size is not cached at that level (it goes to the next level). */
export interface TlbGeometry {
  readonly name: string;
  readonly l1d: { readonly k4: TlbArrayGeometry; readonly m2: TlbArrayGeometry; readonly g1?: TlbArrayGeometry };
  readonly l1i: { readonly k4: TlbArrayGeometry; readonly m2: TlbArrayGeometry; readonly g1?: TlbArrayGeometry };
  /** second-level (shared instruction+data) TLB; `k4m2` holds both 4 KiB and 2 MiB entries */
  readonly l2: { readonly k4m2: TlbArrayGeometry; readonly g1?: TlbArrayGeometry };
  /** paging-structure caches, one per upper level, keyed by linear-address bits (Intel SDM 4.10.3): entries/ways of the PML5E, PML4E, PDPTE and PDE caches */
  readonly pwc: { readonly pml5e: TlbArrayGeometry; readonly pml4e: TlbArrayGeometry; readonly pdpte: TlbArrayGeometry; readonly pde: TlbArrayGeometry };
  /** the nested TLB / EPT paging-structure cache used during two-dimensional walks (caches guest-physical -> host-physical translations of guest page-table pages) */
  readonly nestedTlb: TlbArrayGeometry;
}

export const SKYLAKE_TLB: TlbGeometry = {
  name: 'skylake',
  l1d: {
    k4: { entries: 64, ways: 4 },    // [1] Intel opt. manual 248966-045, Table 2-15 (DTLB 4 KiB); also [2][4]
    m2: { entries: 32, ways: 4 },    // [1] Table 2-15 (DTLB 2/4 MiB)
    g1: { entries: 4, ways: 4 },     // [1] Table 2-15 (DTLB 1 GiB, 4 entries = fully associative); CPUID descriptor 0x63 agrees [2]
  },
  l1i: {
    k4: { entries: 128, ways: 8 },   // [1] Table 2-15 (ITLB 4 KiB, 8-way since Skylake [3]); shared by both hyperthreads
    m2: { entries: 8, ways: 8 },     // [1] Table 2-15 (8 per thread; fully associative per CPUID descriptor 0x76 [2])
    // g1 absent: 1 GiB ITLB row of [1] not verified (copy [2] cut off there); assumed none, so 1 GiB code pages go to l2.g1
  },
  l2: {
    k4m2: { entries: 1536, ways: 12 }, // [1] Table 2-15 (STLB 4 KiB + 2 MiB shared, 12-way, changed from 6-way in Broadwell [3]); [4]
    g1: { entries: 16, ways: 4 },      // [1] Table 2-15 (STLB 1 GiB)
  },
  pwc: {
    pml5e: { entries: 2, ways: 2 },  // estimate: [6] ChampSim default PSCL5 1 set x 2 ways; unused by Skylake (no LA57), kept for 5-level runs
    pml4e: { entries: 4, ways: 4 },  // estimate: [6] ChampSim default PSCL4 1 set x 4 ways; Intel publishes no size [5]
    pdpte: { entries: 8, ways: 4 },  // estimate: [6] ChampSim default PSCL3 2 sets x 4 ways; Intel publishes no size [5]
    pde: { entries: 32, ways: 8 },   // estimate: [6] ChampSim default PSCL2 4 sets x 8 ways; Intel publishes no size [5]
  },
  nestedTlb: { entries: 16, ways: 16 }, // estimate: structure from [8] (AMD nested TLB) and [5] (EPT caches); no published Intel size
};

/** Cycles charged per counted event. All numbers are cycles on the modeled CPU. */
export interface CostProfile {
  readonly name: string;
  readonly l1TlbHit: number;        // extra cycles of an L1 TLB hit (usually 0: hidden in the load latency)
  readonly l2TlbHit: number;        // extra cycles when L1 misses and the second-level TLB hits
  readonly pwcHit: number;          // cycles of a paging-structure-cache hit during a walk
  readonly walkRef: number;         // cycles per memory reference made by a hardware page walk (average over where page-table entries are found in the cache hierarchy)
  readonly swTranslate: number;     // naive mode: cycles of the software translation done on EVERY guest access (lookup in a software TLB in a binary translator / interpreter, like QEMU's softmmu fast path)
  readonly swWalkRef: number;       // naive mode: cycles per guest page-table reference in a software walk (includes the software overhead around the memory load)
  readonly vmExit: number;          // one VM exit plus the VM entry that resumes the guest (hardware transition round trip)
  readonly hiddenFault: number;     // shadow: hypervisor work to resolve a hidden page fault (walk guest table in software, build shadow entries), beyond vmExit
  readonly ptWriteEmulation: number;// shadow: decode+emulate one trapped guest page-table write and update shadow entries, beyond vmExit
  readonly cr3Switch: number;       // shadow: hypervisor work on a guest CR3 load (root lookup), beyond vmExit
  readonly invlpg: number;          // shadow: hypervisor work on a guest INVLPG, beyond vmExit
  readonly resyncEntry: number;     // shadow: re-reading one guest PTE of an out-of-sync page and fixing its shadow entry
  readonly shadowPageAlloc: number; // shadow: allocate and zero one shadow page
  readonly shadowPageZap: number;   // shadow: tear down one shadow page
  readonly guestFaultInject: number;// shadow: reflect a guest page fault into the guest (beyond vmExit)
  readonly eptViolation: number;    // slat: hypervisor work on an EPT violation (allocate/map one guest frame), beyond vmExit
  readonly tlbFlushRefill: number;  // cycles of a full hardware TLB flush instruction itself (not the later misses)
}

export const DEFAULT_COST_PROFILE: CostProfile = {
  name: 'skylake-kvm',
  l1TlbHit: 0,            // [1] L1 DTLB is looked up in parallel with the 4-cycle L1D access (VIPT), so no extra cycles
  l2TlbHit: 9,            // third-party measured ~9-cycle STLB-hit penalty [25]; ChampSim models 8 [6]; Haswell measured 12 [26]
  pwcHit: 1,              // estimate: small single-cycle structure; no published latency [5][7]
  walkRef: 30,            // estimate: weighted mix of L1 4 / L2 12 / L3 44 [1] and DRAM ~250 [25] (see docs/costs.md)
  swTranslate: 8,         // estimate from [16]: QEMU softmmu TLB hit ~10 x86 instructions, two dependent L1 loads [18]; [17]
  swWalkRef: 60,          // estimate from [16]: softmmu miss + 4-level guest walk ~450 x86 instructions, per reference
  vmExit: 700,            // estimate: below SNB 720-1,100 per emulated exit incl. KVM [13]; ~2,000 Nehalem+KVM [12]; trend [11][15]
  hiddenFault: 2500,      // estimate: KVM shadow fault path [19] (software guest walk + gfn->pfn + spte/rmap install)
  ptWriteEmulation: 800,  // estimate: KVM emulator after [13] (~300-600) plus shadow PTE update [19][21]
  cr3Switch: 400,         // estimate: KVM root lookup (cached previous roots or hash lookup) [19] plus TLB-flush request
  invlpg: 300,            // estimate: KVM shadow INVLPG (walk shadow to leaf, sync one spte, flush one address) [19][20]
  resyncEntry: 100,       // estimate: one guest PTE read plus one spte rewrite, per entry, in unsync-page sync [20]
  shadowPageAlloc: 700,   // estimate: page allocation + zeroing 4 KiB + shadow-page metadata/hash insert [19]
  shadowPageZap: 1500,    // estimate: unlink + drop reverse maps of present sptes + free [19]
  guestFaultInject: 250,  // estimate: queue #PF, write CR2 and VM-entry event-injection fields [19][22]
  eptViolation: 2000,     // estimate: host page alloc/zero + gfn->pfn + EPT entry install (KVM TDP path); context [9]
  tlbFlushRefill: 200,    // estimate: CR3 writes cost "a few hundred cycles" per syscall pair under KPTI [23]
};
