/**
 * Multiboot (version 1, specification 0.6.96) loader: finds and checks the
 * kernel's Multiboot header, copies the kernel into guest-physical memory
 * (ELF32 PT_LOAD segments, or the a.out kludge of header flag 16), then the
 * boot modules and the Multiboot information structure. It knows nothing of
 * the CPU: it only writes guest-physical bytes and says where to start.
 *
 * What the caller must set before the guest's first instruction (spec 3.2,
 * "Machine state"):
 *
 *   EAX     MB_BOOTLOADER_MAGIC (0x2BADB002), returned as `eax`
 *   EBX     the info structure's guest-physical address, returned as `ebx`
 *   EIP     `entry` (a physical address: paging is off)
 *   CS      a 32-bit read/execute code segment, base 0, limit 0xFFFFFFFF;
 *           the selector value is undefined
 *   DS ES FS GS SS
 *           32-bit read/write data segments, base 0, limit 0xFFFFFFFF;
 *           selector values undefined
 *   CR0     PE (bit 0) set, PG (bit 31) clear; other bits undefined
 *   EFLAGS  VM (bit 17) clear, IF (bit 9) clear; other bits undefined
 *   A20     enabled
 *
 * Everything else is undefined by the spec and the kernel may not rely on
 * it: ESP (the kernel builds its own stack), GDTR (may be invalid: the kernel
 * must not reload a segment register before loading its own GDT, so the
 * caller may set the hidden descriptor caches directly), IDTR (the kernel
 * keeps interrupts off until it has its own IDT). The caller should leave
 * CR4 and EFER at their reset values.
 *
 * The information structure as written here (spec 3.3; offsets in bytes,
 * every field a little-endian u32 unless noted; "-" = left zero):
 *
 *     0  flags              MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MODS
 *                           | MB_INFO_MMAP | MB_INFO_LOADER_NAME  (0x24D)
 *     4  mem_lower          KiB of RAM from 0 up to the first hole (<= 640)
 *     8  mem_upper          KiB of RAM from 1 MiB up to the first hole
 *    12  boot_device        -  (flag 1 clear: not loaded from a BIOS disk)
 *    16  cmdline            -> NUL-terminated kernel command line
 *    20  mods_count
 *    24  mods_addr          -> module list (0 when there are no modules)
 *    28  syms (16 bytes)    -  (flags 4 and 5 clear)
 *    44  mmap_length        bytes of the memory map buffer
 *    48  mmap_addr          -> first memory map entry
 *    52  drives_length, drives_addr, config_table
 *                           -
 *    64  boot_loader_name   -> NUL-terminated name
 *    68  apm_table, vbe_*, framebuffer_* (through offset 115)
 *                           -  (flags 10, 11, 12 clear)
 *
 *   module list entry (16 bytes):     memory map entry (24 bytes):
 *     0  mod_start                       0  size = 20 (bytes after this field)
 *     4  mod_end (exclusive)             4  base_addr (u64)
 *     8  string -> NUL-terminated       12  length (u64)
 *    12  reserved = 0                   20  type: 1 RAM, 2 reserved
 *
 * mmap_addr points at the first entry's size field (the spec draws it at
 * offset -4 of the entry); an entry's successor starts size + 4 bytes on.
 *
 * Where the boot data go: one block at the first 4 KiB boundary at or above
 * the kernel's last byte (bss included) holds, in this order, the info
 * structure (120 bytes of room), the module list, the memory map and the
 * strings (the kernel command line, each module's, the boot loader name,
 * each padded with NULs to a multiple of 4 bytes). The modules follow the
 * block in their given order, each at a 4 KiB boundary when header flag 0
 * asks and 4-byte aligned otherwise. Only RAM that `memory` describes as
 * available is used; when the rest of a RAM range is too small the next
 * range up is tried.
 *
 * Decisions where the spec leaves room:
 * - Header flag 2 (video mode) is refused. Bits 0-15 are requirements, and
 *   bit 2 requires video mode information in the info structure; the
 *   "recommended mode" latitude of spec 3.1.4 is about which mode, not
 *   whether to report one. This machine has no display adapter, so it
 *   cannot report a mode truthfully. Unknown bits 3-15 are refused too
 *   (spec 3.1.2); unknown bits 17-31 are ignored.
 * - Header flag 1 (memory information) is always satisfied: mem_lower,
 *   mem_upper and the memory map are always passed, asked or not (the
 *   information is advisory, spec 3.3).
 * - The kernel command line is always passed (possibly empty); the module
 *   fields are always valid (mods_count may be 0). Strings are UTF-8; a NUL
 *   inside one is a caller error (RangeError).
 * - An ELF is loaded at each PT_LOAD segment's p_paddr. e_entry is taken as
 *   virtual when it lies inside a segment's [p_vaddr, p_vaddr + p_memsz) and
 *   translated to that segment's physical address (paging is off at entry,
 *   so a higher-half kernel's virtual entry could not run); otherwise it
 *   must lie inside a segment's physical range. No ELF section headers are
 *   passed (flag 5 is optional).
 * - The entry point must lie inside what is loaded (file bytes or bss); the
 *   a.out kludge's entry_addr likewise.
 * - Loading below 1 MiB, even into page 0, is legal (the spec does not
 *   forbid it); what is refused is a range that is not wholly inside one
 *   available RAM range (lower RAM, upper RAM, minus `reserved`). A caller
 *   that wants page 0 or the BIOS data area kept free lists it as reserved.
 * - PT_LOAD segments that overlap in physical memory are refused.
 * - The memory map lists exactly what `memory` describes: the available
 *   pieces of lower and upper RAM as type 1 and every reserved range (as
 *   given, length 0 dropped) as type 2, sorted by base address.
 * - mod_end is exclusive (the first byte after the module).
 *
 * Errors: a MultibootError for everything wrong with the image or with
 * fitting it and its modules into RAM, naming the file and the byte offset
 * (in the kernel image, or in the module for module errors) where the
 * problem is; a RangeError for a malformed `memory` description or a NUL in
 * a string. Every check runs before the first write, so a failed load
 * writes nothing.
 */
