/**
 * The guest's paging state: every register that affects translation, in one
 * object. The Mmu owns it and is the only writer; after every change it
 * tells its mode once, through Mode.onPagingChange (or onCr3 for CR3), which
 * part changed. Modes read it; nothing else holds a copy.
 */
import { FMT_NONE, guestWalkContext, type FormatId, type WalkContext } from './format.js';

export class PagingState {
  cr0 = 0;
  cr3Lo = 0;
  /** CR3 bits 63:32 (bit 63, the PCID no-flush bit, is never stored) */
  cr3Hi = 0;
  cr4 = 0;
  /** IA32_EFER, low 32 bits */
  efer = 0;
  pkru = 0;
  /** PAE PDPTE registers (4 entries as lo/hi pairs), loaded at CR3 writes (SDM 4.4.1) */
  readonly pdpte = new Int32Array(8);
  /** the paging format CR0/CR4/EFER select */
  format: FormatId = FMT_NONE;
  /** the walk context of the format and the permission controls */
  gctx: WalkContext;
  /** guest-physical address of the top table (CR3 base; the PDPT in PAE paging) */
  rootGpa = 0;
  /** current PCID (0 unless CR4.PCIDE in 4-/5-level paging) */
  pcid = 0;

  constructor(readonly maxPhysAddr: number, readonly gbPages: boolean) {
    this.gctx = guestWalkContext(FMT_NONE, this, maxPhysAddr, gbPages);
  }

  /** Rebuilds the walk context from the registers (after a change of format or a control bit). */
  rebuildContext(): void {
    this.gctx = guestWalkContext(this.format, this, this.maxPhysAddr, this.gbPages);
  }
}
