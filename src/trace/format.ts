/**
 * The vmmu trace format (version 3), byte by byte in docs/trace-format.md.
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
// The access bits from where they are defined, not through mmu/index.js:
// the parse thread loads this module (via the importers) and needs no Mmu,
// whose code would add a good part of its start-up.
import { ACC_AC, ACC_FETCH, ACC_RMW_R, ACC_RMW_W, ACC_SIZE_SHIFT, ACC_USER, ACC_WRITE } from '../mmu/paging/bits.js';
import type { PagingRegisters } from '../mmu/index.js';

export const FORMAT_VERSION = 3;
/** The oldest version this vmmu reads: version 1 is version 2 without OP_RMW; version 2 is version 3 without PTWRITE8. */
export const FORMAT_VERSION_MIN = 1;
/**
 * The header note listing the guest's read-only memory ranges
 * ([{ gpa, bytes }], MmuOptions.rom): a replay builds its Mmu with them, so
 * that a write the guest made into ROM is played as one.
 */
export const ROM_NOTE = 'rom';
export const MAGIC_HEADER = 0x52544d56; // "VMTR" read as a little-endian u32
export const MAGIC_CHUNK = 0x43544d56; // "VMTC"
export const MAGIC_END = 0x45544d56; // "VMTE"
export const CHUNK_HEAD_BYTES = 20;
export const END_BYTES = 28;
export const BODY_HEAD_BYTES = 16;
export const PAGE_BYTES = 4096;

// ---- the format's limits: a reader checks every length and count against them before using it ----
/** records in one chunk: the writer closes a chunk at 16 to 2^20 records */
export const MAX_CHUNK_RECORDS = 1 << 20;
/** bytes of page images in one chunk: the writer closes a chunk when its images reach 1 MiB */
export const MAX_CHUNK_BLOB = 1 << 20;
/** operand words one record can carry at most (PAGING) */
export const MAX_ARITY = 6;

/** Bytes of the ops column of `records` records (u16 each, padded to 4). */
export function opBytes(records: number): number {
  return (records * 2 + 3) & ~3;
}

/** The smallest body a chunk of `records` records can have: the column counts and the ops. */
export function minBodyBytes(records: number): number {
  return BODY_HEAD_BYTES + opBytes(records);
}

/**
 * The largest body a chunk of `records` records can have: every record an
 * event with six operands, plus the 1 MiB of page images (about 27 MiB at
 * 2^20 records).
 */
export function maxBodyBytes(records: number): number {
  return BODY_HEAD_BYTES + opBytes(records) + records * MAX_ARITY * 4 + MAX_CHUNK_BLOB;
}

/**
 * The most compressed bytes DEFLATE makes of `u` bytes, with room to spare:
 * stored blocks add 5 bytes per 64 KiB, fixed Huffman codes at most 1/8.
 */
export function maxCompressedBytes(u: number): number {
  return u + Math.ceil(u / 8) + 1024;
}

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
/**
 * (version 2) a half of a read-modify-write: with KIND_READ its read
 * (ACC_WRITE | ACC_RMW_R, translated as a write), with KIND_WRITE its write
 * (ACC_WRITE | ACC_RMW_W); not with KIND_FETCH
 */
export const OP_RMW = 0x0100;
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
/** (version 3) an 8-byte write into a watched frame, as one write: gpa low, high, value low, high */
export const R_PTWRITE8 = 16;

/** Operand words of each non-access op (index: op number); -1 = no such op. */
export const ARITY: Int8Array = (() => {
  const a = new Int8Array(256).fill(-1);
  a[R_CR0] = 1; a[R_CR3] = 2; a[R_CR4] = 1; a[R_EFER] = 1; a[R_PKRU] = 1;
  a[R_PAGING] = 6; a[R_PRIV] = 1; a[R_INVLPG] = 2; a[R_INVPCID] = 4; a[R_FLUSH] = 1;
  a[R_PTWRITE] = 4; a[R_PAGE] = 2; a[R_ZPAGE] = 2; a[R_CHECK] = 3; a[R_SWITCH] = 1;
  a[R_PTWRITE8] = 4;
  return a;
})();