import createDebug from 'debug';

const log = createDebug('vmmu:multiboot');

export interface MultibootModule {
  data: Uint8Array;
  cmdline: string;
}

/** Where the loader writes. It must copy the bytes before returning (the loader reuses buffers). */
export interface GuestPhysicalWriter {
  writePhysBytes(gpa: number, bytes: Uint8Array): void;
}

export interface MultibootLoadOptions {
  /** the kernel file */
  image: Uint8Array;
  /** for error messages */
  imageName: string;
  cmdline: string;
  modules: MultibootModule[];
  /**
   * RAM layout: lower memory [0, lowerBytes) with lowerBytes <= 640 KiB,
   * upper memory [1 MiB, 1 MiB + upperBytes) ending at or below 4 GiB, and
   * reserved ranges (holes, ROM, firmware tables) that are not RAM even where
   * they fall inside those two ranges.
   */
  memory: { lowerBytes: number; upperBytes: number; reserved: { base: number; length: number }[] };
  /** defaults to "vmmu" */
  bootloaderName?: string;
}

export interface MultibootBoot {
  /** EIP to start at (guest-physical) */
  entry: number;
  /** MB_BOOTLOADER_MAGIC */
  eax: number;
  /** guest-physical address of the Multiboot information structure */
  ebx: number;
  /** what was written, sorted by start; `end` is exclusive */
  loadedRanges: { start: number; end: number }[];
}

/** Something in the image (or a module) that cannot be booted. `offset` is a byte offset into `file`. */
export class MultibootError extends Error {
  override readonly name = 'MultibootError';
  constructor(readonly file: string, readonly offset: number, readonly problem: string) {
    super(`${file}, byte offset ${hex(offset)}: ${problem}`);
  }
}

/** The header's magic (spec 3.1.2). */
export const MB_HEADER_MAGIC = 0x1badb002;
/** What the loader leaves in EAX (spec 3.2). */
export const MB_BOOTLOADER_MAGIC = 0x2badb002;
/** The header lies wholly inside the image's first 8192 bytes, at a 32-bit aligned offset (spec 3.1.1). */
export const MB_HEADER_SEARCH_BYTES = 8192;

/** Header flags (spec 3.1.2). Bits 0-15 are requirements, bits 16-31 optional features. */
export const MB_HDR_PAGE_ALIGN = 1 << 0;
export const MB_HDR_MEMORY_INFO = 1 << 1;
export const MB_HDR_VIDEO_MODE = 1 << 2;
export const MB_HDR_AOUT_KLUDGE = 1 << 16;

