/**
 * Linux/x86 boot protocol loader (the kernel's Documentation/arch/x86/
 * boot.rst, "boot.rst" below, and zero-page.rst): checks a bzImage's setup
 * header, puts the protected-mode kernel at 1 MiB, and builds what the
 * 32-bit boot protocol hands the kernel: the zero page (struct boot_params),
 * the command line, an initrd, and a GDT. The kernel's real-mode setup code
 * is neither loaded nor run. It knows nothing of the CPU: it only writes
 * guest-physical bytes and says what the registers must hold.
 *
 * What the caller must set before the kernel's first instruction (boot.rst
 * "32-bit Boot Protocol"):
 *
 *   GDTR    base `gdtBase`, limit `gdtLimit`: a GDT whose selector 0x10
 *           (__BOOT_CS) is flat 4 GiB execute/read code and 0x18
 *           (__BOOT_DS) flat 4 GiB read/write data
 *   CS      __BOOT_CS = LINUX_BOOT_CS (0x10), loaded from that GDT
 *   DS ES SS
 *           __BOOT_DS = LINUX_BOOT_DS (0x18); FS and GS are not named by the
 *           protocol (the kernel loads them itself); 0x18 is a safe choice
 *   EIP     `entry` (the load address, which is also code32_start)
 *   ESI     `bootParams`, the zero page's guest-physical address
 *   EBP EDI EBX
 *           0
 *   CR0     PE (bit 0) set, PG (bit 31) clear: 32-bit protected mode,
 *           paging off
 *   EFLAGS  IF (bit 9) clear: interrupts disabled
 *
 * Nothing else is promised: ESP need not point anywhere (the decompressor
 * uses boot_params' scratch field as its first stack, which is why the zero
 * page must be writable RAM), IDTR need not be valid (interrupts stay off
 * until the kernel has its own IDT). A20 must be enabled (the kernel runs at
 * and above 1 MiB).
 *
 * Guest-physical layout (addresses are examples for the usual PC map, RAM at
 * 0..0x9FC00 and from 1 MiB):
 *
 *   B = the lowest 4 KiB boundary at or above 0x10000 where the whole boot
 *       block fits in usable RAM below 0xA0000 (normally 0x10000):
 *     B + 0x0000  boot_params, 4096 bytes (the zero page)
 *     B + 0x1000  GDT, 4 descriptors (32 bytes)
 *     B + 0x1020  command line, NUL-terminated
 *   0x100000      protected-mode kernel: the file from (setup_sects+1)*512
 *                 to its end
 *   the highest 4 KiB boundary at or above 1 MiB from which the initrd ends
 *   at or below min(initrd_addr_max + 1, ramTop) in usable RAM, clear of
 *   the kernel's windows (see below):
 *                 initrd
 *
 * GDT (8 bytes per descriptor, little-endian; Intel SDM vol. 3A 3.4.5):
 *
 *   selector  bytes                     meaning
 *   0x00      00 00 00 00 00 00 00 00   null
 *   0x08      00 00 00 00 00 00 00 00   unused (null)
 *   0x10      FF FF 00 00 00 9B CF 00   base 0, limit 0xFFFFF pages (4 GiB),
 *                                       P=1 DPL=0 S=1 type 0xB (code,
 *                                       execute/read, accessed), G=1 D=1
 *   0x18      FF FF 00 00 00 93 CF 00   the same as data: type 0x3
 *                                       (read/write, accessed)
 *
 * The accessed bits are preset so that loading a selector never makes the
 * CPU write the descriptor back (SDM 3.4.5.1); the kernel loads its own GDT
 * early, so this one is needed only until then.
 *
 * boot_params as written here (offsets into the zero page; zero-page.rst
 * for 0x000-0x1F0 and 0x290 on, the setup header for 0x1F1-0x28F; "-" =
 * left zero):
 *
 *   0x000  screen_info (64 bytes)  -  no video: see below
 *   0x1E0  alt_mem_k (u32)         KiB of usable RAM from 1 MiB up to the
 *                                  first hole (the kernel's fallback when the
 *                                  e820 table is refused)
 *   0x1E8  e820_entries (u8)       number of entries in e820_table
 *   0x1EF  sentinel (u8)           -  (only the header from 0x1F1 is copied,
 *                                  so the kernel trusts the other fields)
 *   0x1F1  setup header            copied from the file, 0x1F1 up to
 *                                  0x202 + the byte at 0x201, then:
 *   0x1FA    vid_mode (u16)        0xFFFF, "normal"
 *   0x210    type_of_loader (u8)   0xFF, undefined (no assigned id)
 *   0x211    loadflags (u8)        the file's, with CAN_USE_HEAP (bit 7) set
 *                                  and QUIET_FLAG (bit 5), KEEP_SEGMENTS
 *                                  (bit 6) clear
 *   0x214    code32_start (u32)    the load address
 *   0x218    ramdisk_image (u32)   initrd address, 0 when there is none
 *   0x21C    ramdisk_size (u32)    initrd bytes, 0 when there is none
 *   0x224    heap_end_ptr (u16)    0xDE00
 *   0x228    cmd_line_ptr (u32)    -> the command line
 *   0x250    setup_data (u64)      0 (2.09+: no setup_data list)
 *   0x2D0  e820_table              20 bytes per entry: addr (u64), size
 *                                  (u64), type (u32); at most 128 entries
 *
 * Decisions where the protocol leaves room:
 * - Protocol 2.04 or later is required, the first version whose syssize is
 *   four bytes wide; the 32-bit protocol itself needs nothing newer. The header must reach at least the
 *   end of the last field of its version that this loader reads or writes
 *   (initrd_addr_max for 2.04 ... init_size for 2.10+), and must end inside
 *   boot_params' room for it (at or below 0x290).
 * - The kernel is loaded at 0x100000 (boot.rst "Loading The Rest of The
 *   Kernel": a LOADED_HIGH kernel goes there). Only when 1 MiB does not
 *   suit, meaning that its file bytes at 0x100000, or the init_size bytes
 *   from its runtime start (boot.rst, init_size), are not inside one range
 *   of usable RAM, and the kernel is relocatable (relocatable_kernel != 0)
 *   with a nonzero pref_address (2.10+), is it loaded at pref_address
 *   instead, with the same test; code32_start is then rewritten to point at
 *   it, as relocatable_kernel asks. A file whose code32_start is not
 *   0x100000 is refused: for a bzImage that field says where the kernel
 *   belongs, and any other value means a hook this loader cannot honour.
 * - The whole rest of the file after the setup sectors is loaded, not just
 *   syssize * 16 bytes. A file that ends before syssize * 16 bytes (or
 *   payload_offset + payload_length, 2.08+) is still booted, as GRUB and
 *   QEMU boot it (they read neither field): build tools round syssize up
 *   to a whole 16-byte paragraph, so a sound image may end a few bytes
 *   short of it. The missing tail reads as zeros: it is kept free of the
 *   initrd and the boot block, and DEBUG=vmmu:linux says how many bytes
 *   it is. Only a file that ends inside its setup sectors is refused.
 * - Usable RAM is every e820 type 1 range minus every range of another type
 *   (overlaps in the map are resolved in favour of "not RAM"). The kernel's
 *   file bytes, its runtime window [runtime start, + init_size), and, for a
 *   relocatable kernel, [pref_address, + init_size) (where current
 *   decompressors move a kernel loaded lower) are kept free of the initrd
 *   and the boot block.
 * - The real-mode setup code never runs, so nothing reads the real-mode
 *   fields; they are still written as the 16-bit protocol asks of every
 *   loader: CAN_USE_HEAP with heap_end_ptr 0xDE00 (a heap ending at 0xE000
 *   of the real-mode segment, boot.rst "Sample Boot Configuration") and
 *   vid_mode 0xFFFF. A vga= option on the command line has no effect.
 * - screen_info is left all zero: orig_video_isVGA = 0 (no adapter type),
 *   orig_video_mode = 0, orig_video_cols = orig_video_lines = 0. With zero
 *   columns or lines the decompressor does not write to VGA text memory
 *   and the kernel's VGA console declines the screen (it treats zeros as
 *   "screen_info not initialized" and falls back to the dummy console), so
 *   console output goes only where the command line sends it (console=ttyS0).
 *   This machine has no display adapter.
 * - The command line is placed in low memory (below 0xA0000, boot.rst "The
 *   Kernel Command Line") right after the GDT; its UTF-8 bytes may number
 *   at most cmdline_size (2.06+; 255 before). A NUL inside it is a caller
 *   error (RangeError). The kernel always gets a command line, possibly
 *   empty.
 * - The initrd is placed as high as possible: its start is the highest
 *   4 KiB boundary from which it ends at or below initrd_addr_max (the
 *   highest byte it may occupy) and below ramTop, inside one range of usable
 *   RAM at or above 1 MiB (never in low memory, which the kernel partly
 *   reserves for itself), clear of the kernel's windows. An initrd of 0
 *   bytes is the same as none.
 * - The e820 table is the caller's map with length-0 entries dropped,
 *   sorted by base address (ties keep their order); at most 128 entries fit
 *   in the zero page (more would need setup_data, which is not written).
 *
 * Errors: a LinuxBootError for everything wrong with the kernel or initrd
 * or with fitting them into RAM, naming the file and the byte offset (in
 * the kernel file: the header field concerned, or the end of a truncated
 * file; in the initrd: 0); a RangeError for a malformed e820 map or ramTop
 * or a NUL in the command line. Every check runs before the first write,
 * so a failed load writes nothing.
 */