/** The access op's bits 14:0 for ACC_* bits: kind, U, AC and RMW (no size, no HI). */
export function accessBits(acc: number): number {
  const kind = acc & ACC_FETCH ? KIND_FETCH : acc & ACC_RMW_R ? KIND_READ : acc & ACC_WRITE ? KIND_WRITE : KIND_READ;
  return (kind << OP_KIND_SHIFT) | (acc & ACC_USER ? OP_USER : 0) | (acc & ACC_AC ? OP_AC : 0) | (acc & (ACC_RMW_R | ACC_RMW_W) ? OP_RMW : 0);
}

/** The access op for ACC_* bits (the size taken from the ACC_SIZE bits, or given). */
export function accessOp(acc: number, hi: number, size: number): number {
  return OP_ACCESS | (hi !== 0 ? OP_HI : 0) | accessBits(acc) | (size & OP_SIZE_MASK);
}

/**
 * Whether an access op's bits are ones format `version` defines: kind 3 and
 * bit 9 are not, nor OP_RMW in version 1 or with a fetch.
 */
export function validAccessOp(op: number, version: number): boolean {
  const kind = (op >> OP_KIND_SHIFT) & 3;
  if (kind === 3 || (op & 0x0200) !== 0) return false;
  return (op & OP_RMW) === 0 || (version >= 2 && kind !== KIND_FETCH);
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
    const rmw = (op & OP_RMW) !== 0 && kind !== KIND_FETCH;
    t[op] = (kind === KIND_FETCH ? ACC_FETCH : kind === KIND_WRITE || rmw ? ACC_WRITE : 0)
      | (rmw ? (kind === KIND_WRITE ? ACC_RMW_W : ACC_RMW_R) : 0)
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

/** The largest header: the u16 length field. */
export const MAX_HEADER_BYTES = 0xffff;
/** The smallest header: the fixed fields, no holes, empty notes, the CRC. */
export const MIN_HEADER_BYTES = 92 + 2 + 4;

/**
 * Parses a header from the start of a file. `b` must hold at least the
 * header's length (read the first 8 bytes for it). Throws TraceError naming
 * the file and the offset of the field for a bad magic, version, length,
 * CRC, or a field outside what the format allows.
 */
export function decodeHeader(b: Buffer, file: string): TraceHeader {
  const bad = (offset: number, what: string): never => { throw new TraceError(`${file}: header field at offset ${offset}: ${what} (corrupt header)`); };
  if (b.length < 4 || b.readUInt32LE(0) !== MAGIC_HEADER) throw new TraceError(`${file}: not a vmmu trace (no "VMTR" magic at offset 0)`);
  if (b.length < 8) throw new TraceError(`${file}: truncated header: the file ends at offset ${b.length}, inside the first 8 bytes`);
  const version = b.readUInt16LE(4);
  if (version < FORMAT_VERSION_MIN || version > FORMAT_VERSION) {
    throw new TraceError(`${file}: trace format version ${version} at offset 4 is not supported (this vmmu reads versions ${FORMAT_VERSION_MIN} to ${FORMAT_VERSION})`);
  }
  const size = b.readUInt16LE(6);
  if (size < MIN_HEADER_BYTES) throw new TraceError(`${file}: header length ${size} at offset 6 is too small (at least ${MIN_HEADER_BYTES})`);
  if (b.length < size) throw new TraceError(`${file}: truncated header: ${size} bytes expected, the file ends at offset ${b.length}`);
  if (crc32(b.subarray(0, size - 4)) !== b.readUInt32LE(size - 4)) throw new TraceError(`${file}: header CRC mismatch at offset ${size - 4} (corrupt header)`);
  // The CRC only proves the header is what some writer wrote: check every field against the format too.
  const u8 = (offset: number, max: number, what: string, min = 0): number => {
    const v = b.readUInt8(offset);
    if (v < min || v > max) bad(offset, `${what} ${v} is outside ${min}..${max}`);
    return v;
  };
  const source = u8(8, SOURCE_IMPORTED, 'source');
  const format = u8(9, 4, 'paging format');
  const maxPhysAddr = u8(10, 52, 'MAXPHYADDR', 32);
  const gbPages = u8(11, 1, '1 GiB page support');
  const softTlbBits = u8(12, 20, 'log2 of the software TLB slots', 8);
  const cpl = u8(13, 3, 'CPL');
  const ac = u8(14, 1, 'EFLAGS.AC');
  u8(15, 0, 'reserved byte');
  const guestMemory = b.readUInt32LE(24) + b.readUInt32LE(28) * TWO32;
  if (guestMemory === 0 || guestMemory % PAGE_BYTES !== 0 || guestMemory > 2 ** maxPhysAddr) {
    bad(24, `guest RAM of ${guestMemory} bytes is not a positive multiple of ${PAGE_BYTES} below 2^${maxPhysAddr} (MAXPHYADDR)`);
  }
  if (b.readUInt16LE(90) !== 0) bad(90, `reserved field ${b.readUInt16LE(90)} is not 0`);
  const nHoles = b.readUInt16LE(88);
  const notesAt = 92 + nHoles * 16;
  if (notesAt + 2 + 4 > size) bad(88, `${nHoles} memory holes need ${nHoles * 16} bytes from offset 92, past the header's end at offset ${size}`);
  const holes: { gpa: number; bytes: number }[] = [];
  let at = 92;
  for (let i = 0; i < nHoles; i++) {
    const gpa = b.readUInt32LE(at) + b.readUInt32LE(at + 4) * TWO32;
    const bytes = b.readUInt32LE(at + 8) + b.readUInt32LE(at + 12) * TWO32;
    if (gpa % PAGE_BYTES !== 0 || gpa + bytes > 2 ** maxPhysAddr) bad(at, `memory hole ${i} at gpa 0x${gpa.toString(16)} is not page aligned or ends beyond 2^${maxPhysAddr} (MAXPHYADDR)`);
    if (bytes === 0 || bytes % PAGE_BYTES !== 0) bad(at + 8, `memory hole ${i} at gpa 0x${gpa.toString(16)} is ${bytes} bytes long, not a positive multiple of ${PAGE_BYTES}`);
    holes.push({ gpa, bytes });
    at += 16;
  }
  const nNotes = b.readUInt16LE(at);
  if (at + 2 + nNotes !== size - 4) bad(at, `notes of ${nNotes} bytes from offset ${at + 2} do not end where the CRC starts, at offset ${size - 4}`);
  let notes: unknown;
  try {
    notes = JSON.parse(b.subarray(at + 2, at + 2 + nNotes).toString('utf8'));
  } catch {
    throw new TraceError(`${file}: header notes at offset ${at + 2} are not valid JSON (corrupt header)`);
  }
  if (typeof notes !== 'object' || notes === null || Array.isArray(notes)) {
    throw new TraceError(`${file}: header notes at offset ${at + 2} are ${notes === null ? 'null' : Array.isArray(notes) ? 'an array' : `a ${typeof notes}`}, not a JSON object (corrupt header)`);
  }
  const pdpte: number[] = [];
  for (let i = 0; i < 8; i++) pdpte.push(b.readInt32LE(56 + i * 4));
  return {
    version, source, format, maxPhysAddr, gbPages: gbPages !== 0,
    softTlbBits, cpl, ac: ac !== 0, checkEvery: b.readUInt32LE(16),
    seed: b.readUInt32LE(20), guestMemory,
    cr0: b.readInt32LE(32), cr3Lo: b.readInt32LE(36), cr3Hi: b.readInt32LE(40), cr4: b.readInt32LE(44), efer: b.readInt32LE(48), pkru: b.readInt32LE(52),
    pdpte, holes, notes: notes as Record<string, unknown>,
  };
}
