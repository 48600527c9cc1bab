/**
 * Watch bits on guest frames. A write to a watched frame never takes the
 * software TLB's fast path: it goes through the physical write path, which
 * notifies every watcher whose bit is set.
 */
/** shadow mode: the frame is a write-protected guest page table */
export const WATCH_SHADOW = 1;
/** the CPU caches decoded instructions from the frame */
export const WATCH_CODE = 2;
/** a trace recorder wants writes to the frame (page tables, with their values) */
export const WATCH_RECORD = 4;
/**
 * the frame is read-only memory (MmuOptions.rom): backed like RAM for reads
 * and fetches, but every write, the CPU's or a device's, goes to the MMIO
 * handler and leaves the frame unchanged. Set for good when the Mmu is made.
 */
export const WATCH_ROM = 8;