import createDebug from 'debug';
import type { GuestPhysicalWriter } from './multiboot.js';

export type { GuestPhysicalWriter } from './multiboot.js';

const log = createDebug('vmmu:linux');

export interface E820Entry {
  base: number;
  length: number;
  /** 1 RAM, 2 reserved, 3 ACPI reclaimable, 4 ACPI NVS */
  type: 1 | 2 | 3 | 4;
}

export interface LinuxLoadOptions {
  /** a bzImage */
  kernel: Uint8Array;
  /** for error messages */
  kernelName: string;
  initrd?: Uint8Array;
  /** for error messages; defaults to "initrd" */
  initrdName?: string;
  cmdline: string;
  /** guest RAM: the e820 map to hand the kernel: usable RAM ranges and reserved ones */
  e820: E820Entry[];
  /**
   * Top of guest RAM below 4 GiB usable for the initrd: the first address
   * above it (exclusive), so the initrd's last byte is below `ramTop`.
   */
  ramTop: number;
}

export interface LinuxBoot {
  /** the 32-bit entry point (code32_start, normally 0x100000) */
  entry: number;
  /** ESI at entry: guest-physical address of boot_params */
  bootParams: number;
  /** where the loader put a GDT with __BOOT_CS = 0x10 (flat 4 GiB code) and __BOOT_DS = 0x18 (flat data), for the caller to load into GDTR */
  gdtBase: number;
  gdtLimit: number;
  /** what was written, sorted by start; `end` is exclusive */
  loaded: { what: string; start: number; end: number }[];
}

