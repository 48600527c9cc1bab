/**
 * The vmmu trace format (version 1), byte by byte in docs/trace-format.md.
 *
 * A file is a header, then chunks, then an end record:
 *
 *   header  "VMTR" u16 version  u16 headerBytes  fields...  u32 CRC-32
 *   chunk   "VMTC" u32 compressed  u32 uncompressed  u32 records  u32 CRC-32(compressed)  DEFLATE(body)
 *   ...
 *   end     "VMTE" u32 chunks  f64 records  f64 accesses  u32 CRC-32
 *
 * A chunk body is columnar so that DEFLATE finds the regularity in it and a
 * reader turns it back into typed arrays with a few tight loops:
 *
 *   u32 nOps  u32 nAddr  u32 nArgs  u32 nBlob
 *   nOps x u16 ops (padded to 4 bytes)
 *   nAddr x u32 access addresses: zigzag delta from the previous access of the
 *                 same class (fetch / data), byte-planar (all low bytes, ...)
 *   nArgs x u32 operands of the other records, byte-planar
 *   nBlob bytes page images (4096 each)
 *
 * All integers are little-endian. This file holds the constants, the header
 * and the errors; writer.ts and reader.ts move the bytes.
 */
import { crc32 } from 'node:zlib';
import { ACC_AC, ACC_FETCH, ACC_USER, ACC_WRITE } from '../mmu/paging/bits.js';
import { ACC_SIZE_SHIFT, type PagingRegisters } from '../mmu/mmu.js';

export const FORMAT_VERSION = 1;
export const MAGIC_HEADER = 0x52544d56; // "VMTR" read as a little-endian u32
export const MAGIC_CHUNK = 0x43544d56; // "VMTC"
export const MAGIC_END = 0x45544d56; // "VMTE"
export const CHUNK_HEAD_BYTES = 20;
export const END_BYTES = 28;
export const BODY_HEAD_BYTES = 16;
export const PAGE_BYTES = 4096;

// ---- record ops (u16) ----
/** bit 15: an access; the other bits say which */
export const OP_ACCESS = 0x8000;
/** access: the gva's high 32 bits follow in the args column (else 0) */
export const OP_HI = 0x4000;
/** access kind, bits 13:12 */
export const OP_KIND_SHIFT = 12;
export const KIND_READ = 0;
export const KIND_WRITE = 1;
export const KIND_FETCH = 2;
/** access made as an explicit user access (ACC_USER) */
export const OP_USER = 0x0800;
/** supervisor access with EFLAGS.AC=1 (ACC_AC) */
export const OP_AC = 0x0400;
/** access size in bytes, bits 7:0 (0 = not known) */
export const OP_SIZE_MASK = 0xff;

// Non-access ops: bit 15 clear, the op number in bits 7:0, operands in the args column.
export const R_CR0 = 1;
export const R_CR3 = 2;
export const R_CR4 = 3;
export const R_EFER = 4;
export const R_PKRU = 5;
export const R_PAGING = 6;
export const R_PRIV = 7;
export const R_INVLPG = 8;
export const R_INVPCID = 9;
export const R_FLUSH = 10;
export const R_PTWRITE = 11;
export const R_PAGE = 12;
export const R_ZPAGE = 13;
export const R_CHECK = 14;
export const R_SWITCH = 15;

/** Operand words of each non-access op (index: op number); -1 = no such op. */
export const ARITY: Int8Array = (() => {
  const a = new Int8Array(256).fill(-1);
  a[R_CR0] = 1; a[R_CR3] = 2; a[R_CR4] = 1; a[R_EFER] = 1; a[R_PKRU] = 1;
  a[R_PAGING] = 6; a[R_PRIV] = 1; a[R_INVLPG] = 2; a[R_INVPCID] = 4; a[R_FLUSH] = 1;
  a[R_PTWRITE] = 4; a[R_PAGE] = 2; a[R_ZPAGE] = 2; a[R_CHECK] = 3; a[R_SWITCH] = 1;
  return a;
})();

