/**
 * A set-associative cache of translations with true LRU replacement: the
 * building block of every modeled hardware structure (L1 and L2 TLB arrays,
 * paging-structure caches, the nested TLB).
 *
 * It stores tags only, never translations: the software TLB provides the
 * translation; this model decides what the hardware would have hit or missed.
 * A tag is a page number split into two int32 halves (`klo`, `khi`), so a
 * lookup is integer compares only; the set index comes from the low bits of
 * `klo`. Each entry also carries an address-space tag (PCID/VPID) and a
 * global flag that makes it match in every address space.
 */
const VALID = 1;
const GLOBAL = 2;

export class ModelCache {
  readonly entries: number;
  readonly ways: number;
  readonly sets: number;
  private readonly setMask: number;
  private readonly klo: Int32Array;
  private readonly khi: Int32Array;
  private readonly asid: Int32Array;
  private readonly flags: Uint8Array;
  /** last-use stamps; the smallest in a set is the LRU way */
  private readonly stamp: Float64Array;
  private clock = 0;
  /** whether the entry the last successful lookup found is global */
  lastGlobal = false;
  /**
   * The tag, space and way of the last hit, valid until the next insert or
   * flush: a lookup of the same tag then hits that way again without a
   * scan. Exact, because that way is already its set's most recently used:
   * touching it again changes no replacement decision (only stamps within
   * one set are ever compared).
   */
  private mruKlo = 0;
  private mruKhi = 0;
  private mruAsid = 0;
  private mruValid = false;
  /**
   * Per set, the way whose stamp was set last (the set's most recently used
   * way, valid or not; -1 before any), and whether no two valid entries of
   * a set share a tag. While they do not, at most one way can match a
   * lookup, so a lookup that matches its set's most recently used way hits
   * that way, as the scan would, and needs no new stamp: touching the most
   * recent way again changes no order in its set. (Inserting a tag that is
   * already present, as the paging-structure caches may, ends that until
   * the next flushAll.)
   */
  private readonly setMru: Int32Array;
  private unique = true;

  /**
   * @param entries total entries (0 makes a cache that never hits)
   * @param ways associativity; entries / ways must be a power of two
   * Throws RangeError naming the bad geometry.
   */
  constructor(entries: number, ways: number, readonly label = 'cache') {
    if (!Number.isInteger(entries) || entries < 0 || !Number.isInteger(ways) || ways <= 0 || (entries > 0 && entries % ways !== 0)) {
      throw new RangeError(`${label}: ${entries} entries cannot be split into ${ways}-way sets`);
    }
    const sets = entries === 0 ? 0 : entries / ways;
    if (sets & (sets - 1)) throw new RangeError(`${label}: ${entries} entries / ${ways} ways gives ${sets} sets, not a power of two`);
    this.entries = entries;
    this.ways = entries === 0 ? 1 : ways;
    this.sets = sets;
    this.setMask = sets - 1;
    this.klo = new Int32Array(entries);
    this.khi = new Int32Array(entries);
    this.asid = new Int32Array(entries);
    this.flags = new Uint8Array(entries);
    this.stamp = new Float64Array(entries);
    this.setMru = new Int32Array(Math.max(sets, 1)).fill(-1);
  }

  /**
   * Looks up tag khi:klo in address space `asid`. Returns true on a hit (the
   * way becomes most recently used), false on a miss (nothing changes).
   */
  lookup(klo: number, khi: number, asid: number): boolean {
    // Small enough for V8 to inline at the call site: the last hit again
    // (most lookups of a replay) costs four compares and no call.
    if (klo === this.mruKlo && khi === this.mruKhi && asid === this.mruAsid && this.mruValid) return true;
    return this.scan(klo, khi, asid);
  }

  /** lookup() past the last-hit shortcut: the set's ways. */
  private scan(klo: number, khi: number, asid: number): boolean {
    if (this.sets === 0) return false;
    const set = klo & this.setMask;
    const f = this.flags;
    if (this.unique) {
      // The set's most recently used way again (see setMru): a hit without a new stamp.
      const w = this.setMru[set]!;
      if (w >= 0 && this.klo[w] === klo && this.khi[w] === khi && f[w]! & VALID && (this.asid[w] === asid || f[w]! & GLOBAL)) {
        this.lastGlobal = (f[w]! & GLOBAL) !== 0;
        this.mruKlo = klo;
        this.mruKhi = khi;
        this.mruAsid = asid;
        this.mruValid = true;
        return true;
      }
    }
    const base = set * this.ways;
    const end = base + this.ways;
    for (let i = base; i < end; i++) {
      if (this.klo[i] === klo && this.khi[i] === khi && f[i]! & VALID && (this.asid[i] === asid || f[i]! & GLOBAL)) {
        this.stamp[i] = ++this.clock;
        this.setMru[set] = i;
        this.lastGlobal = (f[i]! & GLOBAL) !== 0;
        this.mruKlo = klo;
        this.mruKhi = khi;
        this.mruAsid = asid;
        this.mruValid = true;
        return true;
      }
    }
    return false;
  }

  /** Inserts tag khi:klo (after a miss), evicting the set's least recently used way. */
  insert(klo: number, khi: number, asid: number, global: boolean): void {
    if (this.sets === 0) return;
    this.mruValid = false;
    const set = klo & this.setMask;
    const base = set * this.ways;
    let victim = base;
    let oldest = Infinity;
    for (let i = base; i < base + this.ways; i++) {
      if (!(this.flags[i]! & VALID)) { victim = i; break; }
      if (this.stamp[i]! < oldest) { oldest = this.stamp[i]!; victim = i; }
    }
    if (this.unique) {
      for (let i = base; i < base + this.ways; i++) {
        if (i !== victim && this.flags[i]! & VALID && this.klo[i] === klo && this.khi[i] === khi) this.unique = false;
      }
    }
    this.setMru[set] = victim;
    this.klo[victim] = klo;
    this.khi[victim] = khi;
    this.asid[victim] = asid;
    this.flags[victim] = global ? VALID | GLOBAL : VALID;
    this.stamp[victim] = ++this.clock;
  }

  /** Drops every entry. */
  flushAll(): void {
    this.mruValid = false;
    this.flags.fill(0);
    this.unique = true;
  }

  /** Drops entries of address space `asid` (asid < 0: of every space); global ones survive when keepGlobal. */
  flushAsid(asid: number, keepGlobal: boolean): void {
    this.mruValid = false;
    const f = this.flags;
    for (let i = 0; i < this.entries; i++) {
      if (!(f[i]! & VALID) || (keepGlobal && f[i]! & GLOBAL)) continue;
      if (asid < 0 || this.asid[i] === asid) f[i] = 0;
    }
  }

  /** Drops the entry with tag khi:klo in `asid` (asid < 0: any); a global one too unless keepGlobal. */
  flushKey(klo: number, khi: number, asid: number, keepGlobal: boolean): void {
    this.mruValid = false;
    if (this.sets === 0) return;
    const base = (klo & this.setMask) * this.ways;
    const f = this.flags;
    for (let i = base; i < base + this.ways; i++) {
      if (!(f[i]! & VALID) || this.klo[i] !== klo || this.khi[i] !== khi) continue;
      if (f[i]! & GLOBAL ? !keepGlobal : asid < 0 || this.asid[i] === asid) f[i] = 0;
    }
  }

  /** Number of valid entries (for reports and tests). */
  occupancy(): number {
    let n = 0;
    for (let i = 0; i < this.entries; i++) if (this.flags[i]! & VALID) n++;
    return n;
  }
}
