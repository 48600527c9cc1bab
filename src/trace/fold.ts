/**
 * Address folding for replays of 64-bit traces on a 32-bit or PAE guest,
 * whose user space is the 3 GiB below the synthetic kernel at 0xc0000000.
 *
 * The trace's address space is cut into 256 MiB granules. A granule that
 * already lies below 0xc0000000 keeps its addresses; any other granule is
 * given, in order of first touch, the highest 256 MiB slot below 0xc0000000
 * not yet used. Offsets inside a granule are kept, so page, large-page and
 * cache-line locality survive; only the distance between granules changes.
 * When a granule lands on a slot that another granule already uses, both
 * alias (counted in `collisions`). Deterministic and streaming.
 */
const GRANULE_SHIFT = 28;
const SLOTS = 12; // 0xc0000000 >> 28

export class AddressFolder {
  /** granule key (hi * 16 + lo >>> 28) -> slot */
  private readonly slotOf = new Map<number, number>();
  private readonly used = new Uint8Array(SLOTS);
  private nextHigh = SLOTS - 1;
  /** granules that had to share a slot */
  collisions = 0;
  /** granules moved */
  moved = 0;

  /** The folded low 32 bits of gvaHi:gvaLo (the folded high half is 0). */
  fold(lo: number, hi: number): number {
    const g = lo >>> GRANULE_SHIFT;
    if (hi === 0 && g < SLOTS) {
      if (!this.used[g]) {
        this.used[g] = 1;
        if (this.slotOf.has(-1 - g)) this.collisions++;
      }
      return lo;
    }
    const key = (hi >>> 0) * 16 + g;
    let slot = this.slotOf.get(key);
    if (slot === undefined) {
      while (this.nextHigh > 0 && this.used[this.nextHigh]) this.nextHigh--;
      slot = this.nextHigh;
      if (this.used[slot]) this.collisions++;
      this.used[slot] = 1;
      this.slotOf.set(key, slot);
      this.slotOf.set(-1 - slot, key);
      this.moved++;
    }
    return ((slot << GRANULE_SHIFT) | (lo & 0x0fffffff)) >>> 0;
  }
}