/** Info structure flags (spec 3.3). */
export const MB_INFO_MEMORY = 1 << 0;
export const MB_INFO_BOOT_DEVICE = 1 << 1;
export const MB_INFO_CMDLINE = 1 << 2;
export const MB_INFO_MODS = 1 << 3;
export const MB_INFO_MMAP = 1 << 6;
export const MB_INFO_LOADER_NAME = 1 << 9;

/** Memory map entry types (spec 3.3). */
export const MB_MMAP_AVAILABLE = 1;
export const MB_MMAP_RESERVED = 2;

/** Bytes of the info structure as 0.6.96 defines it (through the framebuffer fields). */
export const MB_INFO_BYTES = 116;

const INFO_FLAGS = 0;
const INFO_MEM_LOWER = 4;
const INFO_MEM_UPPER = 8;
const INFO_CMDLINE = 16;
const INFO_MODS_COUNT = 20;
const INFO_MODS_ADDR = 24;
const INFO_MMAP_LENGTH = 44;
const INFO_MMAP_ADDR = 48;
const INFO_LOADER_NAME = 64;
/** the info structure's room in the boot block, rounded up to 4 bytes */
const INFO_ROOM = 120;
const MODULE_ENTRY_BYTES = 16;
const MMAP_ENTRY_BYTES = 24;
/** value of a memory map entry's size field: the bytes after it */
const MMAP_ENTRY_SIZE_FIELD = 20;

const ELF32_EHDR_BYTES = 52;
const ELF32_PHDR_BYTES = 32;
const ELFCLASS32 = 1;
const ELFDATA2LSB = 1;
const EV_CURRENT = 1;
const ET_EXEC = 2;
const EM_386 = 3;
const PT_LOAD = 1;

const PAGE_BYTES = 4096;
const LOWER_MEMORY_MAX = 640 * 1024;
const UPPER_MEMORY_BASE = 0x100000;
const FOUR_GIB = 0x1_0000_0000;
const DEFAULT_LOADER_NAME = 'vmmu';

interface Range {
  start: number;
  /** exclusive */
  end: number;
}

/** One piece of the kernel: file bytes copied to `gpa`, then zeros up to `memBytes`. */
interface KernelPiece {
  gpa: number;
  fileOffset: number;
  fileBytes: number;
  memBytes: number;
  /** for messages: "program header 1", "a.out kludge" */
  what: string;
  /** image offset of the field that placed it, for errors */
  where: number;
}

interface KernelPlan {
  pieces: KernelPiece[];
  entry: number;
}

interface Header {
  offset: number;
  flags: number;
}

interface MmapEntry {
  base: number;
  length: number;
  type: number;
}

/**
 * Loads a Multiboot kernel, its modules and the boot information into guest
 * memory through `mem`. Returns the entry point and the EAX/EBX values the
 * caller sets (see the file comment for the whole machine state). Throws
 * MultibootError (image or module problems, with file and byte offset) or
 * RangeError (malformed `memory`, NUL in a string) before writing anything.
 */