/** The setup header's fields this loader uses, as found in the file. */
export interface LinuxSetupHeader {
  /** protocol version, (major << 8) | minor */
  version: number;
  /** setup_sects with 0 read as 4 */
  setupSects: number;
  /** file offset of the protected-mode kernel: (setupSects + 1) * 512 */
  kernelOffset: number;
  /** bytes of the file from kernelOffset on */
  kernelBytes: number;
  /** the first byte after the setup header: 0x202 + the byte at 0x201 */
  headerEnd: number;
  /** protected-mode code size in bytes (syssize * 16) */
  syssizeBytes: number;
  /**
   * Bytes that syssize or the payload fields place past the end of the file
   * (0 when the file holds them all): loaded as zeros (guest RAM starts
   * zeroed, and nothing else is placed there), as GRUB and QEMU load them.
   */
  missingBytes: number;
  loadflags: number;
  code32Start: number;
  /** highest byte the initrd may occupy */
  initrdAddrMax: number;
  /** 0 before 2.05 */
  kernelAlignment: number;
  /** false before 2.05 */
  relocatable: boolean;
  /** 0 before 2.10 */
  minAlignment: number;
  /** 0 before 2.12 */
  xloadflags: number;
  /** most command line bytes, NUL not counted (255 before 2.06) */
  cmdlineSize: number;
  /** 0 before 2.08 */
  payloadOffset: number;
  payloadLength: number;
  /** 0 before 2.10 */
  prefAddress: number;
  /** 0 before 2.10 */
  initSize: number;
  /** the string kernel_version points at, "" when it points nowhere */
  kernelVersion: string;
}

/** Something in the kernel or initrd that cannot be booted. `offset` is a byte offset into `file`. */
export class LinuxBootError extends Error {
  override readonly name = 'LinuxBootError';
  constructor(readonly file: string, readonly offset: number, readonly problem: string) {
    super(`${file}, byte offset ${hex(offset)}: ${problem}`);
  }
}

/** Selectors the 32-bit boot protocol requires in the GDT (boot.rst "32-bit Boot Protocol"). */
export const LINUX_BOOT_CS = 0x10;
export const LINUX_BOOT_DS = 0x18;

/** boot_flag (at 0x1FE) and the "HdrS" magic (at 0x202) of every bzImage (boot.rst, the header table). */
export const LINUX_BOOT_FLAG = 0xaa55;
export const LINUX_HDRS_MAGIC = 0x53726448;
/** The oldest protocol accepted: 2.04, whose syssize is 32 bits wide. */
export const LINUX_MIN_PROTOCOL = 0x0204;
/** Where a LOADED_HIGH (bzImage) kernel goes. */
export const LINUX_KERNEL_GPA = 0x100000;

/** loadflags bits (boot.rst, loadflags). */
export const LOADFLAG_LOADED_HIGH = 1 << 0;
export const LOADFLAG_QUIET = 1 << 5;
export const LOADFLAG_KEEP_SEGMENTS = 1 << 6;
export const LOADFLAG_CAN_USE_HEAP = 1 << 7;

/** type_of_loader for a loader without an assigned id. */
export const LINUX_LOADER_UNDEFINED = 0xff;

/** Setup header field offsets, the same in the file and in boot_params (boot.rst, the header table). */
const HDR_START = 0x1f1;
const SETUP_SECTS = 0x1f1;
const SYSSIZE = 0x1f4;
const VID_MODE = 0x1fa;
const BOOT_FLAG = 0x1fe;
const JUMP = 0x200;
const HEADER = 0x202;
const VERSION = 0x206;
const KERNEL_VERSION = 0x20e;
const TYPE_OF_LOADER = 0x210;
const LOADFLAGS = 0x211;
const CODE32_START = 0x214;
const RAMDISK_IMAGE = 0x218;
const RAMDISK_SIZE = 0x21c;
const HEAP_END_PTR = 0x224;
const CMD_LINE_PTR = 0x228;
const INITRD_ADDR_MAX = 0x22c;
const KERNEL_ALIGNMENT = 0x230;
const RELOCATABLE_KERNEL = 0x234;
const MIN_ALIGNMENT = 0x235;
const XLOADFLAGS = 0x236;
const CMDLINE_SIZE = 0x238;
const PAYLOAD_OFFSET = 0x248;
const PAYLOAD_LENGTH = 0x24c;
const SETUP_DATA = 0x250;
const PREF_ADDRESS = 0x258;
const INIT_SIZE = 0x260;
/** boot_params.edd_mbr_sig_buffer: the setup header must end at or before it */
const HDR_ROOM_END = 0x290;