/** The access op for ACC_* bits (the size taken from the ACC_SIZE bits, or given). */
export function accessOp(acc: number, hi: number, size: number): number {
  const kind = acc & ACC_FETCH ? KIND_FETCH : acc & ACC_WRITE ? KIND_WRITE : KIND_READ;
  return OP_ACCESS | (hi !== 0 ? OP_HI : 0) | (kind << OP_KIND_SHIFT) | (acc & ACC_USER ? OP_USER : 0) | (acc & ACC_AC ? OP_AC : 0) | (size & OP_SIZE_MASK);
}

/**
 * ACC_* bits (with the size in the ACC_SIZE bits, sizes above 15 as 0) of
 * each access op's low 14 bits; index op & 0x3fff.
 */
export const ACC_OF_OP: Int32Array = (() => {
  const t = new Int32Array(0x4000);
  for (let op = 0; op < 0x4000; op++) {
    const kind = (op >> OP_KIND_SHIFT) & 3;
    const size = op & OP_SIZE_MASK;
    t[op] = (kind === KIND_FETCH ? ACC_FETCH : kind === KIND_WRITE ? ACC_WRITE : 0)
      | (op & OP_USER ? ACC_USER : 0) | (op & OP_AC ? ACC_AC : 0) | ((size <= 15 ? size : 0) << ACC_SIZE_SHIFT);
  }
  return t;
})();

/** A trace that cannot be read: the message names the file and the byte offset. */
export class TraceError extends Error {}

/** Where a trace came from (header byte 8). */
export const SOURCE_RECORDED = 0;
export const SOURCE_IMPORTED = 1;

/** The trace header: what the replayer needs to rebuild the guest's starting point (the paging registers at the start included). */
export interface TraceHeader extends PagingRegisters {
  version: number;
  /** SOURCE_RECORDED or SOURCE_IMPORTED */
  source: number;
  /** guest paging format at the start (FMT_* id) */
  format: number;
  maxPhysAddr: number;
  gbPages: boolean;
  softTlbBits: number;
  cpl: number;
  ac: boolean;
  /** accesses between CHECK records (0: none) */
  checkEvery: number;
  seed: number;
  guestMemory: number;
  holes: { gpa: number; bytes: number }[];
  /** the PAE PDPTE registers at the start (lo/hi pairs) */
  pdpte: number[];
  /** free-form facts: tool, source file, options, date */
  notes: Record<string, unknown>;
}

const TWO32 = 4294967296;

/** Serializes a header (see docs/trace-format.md, "Header"). */
export function encodeHeader(h: TraceHeader): Buffer {
  const notes = Buffer.from(JSON.stringify(h.notes), 'utf8');
  if (notes.length > 0xffff) throw new RangeError('trace header notes exceed 65535 bytes');
  if (h.holes.length > 0xffff) throw new RangeError('too many memory holes for a trace header');
  const size = 92 + h.holes.length * 16 + 2 + notes.length + 4;
  if (size > 0xffff) throw new RangeError('trace header exceeds 65535 bytes');
  const b = Buffer.alloc(size);
  b.writeUInt32LE(MAGIC_HEADER, 0);
  b.writeUInt16LE(h.version, 4);
  b.writeUInt16LE(size, 6);
  b.writeUInt8(h.source, 8);
  b.writeUInt8(h.format, 9);
  b.writeUInt8(h.maxPhysAddr, 10);
  b.writeUInt8(h.gbPages ? 1 : 0, 11);
  b.writeUInt8(h.softTlbBits, 12);
  b.writeUInt8(h.cpl, 13);
  b.writeUInt8(h.ac ? 1 : 0, 14);
  b.writeUInt32LE(h.checkEvery >>> 0, 16);
  b.writeUInt32LE(h.seed >>> 0, 20);
  b.writeUInt32LE(h.guestMemory % TWO32, 24);
  b.writeUInt32LE(Math.floor(h.guestMemory / TWO32), 28);
  const regs = [h.cr0, h.cr3Lo, h.cr3Hi, h.cr4, h.efer, h.pkru];
  regs.forEach((v, i) => b.writeUInt32LE(v >>> 0, 32 + i * 4));
  for (let i = 0; i < 8; i++) b.writeUInt32LE((h.pdpte[i] ?? 0) >>> 0, 56 + i * 4);
  b.writeUInt16LE(h.holes.length, 88);
  let at = 92;
  for (const hole of h.holes) {
    b.writeUInt32LE(hole.gpa % TWO32, at); b.writeUInt32LE(Math.floor(hole.gpa / TWO32), at + 4);
    b.writeUInt32LE(hole.bytes % TWO32, at + 8); b.writeUInt32LE(Math.floor(hole.bytes / TWO32), at + 12);
    at += 16;
  }
  b.writeUInt16LE(notes.length, at);
  notes.copy(b, at + 2);
  b.writeUInt32LE(crc32(b.subarray(0, size - 4)), size - 4);
  return b;
}