export function loadMultiboot(mem: GuestPhysicalWriter, o: MultibootLoadOptions): MultibootBoot {
  const image = o.image;
  const name = o.imageName;
  const ram = describeRam(o.memory);
  const header = findHeader(image, name);
  checkFlags(name, header);

  const kernel = (header.flags & MB_HDR_AOUT_KLUDGE) !== 0 ? planKludge(image, name, header) : planElf(image, name);
  checkPieces(name, kernel.pieces, ram.available);
  let kernelEnd = 0;
  for (const p of kernel.pieces) kernelEnd = Math.max(kernelEnd, p.gpa + p.memBytes);

  // Strings, then the block's size: info | module list | memory map | strings.
  const cmdline = encodeString(o.cmdline, 'kernel command line');
  const moduleStrings = o.modules.map((m, i) => encodeString(m.cmdline, `command line of module ${i}`));
  const loaderName = encodeString(o.bootloaderName ?? DEFAULT_LOADER_NAME, 'boot loader name');
  const modsOffset = INFO_ROOM;
  const mmapOffset = modsOffset + o.modules.length * MODULE_ENTRY_BYTES;
  const stringsOffset = mmapOffset + ram.mmap.length * MMAP_ENTRY_BYTES;
  let blockBytes = stringsOffset + cmdline.length;
  for (const s of moduleStrings) blockBytes += s.length;
  blockBytes += loaderName.length;

  const avail = new Placer(ram.available, kernelEnd);
  const blockGpa = avail.take(blockBytes, PAGE_BYTES);
  if (blockGpa < 0) {
    throw new MultibootError(name, header.offset,
      `no room for the ${blockBytes}-byte boot information block in RAM above the kernel's end ${hex(kernelEnd)} (RAM: ${rangesText(ram.available)})`);
  }
  const moduleAlign = (header.flags & MB_HDR_PAGE_ALIGN) !== 0 ? PAGE_BYTES : 4;
  const moduleGpa: number[] = [];
  o.modules.forEach((m, i) => {
    const gpa = avail.take(m.data.length, moduleAlign);
    if (gpa < 0) {
      throw new MultibootError(`module ${i} ${JSON.stringify(m.cmdline)}`, 0,
        `its ${m.data.length} bytes do not fit in RAM above ${hex(avail.cursor)} while booting ${name} (kernel ends at ${hex(kernelEnd)}; RAM: ${rangesText(ram.available)})`);
    }
    moduleGpa.push(gpa);
  });

  // The block, built in host memory and written once.
  const block = new Uint8Array(blockBytes);
  const dv = new DataView(block.buffer);
  let strAt = stringsOffset;
  const putString = (s: Uint8Array): number => {
    block.set(s, strAt);
    const gpa = blockGpa + strAt;
    strAt += s.length;
    return gpa;
  };
  const cmdlineGpa = putString(cmdline);
  o.modules.forEach((m, i) => {
    const e = modsOffset + i * MODULE_ENTRY_BYTES;
    dv.setUint32(e, moduleGpa[i]!, true);
    dv.setUint32(e + 4, moduleGpa[i]! + m.data.length, true);
    dv.setUint32(e + 8, putString(moduleStrings[i]!), true);
    dv.setUint32(e + 12, 0, true);
  });
  const loaderNameGpa = putString(loaderName);
  ram.mmap.forEach((m, i) => {
    const e = mmapOffset + i * MMAP_ENTRY_BYTES;
    dv.setUint32(e, MMAP_ENTRY_SIZE_FIELD, true);
    setU64(dv, e + 4, m.base);
    setU64(dv, e + 12, m.length);
    dv.setUint32(e + 20, m.type, true);
  });
  dv.setUint32(INFO_FLAGS, MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MODS | MB_INFO_MMAP | MB_INFO_LOADER_NAME, true);
  dv.setUint32(INFO_MEM_LOWER, ram.memLowerKiB, true);
  dv.setUint32(INFO_MEM_UPPER, ram.memUpperKiB, true);
  dv.setUint32(INFO_CMDLINE, cmdlineGpa, true);
  dv.setUint32(INFO_MODS_COUNT, o.modules.length, true);
  dv.setUint32(INFO_MODS_ADDR, o.modules.length > 0 ? blockGpa + modsOffset : 0, true);
  dv.setUint32(INFO_MMAP_LENGTH, ram.mmap.length * MMAP_ENTRY_BYTES, true);
  dv.setUint32(INFO_MMAP_ADDR, blockGpa + mmapOffset, true);
  dv.setUint32(INFO_LOADER_NAME, loaderNameGpa, true);

  // Every check has passed: write.
  const loaded: Range[] = [];
  for (const p of kernel.pieces) {
    if (p.fileBytes > 0) mem.writePhysBytes(p.gpa, image.subarray(p.fileOffset, p.fileOffset + p.fileBytes));
    writeZeros(mem, p.gpa + p.fileBytes, p.memBytes - p.fileBytes);
    loaded.push({ start: p.gpa, end: p.gpa + p.memBytes });
  }
  mem.writePhysBytes(blockGpa, block);
  loaded.push({ start: blockGpa, end: blockGpa + blockBytes });
  o.modules.forEach((m, i) => {
    if (m.data.length === 0) return;
    mem.writePhysBytes(moduleGpa[i]!, m.data);
    loaded.push({ start: moduleGpa[i]!, end: moduleGpa[i]! + m.data.length });
  });
  loaded.sort((a, b) => a.start - b.start);
  log('%s: entry %s, info %s, kernel %s, %d module(s)', name, hex(kernel.entry), hex(blockGpa),
    rangesText(kernel.pieces.map((p) => ({ start: p.gpa, end: p.gpa + p.memBytes }))), o.modules.length);
  return { entry: kernel.entry, eax: MB_BOOTLOADER_MAGIC, ebx: blockGpa, loadedRanges: loaded };
}