/** boot_params fields outside the setup header (zero-page.rst). */
const BP_ALT_MEM_K = 0x1e0;
const BP_E820_ENTRIES = 0x1e8;
const BP_E820_TABLE = 0x2d0;
const BP_BYTES = 4096;
const E820_ENTRY_BYTES = 20;
/** 0xA00 bytes of e820_table / 20 */
export const E820_MAX_ZEROPAGE_ENTRIES = 128;

/**
 * The end of the last header field of each protocol version that this
 * loader reads or writes; a header shorter than its version's is refused.
 */
const REQUIRED_HEADER_END: [version: number, end: number][] = [
  [0x020a, INIT_SIZE + 4],
  [0x0209, SETUP_DATA + 8],
  [0x0208, PAYLOAD_LENGTH + 4],
  [0x0206, CMDLINE_SIZE + 4],
  [0x0205, RELOCATABLE_KERNEL + 1],
  [0x0204, INITRD_ADDR_MAX + 4],
];

const SECTOR_BYTES = 512;
/** the command line limit before cmdline_size existed (boot.rst, cmdline_size) */
const CMDLINE_SIZE_BEFORE_206 = 255;
const VID_MODE_NORMAL = 0xffff;
/** heap end 0xE000 in the real-mode segment, minus 0x200 (boot.rst "Sample Boot Configuration") */
const HEAP_END_PTR_VALUE = 0xe000 - 0x200;

const PAGE_BYTES = 4096;
const FOUR_GIB = 0x1_0000_0000;
/** The boot block stays in [BOOT_BLOCK_MIN, LOW_MEMORY_END): above the BIOS data area and boot loader area, below the VGA hole. */
const BOOT_BLOCK_MIN = 0x10000;
const LOW_MEMORY_END = 0xa0000;
const GDT_OFFSET = 0x1000;
const GDT_ENTRIES = 4;
const GDT_BYTES = GDT_ENTRIES * 8;
const CMDLINE_OFFSET = GDT_OFFSET + GDT_BYTES;
const DEFAULT_INITRD_NAME = 'initrd';

/** Flat 4 GiB code (execute/read, accessed) and data (read/write, accessed) descriptors, G=1 D/B=1 DPL 0. */
const GDT_CODE_FLAT = [0xff, 0xff, 0x00, 0x00, 0x00, 0x9b, 0xcf, 0x00];
const GDT_DATA_FLAT = [0xff, 0xff, 0x00, 0x00, 0x00, 0x93, 0xcf, 0x00];

interface Range {
  start: number;
  /** exclusive */
  end: number;
}

/**
 * Reads and checks the setup header of a bzImage (boot.rst "The Real-Mode
 * Kernel Header", "Details of Header Fields"). Returns the fields this
 * loader uses. Throws LinuxBootError naming `name` and the offending offset:
 * no boot flag or "HdrS" magic, a protocol older than 2.04, a header too
 * short for its version, a kernel not LOADED_HIGH, code32_start other than
 * 1 MiB, or a file that ends before its setup sectors do. A file shorter
 * than syssize or the payload fields say is accepted, as GRUB and QEMU
 * accept it (missingBytes). Writes nothing.
 */
