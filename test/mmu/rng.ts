/** The seeded generator of the randomized MMU tests. */
/** xorshift128+ style deterministic generator; 32-bit outputs. */
export class Rng {
  private a: number;
  private b: number;
  constructor(seed: number) {
    this.a = (seed * 2654435761) | 0 || 1;
    this.b = (seed ^ 0x5bd1e995) | 0 || 2;
  }
  u32(): number {
    let s1 = this.a;
    const s0 = this.b;
    this.a = s0;
    s1 ^= s1 << 23;
    s1 ^= s1 >>> 17;
    s1 ^= s0;
    s1 ^= s0 >>> 26;
    this.b = s1;
    return (this.a + this.b) >>> 0;
  }
  below(n: number): number {
    return this.u32() % n;
  }
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)]!;
  }
}