/**
 * The first 32-bit aligned header wholly inside the first 8192 bytes whose
 * checksum is right. A magic with a wrong checksum does not end the search
 * (the value can occur in code or data before the real header); if no
 * header is valid, the first such near-miss is reported.
 */
function findHeader(image: Uint8Array, name: string): Header {
  const limit = Math.min(image.length, MB_HEADER_SEARCH_BYTES);
  const dv = viewOf(image);
  let nearMiss = -1;
  for (let off = 0; off + 12 <= limit; off += 4) {
    if (dv.getUint32(off, true) !== MB_HEADER_MAGIC) continue;
    const flags = dv.getUint32(off + 4, true);
    if (((MB_HEADER_MAGIC + flags + dv.getUint32(off + 8, true)) >>> 0) === 0) return { offset: off, flags };
    if (nearMiss < 0) nearMiss = off;
  }
  if (nearMiss >= 0) {
    const flags = dv.getUint32(nearMiss + 4, true);
    const found = dv.getUint32(nearMiss + 8, true);
    const expected = (-(MB_HEADER_MAGIC + flags)) >>> 0;
    throw new MultibootError(name, nearMiss + 8,
      `bad Multiboot header checksum: expected ${hex8(expected)} (so that magic + flags + checksum is 0 mod 2^32), found ${hex8(found)}`);
  }
  throw new MultibootError(name, 0,
    `no Multiboot header: magic ${hex8(MB_HEADER_MAGIC)} is at no 32-bit aligned offset where a whole 12-byte header fits in the first ${MB_HEADER_SEARCH_BYTES} bytes (searched ${limit} bytes)`);
}

/** Refuses requirement bits (0-15) this loader cannot honour (spec 3.1.2). */
function checkFlags(name: string, h: Header): void {
  const required = h.flags & 0xffff;
  if ((required & MB_HDR_VIDEO_MODE) !== 0) {
    throw new MultibootError(name, h.offset + 4,
      `header flags ${hex8(h.flags)} require video mode information (bit 2), which this machine cannot give: it has no display adapter`);
  }
  const unknown = required & ~(MB_HDR_PAGE_ALIGN | MB_HDR_MEMORY_INFO);
  if (unknown !== 0) {
    const bits: number[] = [];
    for (let b = 0; b < 16; b++) if ((unknown & (1 << b)) !== 0) bits.push(b);
    throw new MultibootError(name, h.offset + 4,
      `header flags ${hex8(h.flags)} require feature bit(s) ${bits.join(', ')}, which this loader does not implement (the spec says to refuse the image)`);
  }
}