export function parseSetupHeader(file: Uint8Array, name: string): LinuxSetupHeader {
  const err = (off: number, what: string): LinuxBootError => new LinuxBootError(name, off, what);
  const need = (bytes: number, what: string): void => {
    if (file.length < bytes) throw err(file.length, `the file ends here, before ${what}: too short for a bzImage`);
  };
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);

  need(BOOT_FLAG + 2, `the boot flag at ${hex(BOOT_FLAG)}`);
  const bootFlag = dv.getUint16(BOOT_FLAG, true);
  if (bootFlag !== LINUX_BOOT_FLAG) {
    throw err(BOOT_FLAG, `not a bzImage: boot flag ${hex4(bootFlag)}, expected ${hex4(LINUX_BOOT_FLAG)}`);
  }
  need(HEADER + 4, `the "HdrS" magic at ${hex(HEADER)}`);
  const magic = dv.getUint32(HEADER, true);
  if (magic !== LINUX_HDRS_MAGIC) {
    throw err(HEADER, `not a bzImage: no "HdrS" magic (found ${hex8(magic)}); a kernel without it uses the old zImage protocol, which this loader does not implement`);
  }
  need(VERSION + 2, `the protocol version at ${hex(VERSION)}`);
  const version = dv.getUint16(VERSION, true);
  if (version < LINUX_MIN_PROTOCOL) {
    throw err(VERSION, `boot protocol ${versionText(version)} is too old: this loader needs ${versionText(LINUX_MIN_PROTOCOL)} or later (32-bit syssize)`);
  }
  const headerEnd = HEADER + file[JUMP + 1]!;
  const required = REQUIRED_HEADER_END.find(([v]) => version >= v)![1];
  if (headerEnd < required) {
    throw err(JUMP + 1, `the jump at ${hex(JUMP)} says the setup header ends at ${hex(headerEnd)}, but protocol ${versionText(version)} defines fields up to ${hex(required)}`);
  }
  if (headerEnd > HDR_ROOM_END) {
    throw err(JUMP + 1, `the jump at ${hex(JUMP)} says the setup header ends at ${hex(headerEnd)}, past boot_params' room for it (which ends at ${hex(HDR_ROOM_END)})`);
  }
  need(headerEnd, `the end of the setup header at ${hex(headerEnd)}`);
  const loadflags = file[LOADFLAGS]!;
  if ((loadflags & LOADFLAG_LOADED_HIGH) === 0) {
    throw err(LOADFLAGS, `loadflags ${hex(loadflags)} lack LOADED_HIGH (bit 0): a zImage loaded at 0x10000, which this loader does not implement`);
  }

  const setupSects = file[SETUP_SECTS]! === 0 ? 4 : file[SETUP_SECTS]!;
  const kernelOffset = (setupSects + 1) * SECTOR_BYTES;
  if (file.length <= kernelOffset) {
    throw err(file.length, `the file ends here, but setup_sects (at ${hex(SETUP_SECTS)}) puts the protected-mode kernel at ${hex(kernelOffset)}`);
  }
  const kernelBytes = file.length - kernelOffset;
  const syssizeBytes = dv.getUint32(SYSSIZE, true) * 16;
  let missingBytes = 0;
  if (syssizeBytes > kernelBytes) {
    missingBytes = syssizeBytes - kernelBytes;
    log('%s: syssize (at %s) says the protected-mode kernel is %s bytes, the file holds %s after the setup sectors: the %d bytes after its end (at file offset %s) are loaded as zeros%s',
      name, hex(SYSSIZE), hex(syssizeBytes), hex(kernelBytes), missingBytes, hex(file.length),
      missingBytes < 16 ? ' (syssize counts whole 16-byte paragraphs)' : '; if the kernel fails to decompress, the file may be truncated');
  }
  const code32Start = dv.getUint32(CODE32_START, true);
  if (code32Start !== LINUX_KERNEL_GPA) {
    throw err(CODE32_START, `code32_start is ${hex(code32Start)}, not ${hex(LINUX_KERNEL_GPA)}: a bzImage is loaded at 1 MiB, and a boot loader hook cannot be honoured`);
  }
  const at = (v: number, off: number, bytes: 1 | 2 | 4 | 8): number => {
    if (version < v) return 0;
    if (bytes === 1) return file[off]!;
    if (bytes === 2) return dv.getUint16(off, true);
    if (bytes === 4) return dv.getUint32(off, true);
    return dv.getUint32(off, true) + dv.getUint32(off + 4, true) * FOUR_GIB;
  };
  const payloadOffset = at(0x0208, PAYLOAD_OFFSET, 4);
  const payloadLength = at(0x0208, PAYLOAD_LENGTH, 4);
  if (payloadLength > 0 && payloadOffset + payloadLength > kernelBytes) {
    missingBytes = Math.max(missingBytes, payloadOffset + payloadLength - kernelBytes);
    log('%s: payload_offset/payload_length (at %s) put the payload at %s..%s, past the end of the file at %s: the rest is loaded as zeros; if the kernel fails to decompress, the file may be truncated',
      name, hex(PAYLOAD_OFFSET), hex(kernelOffset + payloadOffset), hex(kernelOffset + payloadOffset + payloadLength - 1), hex(file.length));
  }
  return {
    version,
    setupSects,
    kernelOffset,
    kernelBytes,
    headerEnd,
    syssizeBytes,
    missingBytes,
    loadflags,
    code32Start,
    initrdAddrMax: dv.getUint32(INITRD_ADDR_MAX, true),
    kernelAlignment: at(0x0205, KERNEL_ALIGNMENT, 4),
    relocatable: at(0x0205, RELOCATABLE_KERNEL, 1) !== 0,
    minAlignment: at(0x020a, MIN_ALIGNMENT, 1),
    xloadflags: at(0x020c, XLOADFLAGS, 2),
    cmdlineSize: version >= 0x0206 ? dv.getUint32(CMDLINE_SIZE, true) : CMDLINE_SIZE_BEFORE_206,
    payloadOffset,
    payloadLength,
    prefAddress: at(0x020a, PREF_ADDRESS, 8),
    initSize: at(0x020a, INIT_SIZE, 4),
    kernelVersion: kernelVersionString(file, dv.getUint16(KERNEL_VERSION, true), kernelOffset),
  };
}

/**
 * Loads a bzImage, its initrd and the boot data into guest memory through
 * `mem` for the 32-bit boot protocol. Returns the entry point, the zero
 * page's address (ESI) and the GDT to load (see the file comment for the
 * whole entry state). Throws LinuxBootError (kernel or initrd problems,
 * with file and byte offset) or RangeError (malformed e820 or ramTop, NUL in
 * the command line) before writing anything.
 */
