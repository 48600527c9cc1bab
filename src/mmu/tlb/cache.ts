/**
 * A set-associative cache of translations with true LRU replacement: the
 * building block of every modeled hardware structure (L1 and L2 TLB arrays,
 * paging-structure caches, the nested TLB).
 *
 * It stores tags only, never translations: the software TLB provides the
 * translation; this model decides what the hardware would have hit or missed.
 * A tag is an exact integer below 2^53 (a page number, possibly combined with
 * a size code); each entry also carries an address-space tag (PCID/VPID) and a
 * global flag that makes it match in every address space.
 */
export class ModelCache {
  readonly entries: number;
  readonly ways: number;
  readonly sets: number;
  private readonly key: Float64Array;
  private readonly asid: Int32Array;
  private readonly global: Uint8Array;
  /** last-use stamps; the smallest in a set is the LRU way */
  private readonly stamp: Float64Array;
  private clock = 0;

  /**
   * @param entries total entries (0 makes a cache that never hits)
   * @param ways associativity; entries must be a multiple of it
   * Throws RangeError with the bad geometry.
   */
  constructor(entries: number, ways: number, readonly label = 'cache') {
    if (!Number.isInteger(entries) || entries < 0 || !Number.isInteger(ways) || ways <= 0 || (entries > 0 && entries % ways !== 0)) {
      throw new RangeError(`${label}: ${entries} entries cannot be split into ${ways}-way sets`);
    }
    this.entries = entries;
    this.ways = entries === 0 ? 1 : ways;
    this.sets = entries === 0 ? 0 : entries / ways;
    this.key = new Float64Array(entries).fill(-1);
    this.asid = new Int32Array(entries);
    this.global = new Uint8Array(entries);
    this.stamp = new Float64Array(entries);
  }

  /**
   * Looks `key` up for address space `asid`. Returns true on a hit (and makes
   * the way most recently used), false on a miss. Changes nothing on a miss.
   */
  lookup(key: number, asid: number): boolean {
    if (this.sets === 0) return false;
    const base = (key % this.sets) * this.ways;
    const end = base + this.ways;
    for (let i = base; i < end; i++) {
      if (this.key[i] === key && (this.asid[i] === asid || this.global[i] === 1)) {
        this.stamp[i] = ++this.clock;
        return true;
      }
    }
    return false;
  }

  /** Inserts `key` (after a miss), evicting the set's least recently used way. */
  insert(key: number, asid: number, global: boolean): void {
    if (this.sets === 0) return;
    const base = (key % this.sets) * this.ways;
    let victim = base;
    let oldest = Infinity;
    for (let i = base; i < base + this.ways; i++) {
      if (this.key[i] === -1) { victim = i; break; }
      if (this.stamp[i]! < oldest) { oldest = this.stamp[i]!; victim = i; }
    }
    this.key[victim] = key;
    this.asid[victim] = asid;
    this.global[victim] = global ? 1 : 0;
    this.stamp[victim] = ++this.clock;
  }

  /** Drops every entry. */
  flushAll(): void {
    this.key.fill(-1);
  }

  /**
   * Drops entries of address space `asid` (or of every space when asid < 0);
   * global entries survive when keepGlobal is true.
   */
  flushAsid(asid: number, keepGlobal: boolean): void {
    for (let i = 0; i < this.entries; i++) {
      if (this.key[i] === -1) continue;
      if (keepGlobal && this.global[i]) continue;
      if (asid < 0 || this.asid[i] === asid) this.key[i] = -1;
    }
  }

  /** Drops entries whose key is in [keyLo, keyHi) for `asid` (asid < 0: any), global ones included unless keepGlobal. */
  flushRange(keyLo: number, keyHi: number, asid: number, keepGlobal: boolean): void {
    if (this.sets === 0) return;
    if (keyHi - keyLo <= this.sets) {
      for (let k = keyLo; k < keyHi; k++) {
        const base = (k % this.sets) * this.ways;
        for (let i = base; i < base + this.ways; i++) {
          if (this.key[i] === k && (asid < 0 || this.asid[i] === asid || this.global[i]) && !(keepGlobal && this.global[i])) this.key[i] = -1;
        }
      }
      return;
    }
    for (let i = 0; i < this.entries; i++) {
      const k = this.key[i]!;
      if (k >= keyLo && k < keyHi && (asid < 0 || this.asid[i] === asid || this.global[i]) && !(keepGlobal && this.global[i])) this.key[i] = -1;
    }
  }

  /** Number of valid entries (for reports and tests). */
  occupancy(): number {
    let n = 0;
    for (let i = 0; i < this.entries; i++) if (this.key[i] !== -1) n++;
    return n;
  }
}