/** The a.out kludge (spec 3.1.3): one contiguous piece of the file, then bss. */
function planKludge(image: Uint8Array, name: string, h: Header): KernelPlan {
  const at = h.offset;
  const err = (off: number, what: string): MultibootError => new MultibootError(name, off, what);
  if (at + 32 > Math.min(image.length, MB_HEADER_SEARCH_BYTES)) {
    throw err(at + 12, `the header sets flag 16 (address fields) but its 32 bytes do not fit in the ${image.length < MB_HEADER_SEARCH_BYTES ? 'file' : `first ${MB_HEADER_SEARCH_BYTES} bytes`}`);
  }
  const dv = viewOf(image);
  const headerAddr = dv.getUint32(at + 12, true);
  const loadAddr = dv.getUint32(at + 16, true);
  const loadEndAddr = dv.getUint32(at + 20, true);
  const bssEndAddr = dv.getUint32(at + 24, true);
  const entryAddr = dv.getUint32(at + 28, true);
  if (loadAddr > headerAddr) {
    throw err(at + 16, `load_addr ${hex(loadAddr)} is above header_addr ${hex(headerAddr)}; the spec requires load_addr <= header_addr`);
  }
  const delta = headerAddr - loadAddr;
  if (delta > at) {
    throw err(at + 12, `header_addr - load_addr = ${hex(delta)}, but the header is only ${hex(at)} bytes into the file, so loading would start before the file`);
  }
  const fileOffset = at - delta;
  let fileBytes: number;
  if (loadEndAddr === 0) {
    fileBytes = image.length - fileOffset;
  } else {
    if (loadEndAddr < loadAddr) throw err(at + 20, `load_end_addr ${hex(loadEndAddr)} is below load_addr ${hex(loadAddr)}`);
    fileBytes = loadEndAddr - loadAddr;
    if (fileOffset + fileBytes > image.length) {
      throw err(at + 20, `load_end_addr ${hex(loadEndAddr)} asks for ${hex(fileBytes)} bytes from file offset ${hex(fileOffset)}, past the end of the file at ${hex(image.length)}`);
    }
  }
  const loadEnd = loadAddr + fileBytes;
  let memEnd = loadEnd;
  if (bssEndAddr !== 0) {
    if (bssEndAddr < loadEnd) throw err(at + 24, `bss_end_addr ${hex(bssEndAddr)} is below the end of the loaded bytes ${hex(loadEnd)}`);
    memEnd = bssEndAddr;
  }
  if (memEnd > FOUR_GIB) throw err(at + 20, `the loaded bytes ${hex(loadAddr)}..${hex(memEnd - 1)} run past 4 GiB`);
  if (entryAddr < loadAddr || entryAddr >= memEnd) {
    throw err(at + 28, `entry_addr ${hex(entryAddr)} is outside the loaded image ${hex(loadAddr)}..${hex(memEnd - 1)}`);
  }
  return {
    pieces: [{ gpa: loadAddr, fileOffset, fileBytes, memBytes: memEnd - loadAddr, what: 'the a.out kludge image', where: at + 16 }],
    entry: entryAddr,
  };
}