export function loadLinux(mem: GuestPhysicalWriter, o: LinuxLoadOptions): LinuxBoot {
  const name = o.kernelName;
  const e820 = checkE820(o.e820);
  if (!Number.isInteger(o.ramTop) || o.ramTop <= 0 || o.ramTop > FOUR_GIB) {
    throw new RangeError(`ramTop ${o.ramTop}: must be an integer from 1 to 4 GiB (the first address above the RAM usable for the initrd)`);
  }
  const h = parseSetupHeader(o.kernel, name);
  const usable = usableRam(e820);

  // The command line: UTF-8, at most cmdline_size bytes, plus a NUL.
  const nul = o.cmdline.indexOf('\0');
  if (nul >= 0) throw new RangeError(`the kernel command line contains a NUL character at index ${nul}; it ends at the first NUL`);
  const cmdline = utf8.encode(o.cmdline);
  if (cmdline.length > h.cmdlineSize) {
    throw new LinuxBootError(name, h.version >= 0x0206 ? CMDLINE_SIZE : VERSION,
      `the command line is ${cmdline.length} bytes, but the kernel takes at most ${h.cmdlineSize} (${h.version >= 0x0206 ? 'cmdline_size' : `the limit before protocol 2.06, this kernel being ${versionText(h.version)}`})`);
  }

  // The kernel: 1 MiB, else pref_address for a relocatable kernel.
  const kernelGpa = placeKernel(name, h, usable);
  // The bytes syssize or the payload fields place past the end of the file: zeros, when they fit.
  let tail = h.missingBytes;
  if (tail > 0 && !insideOne(usable, kernelGpa, kernelGpa + h.kernelBytes + tail)) {
    log('%s: the %d bytes past the end of the file would run out of usable RAM at %s; they are not loaded (GRUB and QEMU do not read syssize either)',
      name, tail, hex(kernelGpa + h.kernelBytes));
    tail = 0;
  }
  const kernelTaken = kernelWindows(h, kernelGpa, tail);
  const taken = [...kernelTaken];

  // The boot block in low memory: boot_params | GDT | command line.
  const blockBytes = CMDLINE_OFFSET + cmdline.length + 1;
  const lowFree = subtractAll(clip(usable, BOOT_BLOCK_MIN, LOW_MEMORY_END), taken);
  const blockGpa = lowestFit(lowFree, blockBytes);
  if (blockGpa < 0) {
    throw new LinuxBootError(name, CMD_LINE_PTR,
      `no room for boot_params, the GDT and the command line (${blockBytes} bytes from a 4 KiB boundary) in usable RAM between ${hex(BOOT_BLOCK_MIN)} and ${hex(LOW_MEMORY_END)} (usable RAM: ${rangesText(usable)})`);
  }
  taken.push({ start: blockGpa, end: blockGpa + blockBytes });

  // The initrd: as high as possible in [1 MiB, min(initrd_addr_max + 1, ramTop)).
  const initrd = o.initrd !== undefined && o.initrd.length > 0 ? o.initrd : undefined;
  let initrdGpa = 0;
  if (initrd) {
    const limit = Math.min(h.initrdAddrMax + 1, o.ramTop);
    initrdGpa = highestFit(subtractAll(clip(usable, LINUX_KERNEL_GPA, limit), taken), initrd.length);
    if (initrdGpa < 0) {
      throw new LinuxBootError(o.initrdName ?? DEFAULT_INITRD_NAME, 0,
        `its ${initrd.length} bytes do not fit, from a 4 KiB boundary, in usable RAM between 1 MiB and ${hex(limit)} (the lower of ${name}'s initrd_addr_max + 1, from ${hex(INITRD_ADDR_MAX)}, and ramTop ${hex(o.ramTop)}) clear of the kernel (${rangesText(kernelTaken)}); usable RAM: ${rangesText(usable)}`);
    }
  }

  // The zero page, GDT and command line, built in host memory and written once.
  const block = new Uint8Array(blockBytes);
  const bp = new DataView(block.buffer);
  block.set(o.kernel.subarray(HDR_START, h.headerEnd), HDR_START);
  bp.setUint16(VID_MODE, VID_MODE_NORMAL, true);
  block[TYPE_OF_LOADER] = LINUX_LOADER_UNDEFINED;
  block[LOADFLAGS] = (h.loadflags & ~(LOADFLAG_QUIET | LOADFLAG_KEEP_SEGMENTS)) | LOADFLAG_CAN_USE_HEAP;
  bp.setUint32(CODE32_START, kernelGpa, true);
  bp.setUint32(RAMDISK_IMAGE, initrd ? initrdGpa : 0, true);
  bp.setUint32(RAMDISK_SIZE, initrd ? initrd.length : 0, true);
  bp.setUint16(HEAP_END_PTR, HEAP_END_PTR_VALUE, true);
  bp.setUint32(CMD_LINE_PTR, blockGpa + CMDLINE_OFFSET, true);
  if (h.version >= 0x0209) setU64(bp, SETUP_DATA, 0);
  bp.setUint32(BP_ALT_MEM_K, altMemKiB(usable), true);
  block[BP_E820_ENTRIES] = e820.length;
  e820.forEach((e, i) => {
    const at = BP_E820_TABLE + i * E820_ENTRY_BYTES;
    setU64(bp, at, e.base);
    setU64(bp, at + 8, e.length);
    bp.setUint32(at + 16, e.type, true);
  });
  block.set(GDT_CODE_FLAT, GDT_OFFSET + LINUX_BOOT_CS);
  block.set(GDT_DATA_FLAT, GDT_OFFSET + LINUX_BOOT_DS);
  block.set(cmdline, CMDLINE_OFFSET);

  // Every check has passed: write.
  const kernel = o.kernel.subarray(h.kernelOffset);
  mem.writePhysBytes(kernelGpa, kernel);
  if (tail > 0) {
    const zeros = new Uint8Array(Math.min(tail, 1 << 20));
    for (let done = 0; done < tail; done += zeros.length) {
      mem.writePhysBytes(kernelGpa + kernel.length + done, zeros.subarray(0, Math.min(zeros.length, tail - done)));
    }
  }
  mem.writePhysBytes(blockGpa, block);
  if (initrd) mem.writePhysBytes(initrdGpa, initrd);

  const loaded = [
    { what: 'boot_params', start: blockGpa, end: blockGpa + BP_BYTES },
    { what: 'GDT', start: blockGpa + GDT_OFFSET, end: blockGpa + GDT_OFFSET + GDT_BYTES },
    { what: 'command line', start: blockGpa + CMDLINE_OFFSET, end: blockGpa + blockBytes },
    { what: 'kernel', start: kernelGpa, end: kernelGpa + kernel.length + tail },
  ];
  if (initrd) loaded.push({ what: 'initrd', start: initrdGpa, end: initrdGpa + initrd.length });
  loaded.sort((a, b) => a.start - b.start);
  log('%s: protocol %s, kernel %s..%s, boot_params %s, initrd %s, %d e820 entries', name, versionText(h.version),
    hex(kernelGpa), hex(kernelGpa + kernel.length + tail - 1), hex(blockGpa), initrd ? hex(initrdGpa) : 'none', e820.length);
  return { entry: kernelGpa, bootParams: blockGpa, gdtBase: blockGpa + GDT_OFFSET, gdtLimit: GDT_BYTES - 1, loaded };
}

