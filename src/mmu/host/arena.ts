/**
 * Host memory and the software TLB's arrays placed in a buffer that someone
 * else owns: the wasm CPU engine gives the Mmu a region of its
 * WebAssembly memory, so that compiled code reaches guest memory and the
 * TLB's tags, host and guest-physical addresses with plain loads (docs/cpu.md, "The wasm
 * engine"). Without an arena the Mmu allocates its own ArrayBuffers.
 */

/**
 * Asked by the Mmu, once, for `bytes` bytes (host memory, a page of slack
 * to align it, and the software TLB's tag, host-address and
 * guest-physical-address arrays):
 * returns a buffer and the offset of a region of at least that size,
 * 8-aligned and all zeros (HostMemory hands out never-used frames without
 * clearing them), that the Mmu may use alone. The buffer must never be
 * detached (a WebAssembly memory must not grow). Or null: no region of
 * that size, and the Mmu allocates its own buffers as without an arena.
 */
export type ArenaProvider = (bytes: number) => { buffer: ArrayBuffer; base: number } | null;

/** A bump allocator over [base, base + bytes) of a buffer. */
export class Arena {
  private top: number;
  private readonly end: number;

  constructor(readonly buffer: ArrayBuffer, base: number, bytes: number) {
    if (!Number.isInteger(base) || base < 0 || base % 8 !== 0 || !Number.isInteger(bytes) || bytes < 0 || base + bytes > buffer.byteLength) {
      throw new RangeError(`arena: region of ${bytes} bytes at ${base} does not fit an 8-aligned place in a buffer of ${buffer.byteLength} bytes`);
    }
    this.top = base;
    this.end = base + bytes;
  }

  /** Reserves `bytes` bytes aligned to `align` (a power of two); returns their offset in the buffer. */
  alloc(bytes: number, align = 8): number {
    const at = (this.top + align - 1) & ~(align - 1);
    if (at + bytes > this.end) throw new RangeError(`arena: ${bytes} more bytes do not fit (${this.end - this.top} left)`);
    this.top = at + bytes;
    return at;
  }

  int32(n: number): Int32Array {
    return new Int32Array(this.buffer, this.alloc(n * 4, 8), n);
  }

  float64(n: number): Float64Array {
    return new Float64Array(this.buffer, this.alloc(n * 8, 8), n);
  }

  /** Bytes an int32 array of n elements takes, aligned as int32() aligns it. */
  static int32Bytes(n: number): number {
    return ((n * 4 + 7) & ~7);
  }
}