/** An ELF32 little-endian i386 executable: its PT_LOAD segments at p_paddr. */
function planElf(image: Uint8Array, name: string): KernelPlan {
  const err = (off: number, what: string): MultibootError => new MultibootError(name, off, what);
  if (image.length < 4 || image[0] !== 0x7f || image[1] !== 0x45 || image[2] !== 0x4c || image[3] !== 0x46) {
    throw err(0, 'not an ELF file (no \\x7fELF here), and the Multiboot header does not set flag 16 (a.out kludge) to say where to load it');
  }
  if (image.length < ELF32_EHDR_BYTES) throw err(image.length, `the file ends inside the ${ELF32_EHDR_BYTES}-byte ELF32 header`);
  if (image[4] !== ELFCLASS32) throw err(4, `ELF class ${image[4]}${image[4] === 2 ? ' (64-bit)' : ''}: Multiboot loads 32-bit ELF (class 1) only`);
  if (image[5] !== ELFDATA2LSB) throw err(5, `ELF data encoding ${image[5]}${image[5] === 2 ? ' (big-endian)' : ''}: x86 needs little-endian (1)`);
  if (image[6] !== EV_CURRENT) throw err(6, `ELF version ${image[6]}, not 1`);
  const dv = viewOf(image);
  const type = dv.getUint16(16, true);
  if (type !== ET_EXEC) throw err(16, `ELF type ${type}${type === 3 ? ' (shared object / PIE)' : type === 1 ? ' (relocatable)' : ''} is not an executable (ET_EXEC, 2)`);
  const machine = dv.getUint16(18, true);
  if (machine !== EM_386) throw err(18, `ELF machine ${machine}${machine === 62 ? ' (x86-64)' : ''} is not i386 (3)`);
  const entry = dv.getUint32(24, true);
  const phoff = dv.getUint32(28, true);
  const phentsize = dv.getUint16(42, true);
  const phnum = dv.getUint16(44, true);
  if (phnum === 0) throw err(44, 'the ELF file has no program headers, so nothing to load');
  if (phentsize < ELF32_PHDR_BYTES) throw err(42, `program header size ${phentsize} is smaller than an ELF32 program header (${ELF32_PHDR_BYTES})`);
  if (phoff + phnum * phentsize > image.length) {
    throw err(image.length, `the file ends here, inside the program header table (${phnum} entries of ${phentsize} bytes at ${hex(phoff)})`);
  }

  const pieces: KernelPiece[] = [];
  const vaddrs: number[] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (dv.getUint32(ph, true) !== PT_LOAD) continue;
    const offset = dv.getUint32(ph + 4, true);
    const vaddr = dv.getUint32(ph + 8, true);
    const paddr = dv.getUint32(ph + 12, true);
    const filesz = dv.getUint32(ph + 16, true);
    const memsz = dv.getUint32(ph + 20, true);
    if (memsz === 0) continue;
    if (filesz > memsz) throw err(ph + 16, `program header ${i}: p_filesz ${hex(filesz)} is larger than p_memsz ${hex(memsz)}`);
    if (offset + filesz > image.length) {
      throw err(image.length, `the file ends here, but program header ${i} (at ${hex(ph)}) needs bytes ${hex(offset)}..${hex(offset + filesz - 1)}`);
    }
    if (paddr + memsz > FOUR_GIB) throw err(ph + 12, `program header ${i}: ${hex(memsz)} bytes at p_paddr ${hex(paddr)} run past 4 GiB`);
    pieces.push({ gpa: paddr, fileOffset: offset, fileBytes: filesz, memBytes: memsz, what: `program header ${i} (PT_LOAD)`, where: ph + 12 });
    vaddrs.push(vaddr);
  }
  if (pieces.length === 0) throw err(phoff, 'the ELF file has no PT_LOAD segment with bytes to load');

  // e_entry is virtual; paging is off at entry, so translate through the segment that holds it.
  let entryPhys = -1;
  for (let k = 0; k < pieces.length && entryPhys < 0; k++) {
    const p = pieces[k]!;
    if (entry >= vaddrs[k]! && entry - vaddrs[k]! < p.memBytes) entryPhys = p.gpa + (entry - vaddrs[k]!);
  }
  for (let k = 0; k < pieces.length && entryPhys < 0; k++) {
    const p = pieces[k]!;
    if (entry >= p.gpa && entry - p.gpa < p.memBytes) entryPhys = entry;
  }
  if (entryPhys < 0) throw err(24, `e_entry ${hex(entry)} is inside no PT_LOAD segment, virtually or physically`);
  return { pieces, entry: entryPhys };
}

/** Every piece inside one available RAM range, and no two overlapping. */
function checkPieces(name: string, pieces: KernelPiece[], available: Range[]): void {
  for (const p of pieces) {
    const end = p.gpa + p.memBytes;
    if (!available.some((r) => r.start <= p.gpa && end <= r.end)) {
      throw new MultibootError(name, p.where,
        `${p.what} needs guest-physical ${hex(p.gpa)}..${hex(end - 1)}, which is not inside one range of available RAM (${rangesText(available)})`);
    }
  }
  const sorted = [...pieces].sort((a, b) => a.gpa - b.gpa);
  for (let k = 1; k < sorted.length; k++) {
    const prev = sorted[k - 1]!;
    const cur = sorted[k]!;
    if (cur.gpa < prev.gpa + prev.memBytes) {
      const later = cur.where > prev.where ? cur : prev;
      throw new MultibootError(name, later.where,
        `${cur.what} at ${hex(cur.gpa)} overlaps ${prev.what}, which covers ${hex(prev.gpa)}..${hex(prev.gpa + prev.memBytes - 1)}`);
    }
  }
}

/**
 * Available RAM (lower and upper memory minus the reserved ranges), the
 * memory map, mem_lower and mem_upper. Throws RangeError for a malformed
 * description.
 */