/**
 * 1 MiB when the kernel's file bytes there and its runtime window are each
 * inside one usable RAM range; else pref_address, on the same test, for a
 * relocatable 2.10+ kernel. Throws LinuxBootError otherwise.
 */
function placeKernel(name: string, h: LinuxSetupHeader, usable: Range[]): number {
  const atOneMiB = kernelMisfit(h, LINUX_KERNEL_GPA, usable);
  if (!atOneMiB) return LINUX_KERNEL_GPA;
  const pref = h.prefAddress;
  if (h.relocatable && pref > LINUX_KERNEL_GPA && pref < FOUR_GIB && !kernelMisfit(h, pref, usable)) {
    log('%s: 1 MiB does not suit (%s); loading the relocatable kernel at pref_address %s', name, atOneMiB.problem, hex(pref));
    return pref;
  }
  const relocation = h.relocatable && pref > LINUX_KERNEL_GPA
    ? `; the kernel is relocatable, but at its pref_address ${hex(pref)} ${kernelMisfit(h, pref, usable)!.problem}`
    : h.relocatable ? '; the kernel is relocatable but gives no pref_address above 1 MiB to try instead' : '';
  throw new LinuxBootError(name, atOneMiB.offset,
    `no usable RAM for the kernel at ${hex(LINUX_KERNEL_GPA)}: ${atOneMiB.problem}${relocation} (usable RAM: ${rangesText(usable)})`);
}

/** Why the kernel cannot go at `gpa` (and which header field to blame), or undefined if it can. */
function kernelMisfit(h: LinuxSetupHeader, gpa: number, usable: Range[]): { offset: number; problem: string } | undefined {
  const fileEnd = gpa + h.kernelBytes;
  if (!insideOne(usable, gpa, fileEnd)) {
    return { offset: h.kernelOffset, problem: `its ${hex(h.kernelBytes)} file bytes (from file offset ${hex(h.kernelOffset)}) would need ${hex(gpa)}..${hex(fileEnd - 1)}` };
  }
  const w = runtimeWindow(h, gpa);
  if (w && !insideOne(usable, w.start, w.end)) {
    return { offset: INIT_SIZE, problem: `init_size ${hex(h.initSize)} needs ${hex(w.start)}..${hex(w.end - 1)} from the kernel's runtime start` };
  }
  return undefined;
}

/**
 * [runtime start, + init_size) for a kernel loaded at `gpa` (boot.rst,
 * init_size): align_up(gpa, kernel_alignment) when relocatable, else
 * pref_address. Undefined before 2.10 (no init_size).
 */
function runtimeWindow(h: LinuxSetupHeader, gpa: number): Range | undefined {
  if (h.version < 0x020a || h.initSize === 0) return undefined;
  const start = h.relocatable ? alignUp(gpa, Math.max(h.kernelAlignment, 1)) : (h.prefAddress || LINUX_KERNEL_GPA);
  return { start, end: start + h.initSize };
}

/**
 * Everything the kernel may use while it cannot yet read its memory map:
 * kept free of the initrd and boot block. The file's bytes and `tail`, the
 * zeros loaded after them.
 */
function kernelWindows(h: LinuxSetupHeader, gpa: number, tail: number): Range[] {
  const out: Range[] = [{ start: gpa, end: gpa + h.kernelBytes + tail }];
  const w = runtimeWindow(h, gpa);
  if (w) out.push(w);
  if (w && h.relocatable && h.prefAddress > 0) out.push({ start: h.prefAddress, end: h.prefAddress + h.initSize });
  return out;
}

