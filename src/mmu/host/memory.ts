/**
 * Host physical memory: one ArrayBuffer with 8-, 16- and 32-bit views and a
 * 4 KiB frame allocator.
 *
 * Every host-physical address (`hpa`) in vmmu is a byte offset into this
 * buffer. Guest RAM, shadow page tables, EPT tables and the naive mode's host
 * page table all live here, so a dump of host memory shows every structure
 * the modes build, and isolation can be checked by comparing an `hpa` with
 * the frames that belong to the guest.
 *
 * Limits: at most 2 GiB, so that every `hpa` fits a non-negative int32 and the
 * fast path can keep host addresses in Int32Arrays.
 */

import type { Arena } from './arena.js';

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PAGE_MASK = 0xfff;
/** The largest host memory vmmu accepts (2 GiB - 4 KiB, see the file comment). */
export const HOST_MEMORY_MAX = 0x80000000 - PAGE_SIZE;

/** Who owns a host frame; kept per frame so that isolation can be audited. */
export const FRAME_FREE = 0;
export const FRAME_GUEST = 1;
export const FRAME_HOST_TABLE = 2;
export const FRAME_SHADOW = 3;
export const FRAME_EPT = 4;
export const FRAME_OTHER = 5;
export type FrameOwner = 0 | 1 | 2 | 3 | 4 | 5;

export const FRAME_OWNER_NAMES = ['free', 'guest', 'host-table', 'shadow', 'ept', 'other'] as const;

export class HostMemory {
  readonly bytes: number;
  readonly frames: number;
  /** the buffer holding host memory: its own, or an arena's (then the views start at the region's offset) */
  readonly buffer: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly i32: Int32Array;
  readonly view: DataView;
  /** owner of each frame (FRAME_*) */
  readonly owner: Uint8Array;
  /** stack of free frames, top at freeTop-1 */
  private readonly freeStack: Int32Array;
  private freeTop: number;
  /**
   * 1 for each frame that has been handed out since the buffer was made,
   * and so may hold data. A fresh ArrayBuffer is all zeros: a frame never
   * handed out needs no clearing, and not touching it leaves the host's
   * pages untouched until the guest uses them (clearing every frame of a
   * 2 GiB guest up front took most of its start-up time).
   */
  private readonly used: Uint8Array;

  /**
   * @param bytes host memory size; a multiple of 4 KiB, at most HOST_MEMORY_MAX.
   * @param arena where to place it (arena.ts; default: a buffer of its own)
   * Throws RangeError naming the bad size. Typed arrays use the platform's
   * byte order; every host Node runs vmmu on (x86-64, arm64) is little-endian
   * like the guest, so 32-bit views read guest words directly.
   */
  constructor(bytes: number, arena?: Arena) {
    if (!Number.isInteger(bytes) || bytes <= 0 || bytes % PAGE_SIZE !== 0) {
      throw new RangeError(`host memory size ${bytes} is not a positive multiple of 4096 bytes`);
    }
    if (bytes > HOST_MEMORY_MAX) {
      throw new RangeError(`host memory size ${bytes} exceeds the ${HOST_MEMORY_MAX}-byte limit (every hpa must fit an int32)`);
    }
    this.bytes = bytes;
    this.frames = bytes / PAGE_SIZE;
    // In an arena (arena.ts) the views start at the region's offset, so an
    // hpa is still an offset from the first byte of host memory. The
    // region is fresh memory: zeros, as a new ArrayBuffer is.
    const at = arena === undefined ? 0 : arena.alloc(bytes, PAGE_SIZE);
    this.buffer = arena === undefined ? new ArrayBuffer(bytes) : arena.buffer;
    this.u8 = new Uint8Array(this.buffer, at, bytes);
    this.u16 = new Uint16Array(this.buffer, at, bytes / 2);
    this.i32 = new Int32Array(this.buffer, at, bytes / 4);
    this.view = new DataView(this.buffer, at, bytes);
    this.owner = new Uint8Array(this.frames);
    this.freeStack = new Int32Array(this.frames);
    this.used = new Uint8Array(this.frames);
    // Hand out low frames first; frame 0 is never handed out so that an hpa
    // of 0 can never be mistaken for a real mapping in dumps.
    let top = 0;
    for (let hfn = this.frames - 1; hfn >= 1; hfn--) this.freeStack[top++] = hfn;
    this.freeTop = top;
    this.owner[0] = FRAME_OTHER;
  }

  /** Number of frames still free. */
  freeFrames(): number {
    return this.freeTop;
  }

  /**
   * Allocates one zeroed frame for `owner`.
   * Returns its host frame number, or -1 when host memory is exhausted
   * (callers decide whether to reclaim or to report).
   */
  allocFrame(owner: FrameOwner): number {
    if (this.freeTop === 0) return -1;
    const hfn = this.freeStack[--this.freeTop]!;
    this.owner[hfn] = owner;
    this.clearIfUsed(hfn);
    return hfn;
  }

  /**
   * Allocates one zeroed frame for `owner`, taken from anywhere among the
   * free frames: `random` (any 32-bit value, from the caller's seeded
   * generator) picks which. Guest RAM is backed this way, one frame at a
   * time as the guest first touches it, so that guest-physical contiguity
   * never coincides with host-physical contiguity. Returns -1 when host
   * memory is exhausted.
   */
  allocScatteredFrame(owner: FrameOwner, random: number): number {
    if (this.freeTop === 0) return -1;
    const stack = this.freeStack;
    const j = (random >>> 0) % this.freeTop;
    const hfn = stack[j]!;
    stack[j] = stack[--this.freeTop]!;
    this.owner[hfn] = owner;
    this.clearIfUsed(hfn);
    return hfn;
  }

  /** Zeroes a frame being handed out, unless it never was before (then it is still zero). */
  private clearIfUsed(hfn: number): void {
    if (this.used[hfn] === 0) this.used[hfn] = 1;
    else this.u8.fill(0, hfn * PAGE_SIZE, hfn * PAGE_SIZE + PAGE_SIZE);
  }

  /** Returns a frame to the allocator. Throws if it was already free. */
  freeFrame(hfn: number): void {
    if (this.owner[hfn] === FRAME_FREE) throw new Error(`host frame ${hfn} freed twice`);
    this.owner[hfn] = FRAME_FREE;
    this.freeStack[this.freeTop++] = hfn;
  }

  /** Reads the 32-bit little-endian word at a 4-aligned hpa. */
  read32(hpa: number): number {
    return this.i32[hpa >>> 2]!;
  }

  /** Writes the 32-bit little-endian word at a 4-aligned hpa. */
  write32(hpa: number, value: number): void {
    this.i32[hpa >>> 2] = value;
  }
}