function describeRam(m: MultibootLoadOptions['memory']): { available: Range[]; mmap: MmapEntry[]; memLowerKiB: number; memUpperKiB: number } {
  if (!Number.isInteger(m.lowerBytes) || m.lowerBytes < 0 || m.lowerBytes > LOWER_MEMORY_MAX) {
    throw new RangeError(`lower memory ${m.lowerBytes} bytes: must be an integer from 0 to ${LOWER_MEMORY_MAX} (640 KiB)`);
  }
  if (!Number.isInteger(m.upperBytes) || m.upperBytes < 0 || UPPER_MEMORY_BASE + m.upperBytes > FOUR_GIB) {
    throw new RangeError(`upper memory ${m.upperBytes} bytes: must be an integer >= 0 ending at or below 4 GiB (at most ${FOUR_GIB - UPPER_MEMORY_BASE})`);
  }
  for (const r of m.reserved) {
    if (!Number.isSafeInteger(r.base) || !Number.isSafeInteger(r.length) || r.base < 0 || r.length < 0 || !Number.isSafeInteger(r.base + r.length)) {
      throw new RangeError(`reserved range base ${r.base} length ${r.length}: base and length must be non-negative integers`);
    }
  }
  const reserved = m.reserved.filter((r) => r.length > 0);
  let available: Range[] = [];
  if (m.lowerBytes > 0) available.push({ start: 0, end: m.lowerBytes });
  if (m.upperBytes > 0) available.push({ start: UPPER_MEMORY_BASE, end: UPPER_MEMORY_BASE + m.upperBytes });
  for (const r of reserved) available = subtract(available, r.base, r.base + r.length);

  const mmap: MmapEntry[] = [
    ...available.map((a) => ({ base: a.start, length: a.end - a.start, type: MB_MMAP_AVAILABLE })),
    ...reserved.map((r) => ({ base: r.base, length: r.length, type: MB_MMAP_RESERVED })),
  ].sort((a, b) => a.base - b.base || a.type - b.type);

  const low = available.find((a) => a.start === 0);
  const high = available.find((a) => a.start === UPPER_MEMORY_BASE);
  return {
    available,
    mmap,
    memLowerKiB: low ? Math.floor(low.end / 1024) : 0,
    memUpperKiB: high ? Math.floor((high.end - UPPER_MEMORY_BASE) / 1024) : 0,
  };
}

function subtract(ranges: Range[], start: number, end: number): Range[] {
  const out: Range[] = [];
  for (const r of ranges) {
    if (end <= r.start || start >= r.end) {
      out.push(r);
      continue;
    }
    if (r.start < start) out.push({ start: r.start, end: start });
    if (end < r.end) out.push({ start: end, end: r.end });
  }
  return out;
}

/** Hands out aligned pieces of the available ranges, in address order, never below the cursor. */
class Placer {
  cursor: number;
  constructor(private readonly available: Range[], from: number) {
    this.cursor = from;
  }

  /** Returns the gpa of `bytes` bytes aligned to `align`, or -1 when no range above the cursor has room. */
  take(bytes: number, align: number): number {
    for (const r of this.available) {
      const start = alignUp(Math.max(r.start, this.cursor), align);
      if (start + bytes <= r.end) {
        this.cursor = start + bytes;
        return start;
      }
    }
    return -1;
  }
}

const ZEROS = new Uint8Array(64 * 1024);

function writeZeros(mem: GuestPhysicalWriter, gpa: number, bytes: number): void {
  for (let done = 0; done < bytes; done += ZEROS.length) {
    const n = Math.min(ZEROS.length, bytes - done);
    mem.writePhysBytes(gpa + done, n === ZEROS.length ? ZEROS : ZEROS.subarray(0, n));
  }
}

const utf8 = new TextEncoder();

/** `s` as UTF-8 plus a NUL, padded with NULs to a multiple of 4 bytes. */
function encodeString(s: string, what: string): Uint8Array {
  const nul = s.indexOf('\0');
  if (nul >= 0) throw new RangeError(`${what} contains a NUL character at index ${nul}; Multiboot strings end at the first NUL`);
  const body = utf8.encode(s);
  const out = new Uint8Array(alignUp(body.length + 1, 4));
  out.set(body);
  return out;
}

function setU64(dv: DataView, off: number, v: number): void {
  dv.setUint32(off, v % FOUR_GIB, true);
  dv.setUint32(off + 4, Math.floor(v / FOUR_GIB), true);
}

function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function alignUp(v: number, align: number): number {
  return Math.ceil(v / align) * align;
}

function hex(v: number): string {
  return `0x${v.toString(16)}`;
}

function hex8(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

function rangesText(ranges: Range[]): string {
  return ranges.length === 0 ? 'none' : ranges.map((r) => `${hex(r.start)}..${hex(r.end - 1)}`).join(', ');
}