/**
 * Parses a header from the start of a file. `b` must hold at least the
 * header's length (read the first 8 bytes for it). Throws TraceError naming
 * the file and offset for a bad magic, version, length or CRC.
 */
export function decodeHeader(b: Buffer, file: string): TraceHeader {
  if (b.length < 8 || b.readUInt32LE(0) !== MAGIC_HEADER) throw new TraceError(`${file}: not a vmmu trace (no "VMTR" magic at offset 0)`);
  const version = b.readUInt16LE(4);
  if (version !== FORMAT_VERSION) throw new TraceError(`${file}: trace format version ${version} at offset 4 is not supported (this vmmu reads version ${FORMAT_VERSION})`);
  const size = b.readUInt16LE(6);
  if (size < 98) throw new TraceError(`${file}: header length ${size} at offset 6 is too small`);
  if (b.length < size) throw new TraceError(`${file}: truncated header: ${size} bytes expected, the file ends at offset ${b.length}`);
  if (crc32(b.subarray(0, size - 4)) !== b.readUInt32LE(size - 4)) throw new TraceError(`${file}: header CRC mismatch at offset ${size - 4} (corrupt header)`);
  const holes: { gpa: number; bytes: number }[] = [];
  const nHoles = b.readUInt16LE(88);
  let at = 92;
  for (let i = 0; i < nHoles; i++) {
    holes.push({ gpa: b.readUInt32LE(at) + b.readUInt32LE(at + 4) * TWO32, bytes: b.readUInt32LE(at + 8) + b.readUInt32LE(at + 12) * TWO32 });
    at += 16;
  }
  const nNotes = b.readUInt16LE(at);
  let notes: Record<string, unknown> = {};
  try {
    notes = JSON.parse(b.subarray(at + 2, at + 2 + nNotes).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new TraceError(`${file}: header notes at offset ${at + 2} are not valid JSON`);
  }
  const pdpte: number[] = [];
  for (let i = 0; i < 8; i++) pdpte.push(b.readInt32LE(56 + i * 4));
  return {
    version, source: b.readUInt8(8), format: b.readUInt8(9), maxPhysAddr: b.readUInt8(10), gbPages: b.readUInt8(11) !== 0,
    softTlbBits: b.readUInt8(12), cpl: b.readUInt8(13), ac: b.readUInt8(14) !== 0, checkEvery: b.readUInt32LE(16),
    seed: b.readUInt32LE(20), guestMemory: b.readUInt32LE(24) + b.readUInt32LE(28) * TWO32,
    cr0: b.readInt32LE(32), cr3Lo: b.readInt32LE(36), cr3Hi: b.readInt32LE(40), cr4: b.readInt32LE(44), efer: b.readInt32LE(48), pkru: b.readInt32LE(52),
    pdpte, holes, notes,
  };
}