/** The map as written to the zero page: length-0 entries dropped, sorted by base. RangeError when malformed. */
function checkE820(map: E820Entry[]): E820Entry[] {
  for (const e of map) {
    if (!Number.isSafeInteger(e.base) || !Number.isSafeInteger(e.length) || e.base < 0 || e.length < 0 || !Number.isSafeInteger(e.base + e.length)) {
      throw new RangeError(`e820 entry base ${e.base} length ${e.length}: base and length must be non-negative integers`);
    }
    if (e.type !== 1 && e.type !== 2 && e.type !== 3 && e.type !== 4) {
      throw new RangeError(`e820 entry at ${e.base}: type ${String(e.type)} is not 1 (RAM), 2 (reserved), 3 (ACPI) or 4 (NVS)`);
    }
  }
  const out = map.filter((e) => e.length > 0).map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.base - b.e.base || a.i - b.i).map(({ e }) => ({ base: e.base, length: e.length, type: e.type }));
  if (out.length > E820_MAX_ZEROPAGE_ENTRIES) {
    throw new RangeError(`the e820 map has ${out.length} entries; the zero page holds at most ${E820_MAX_ZEROPAGE_ENTRIES}`);
  }
  return out;
}

/** Type 1 ranges merged, minus every other type, below 4 GiB (where this loader places things). */
function usableRam(e820: E820Entry[]): Range[] {
  const ram = e820.filter((e) => e.type === 1).map((e) => ({ start: e.base, end: Math.min(e.base + e.length, FOUR_GIB) }))
    .filter((r) => r.start < r.end).sort((a, b) => a.start - b.start);
  const merged: Range[] = [];
  for (const r of ram) {
    const last = merged[merged.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  return subtractAll(merged, e820.filter((e) => e.type !== 1).map((e) => ({ start: e.base, end: e.base + e.length })));
}

/** KiB of usable RAM from 1 MiB up to the first hole (0 when 1 MiB is not RAM); fits alt_mem_k's 32 bits below 4 GiB. */
function altMemKiB(usable: Range[]): number {
  const r = usable.find((u) => u.start <= LINUX_KERNEL_GPA && LINUX_KERNEL_GPA < u.end);
  return r ? Math.floor((r.end - LINUX_KERNEL_GPA) / 1024) : 0;
}

function insideOne(ranges: Range[], start: number, end: number): boolean {
  return ranges.some((r) => r.start <= start && end <= r.end);
}

function clip(ranges: Range[], start: number, end: number): Range[] {
  return ranges.map((r) => ({ start: Math.max(r.start, start), end: Math.min(r.end, end) })).filter((r) => r.start < r.end);
}

function subtractAll(ranges: Range[], holes: Range[]): Range[] {
  let out = ranges;
  for (const h of holes) {
    const next: Range[] = [];
    for (const r of out) {
      if (h.end <= r.start || h.start >= r.end) {
        next.push(r);
        continue;
      }
      if (r.start < h.start) next.push({ start: r.start, end: h.start });
      if (h.end < r.end) next.push({ start: h.end, end: r.end });
    }
    out = next;
  }
  return out;
}

/** The lowest page-aligned start of `bytes` inside one of `ranges`, or -1. */
function lowestFit(ranges: Range[], bytes: number): number {
  let best = -1;
  for (const r of ranges) {
    const start = alignUp(r.start, PAGE_BYTES);
    if (start + bytes <= r.end && (best < 0 || start < best)) best = start;
  }
  return best;
}

/** The highest page-aligned start of `bytes` inside one of `ranges`, or -1. */
function highestFit(ranges: Range[], bytes: number): number {
  let best = -1;
  for (const r of ranges) {
    const start = Math.floor((r.end - bytes) / PAGE_BYTES) * PAGE_BYTES;
    if (start >= r.start && start > best) best = start;
  }
  return best;
}

/** kernel_version points at a NUL-terminated string, less 0x200, inside the setup code (boot.rst, kernel_version). */
function kernelVersionString(file: Uint8Array, pointer: number, setupEnd: number): string {
  if (pointer === 0) return '';
  const start = pointer + 0x200;
  if (start >= setupEnd) return '';
  const end = file.indexOf(0, start);
  if (end < 0 || end > setupEnd) return '';
  return latin1.decode(file.subarray(start, end));
}

const utf8 = new TextEncoder();
const latin1 = new TextDecoder('latin1');

function setU64(dv: DataView, off: number, v: number): void {
  dv.setUint32(off, v % FOUR_GIB, true);
  dv.setUint32(off + 4, Math.floor(v / FOUR_GIB), true);
}

function alignUp(v: number, align: number): number {
  return Math.ceil(v / align) * align;
}

/** (major << 8) | minor as "major.minor", minor two digits: 0x020a is 2.10 (boot.rst, version). */
function versionText(v: number): string {
  return `${v >> 8}.${String(v & 0xff).padStart(2, '0')}`;
}

function hex(v: number): string {
  return `0x${v.toString(16)}`;
}

function hex4(v: number): string {
  return `0x${v.toString(16).padStart(4, '0')}`;
}

function hex8(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

function rangesText(ranges: Range[]): string {
  return ranges.length === 0 ? 'none' : ranges.map((r) => `${hex(r.start)}..${hex(r.end - 1)}`).join(', ');
}
