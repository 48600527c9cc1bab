/**
 * The Multiboot loader, checked on images built here byte by byte: a
 * hand-assembled ELF32 with two PT_LOAD segments (one with bss), an a.out
 * kludge image, a header-only image with a bad checksum, truncated and
 * malformed images. When gcc can build 32-bit code on this machine, two
 * real kernels (identity-mapped and higher-half) are built and loaded too.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadMultiboot, MultibootError,
  type GuestPhysicalWriter, type MultibootBoot, type MultibootLoadOptions, type MultibootModule,
} from '../../src/machine/multiboot.js';

const MAGIC = 0x1badb002;
const RAM_BYTES = 16 << 20;
const GARBAGE = 0xcc;

/** Guest RAM as a plain array; records every write and refuses writes outside it. */
class Ram implements GuestPhysicalWriter {
  readonly bytes = new Uint8Array(RAM_BYTES).fill(GARBAGE);
  readonly writes: { start: number; end: number }[] = [];
  writePhysBytes(gpa: number, data: Uint8Array): void {
    if (gpa < 0 || gpa + data.length > this.bytes.length) throw new RangeError(`write of ${data.length} bytes at ${gpa.toString(16)} is outside RAM`);
    this.bytes.set(data, gpa);
    this.writes.push({ start: gpa, end: gpa + data.length });
  }
  u32(gpa: number): number {
    return get32(this.bytes, gpa);
  }
  words(gpa: number, count: number): number[] {
    return Array.from({ length: count }, (_, i) => this.u32(gpa + 4 * i));
  }
  cstring(gpa: number): string {
    const end = this.bytes.indexOf(0, gpa);
    return new TextDecoder().decode(this.bytes.subarray(gpa, end));
  }
  slice(start: number, end: number): number[] {
    return Array.from(this.bytes.subarray(start, end));
  }
}

function put32(b: Uint8Array, off: number, v: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(off, v >>> 0, true);
}
function put16(b: Uint8Array, off: number, v: number): void {
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint16(off, v, true);
}
function get32(b: Uint8Array, off: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
}
const pad4 = (n: number): number => Math.ceil(n / 4) * 4;
const allEqual = (bytes: number[], v: number): boolean => bytes.every((x) => x === v);

interface Kludge { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number }

/** Writes a Multiboot header (12 bytes, or 32 with the address fields) at `off`, with a right checksum unless told otherwise. */
function putHeader(b: Uint8Array, off: number, flags: number, kludge?: Kludge, checksumDelta = 0): void {
  put32(b, off, MAGIC);
  put32(b, off + 4, flags);
  put32(b, off + 8, -(MAGIC + flags) + checksumDelta);
  if (kludge) {
    put32(b, off + 12, kludge.headerAddr);
    put32(b, off + 16, kludge.loadAddr);
    put32(b, off + 20, kludge.loadEndAddr);
    put32(b, off + 24, kludge.bssEndAddr);
    put32(b, off + 28, kludge.entryAddr);
  }
}

interface Segment { type?: number; offset: number; vaddr: number; paddr?: number; filesz: number; memsz: number }

/** An ELF32 little-endian i386 executable header with its program headers at offset 52. */
function putElf(b: Uint8Array, entry: number, segments: Segment[]): void {
  b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0);
  put16(b, 16, 2); // ET_EXEC
  put16(b, 18, 3); // EM_386
  put32(b, 20, 1);
  put32(b, 24, entry);
  put32(b, 28, 52); // e_phoff
  put16(b, 40, 52); // e_ehsize
  put16(b, 42, 32); // e_phentsize
  put16(b, 44, segments.length);
  segments.forEach((s, i) => {
    const ph = 52 + 32 * i;
    put32(b, ph, s.type ?? 1);
    put32(b, ph + 4, s.offset);
    put32(b, ph + 8, s.vaddr);
    put32(b, ph + 12, s.paddr ?? s.vaddr);
    put32(b, ph + 16, s.filesz);
    put32(b, ph + 20, s.memsz);
    put32(b, ph + 24, 5);
    put32(b, ph + 28, 0x1000);
  });
}

/** Offsets in the two-segment ELF below. */
const PH0 = 52, PH1 = 84;
const TEXT_OFF = 0x1000, DATA_OFF = 0x2000;

/**
 * A hand-assembled ELF32: text (file 0x1000, 0x800 bytes, Multiboot header
 * first) at 0x100000; data (file 0x2000, 0x100 bytes) at 0x102000 with
 * 0x2f00 bytes of bss to 0x105000; and a PT_NOTE with an address outside
 * RAM that must be ignored. Entry 0x10000c. Bytes after each segment's file
 * part are 0xEE, so a loader copying too much shows up.
 */
function twoSegmentElf(flags = 0x3, segments?: Segment[], entry = 0x10000c): Uint8Array {
  const b = new Uint8Array(0x3000).fill(0xee);
  b.fill(0, 0, 0x1000);
  for (let i = 0; i < 0x800; i++) b[TEXT_OFF + i] = (i * 7 + 3) & 0xff;
  for (let i = 0; i < 0x100; i++) b[DATA_OFF + i] = (i * 13 + 1) & 0xff;
  putElf(b, entry, segments ?? [
    { offset: TEXT_OFF, vaddr: 0x100000, filesz: 0x800, memsz: 0x800 },
    { offset: DATA_OFF, vaddr: 0x102000, filesz: 0x100, memsz: 0x3000 },
    { type: 4, offset: 0x2f00, vaddr: 0xdead0000, filesz: 0x10, memsz: 0x10 },
  ]);
  putHeader(b, TEXT_OFF, flags);
  return b;
}

const AOUT_HDR = 0x20;
const AOUT_KLUDGE: Kludge = { headerAddr: 0x200000, loadAddr: 0x200000, loadEndAddr: 0x200400, bssEndAddr: 0x201000, entryAddr: 0x200030 };

/**
 * An a.out-style image: a 32-byte exec header (not loaded), then text that
 * starts with the Multiboot header at file offset 0x20, then trailing bytes
 * (symbols) that load_end_addr leaves out. 0x500 bytes in all.
 */
function aoutImage(k: Partial<Kludge> = {}, flags = 0x10003): Uint8Array {
  const b = new Uint8Array(0x500);
  for (let i = 0; i < 0x20; i++) b[i] = 0xa0 + i;
  for (let i = AOUT_HDR; i < b.length; i++) b[i] = (i * 11 + 5) & 0xff;
  putHeader(b, AOUT_HDR, flags, { ...AOUT_KLUDGE, ...k });
  return b;
}

const MEMORY: MultibootLoadOptions['memory'] = {
  lowerBytes: 0x9fc00,
  upperBytes: 0xf00000,
  reserved: [{ base: 0x9fc00, length: 0x400 }, { base: 0xf0000, length: 0x10000 }],
};

function boot(image: Uint8Array, extra: Partial<MultibootLoadOptions> = {}, ram = new Ram()): { ram: Ram; boot: MultibootBoot } {
  const b = loadMultiboot(ram, { image, imageName: 'kernel.elf', cmdline: '', modules: [], memory: MEMORY, ...extra });
  return { ram, boot: b };
}

/** Loading must fail with a MultibootError naming `file` and `offset`, before anything is written. */
function expectError(image: Uint8Array, offset: number, problem: RegExp, extra: Partial<MultibootLoadOptions> = {}, file = 'kernel.elf'): MultibootError {
  const ram = new Ram();
  let caught: unknown;
  try {
    boot(image, extra, ram);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(MultibootError);
  const e = caught as MultibootError;
  expect(e.file).toBe(file);
  expect(e.offset).toBe(offset);
  expect(e.message).toContain(file);
  expect(e.message).toContain(`byte offset 0x${offset.toString(16)}`);
  expect(e.problem).toMatch(problem);
  expect(ram.writes).toEqual([]);
  return e;
}

const bytesOf = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * seed + 17) & 0xff);

describe('loading an ELF kernel', () => {
  it('does each PT_LOAD segment land at its p_paddr, byte for byte, and nothing more of the file?', () => {
    const image = twoSegmentElf();
    const { ram } = boot(image);
    expect(ram.slice(0x100000, 0x100800)).toEqual(Array.from(image.subarray(TEXT_OFF, TEXT_OFF + 0x800)));
    expect(ram.slice(0x102000, 0x102100)).toEqual(Array.from(image.subarray(DATA_OFF, DATA_OFF + 0x100)));
    expect(ram.u32(0x100000)).toBe(MAGIC);
    // the gap between the segments and the byte below the kernel are untouched
    expect(ram.bytes[0xfffff]).toBe(GARBAGE);
    expect(allEqual(ram.slice(0x100800, 0x102000), GARBAGE)).toBe(true);
  });

  it('is the bss part of a segment zeroed up to p_memsz, over RAM that held garbage?', () => {
    const { ram } = boot(twoSegmentElf());
    expect(allEqual(ram.slice(0x102100, 0x105000), 0)).toBe(true);
  });

  it('does it return the magic in EAX, the info structure in EBX and the ELF entry as EIP?', () => {
    const { boot: b } = boot(twoSegmentElf());
    expect(b.eax).toBe(0x2badb002);
    expect(b.entry).toBe(0x10000c);
    expect(b.ebx).toBe(0x105000); // the first page boundary at or above the kernel's end (bss included)
  });

  it('does a higher-half kernel load at p_paddr and start at the physical address of its virtual e_entry?', () => {
    const image = twoSegmentElf(0x3, [
      { offset: TEXT_OFF, vaddr: 0xc0100000, paddr: 0x100000, filesz: 0x800, memsz: 0x800 },
      { offset: DATA_OFF, vaddr: 0xc0102000, paddr: 0x102000, filesz: 0x100, memsz: 0x3000 },
    ], 0xc010000c);
    const { ram, boot: b } = boot(image);
    expect(b.entry).toBe(0x10000c);
    expect(ram.u32(0x100000)).toBe(MAGIC);
    expect(allEqual(ram.slice(0x102100, 0x105000), 0)).toBe(true);
  });

  it('when a higher-half kernel already gives a physical e_entry, is it kept?', () => {
    const image = twoSegmentElf(0x3, [
      { offset: TEXT_OFF, vaddr: 0xc0100000, paddr: 0x100000, filesz: 0x800, memsz: 0x800 },
    ], 0x10000c);
    expect(boot(image).boot.entry).toBe(0x10000c);
  });

  it('may a kernel load into lower memory, even page 0, with the boot data right above it?', () => {
    const image = twoSegmentElf(0x3, [{ offset: TEXT_OFF, vaddr: 0, filesz: 0x800, memsz: 0x1000 }], 0xc);
    const { ram, boot: b } = boot(image);
    expect(ram.u32(0)).toBe(MAGIC);
    expect(b.entry).toBe(0xc);
    expect(b.ebx).toBe(0x1000);
  });

  it('when the kernel ends near the top of lower memory, does the boot data move up to 1 MiB instead of overlapping?', () => {
    const image = twoSegmentElf(0x3, [{ offset: TEXT_OFF, vaddr: 0x9e000, filesz: 0x800, memsz: 0x1a00 }], 0x9e00c);
    const mod = bytesOf(100, 3);
    const { ram, boot: b } = boot(image, { modules: [{ data: mod, cmdline: 'm' }] });
    expect(b.ebx).toBe(0x100000);
    const modStart = ram.u32(ram.u32(b.ebx + 24));
    expect(modStart).toBe(0x101000);
    expect(ram.slice(modStart, modStart + 100)).toEqual(Array.from(mod));
  });

  it('does a stray magic with a wrong checksum before the real header not stop the search?', () => {
    const image = twoSegmentElf();
    put32(image, 0x800, MAGIC);
    put32(image, 0x804, 0x12345678);
    expect(boot(image).boot.entry).toBe(0x10000c);
  });

  it('are unknown optional flag bits (16-31, other than 16) ignored?', () => {
    expect(boot(twoSegmentElf(0x3 | (1 << 20) | (1 << 31))).boot.entry).toBe(0x10000c);
  });
});

describe('the Multiboot information structure', () => {
  const CMDLINE = 'kernel.elf console=ttyS0 root=/dev/ram0';
  const MOD0 = bytesOf(5000, 7);
  const MOD1 = bytesOf(3, 9);
  const modules: MultibootModule[] = [{ data: MOD0, cmdline: 'initrd.img rw' }, { data: MOD1, cmdline: 'cfg' }];
  // The documented layout: info (120) | module list (2 x 16) | memory map (4 x 24) | strings.
  const INFO = 0x105000;
  const MODS = INFO + 120;
  const MMAP = MODS + 32;
  const S_CMDLINE = MMAP + 4 * 24;
  const S_MOD0 = S_CMDLINE + pad4(CMDLINE.length + 1);
  const S_MOD1 = S_MOD0 + pad4('initrd.img rw'.length + 1);
  const S_LOADER = S_MOD1 + pad4('cfg'.length + 1);
  const BLOCK_END = S_LOADER + pad4('vmmu'.length + 1);

  it('are its flags and every field exactly what the spec defines, with nothing else set?', () => {
    const { ram } = boot(twoSegmentElf(), { cmdline: CMDLINE, modules });
    expect(ram.words(INFO, 29)).toEqual([
      0x24d, // flags: mem (0), cmdline (2), mods (3), mmap (6), boot loader name (9)
      639, // mem_lower: 0x9fc00 bytes of lower memory, in KiB
      15360, // mem_upper: 15 MiB from 1 MiB, in KiB
      0, // boot_device: flag 1 clear
      S_CMDLINE,
      2, MODS, // mods_count, mods_addr
      0, 0, 0, 0, // syms: flags 4 and 5 clear
      4 * 24, MMAP, // mmap_length, mmap_addr
      0, 0, // drives
      0, // config_table
      S_LOADER, // boot_loader_name
      0, // apm_table
      0, 0, 0, 0, 0, // vbe_*
      0, 0, 0, 0, 0, 0, // framebuffer_* (to offset 116)
    ]);
  });

  it('does each string pointer name a NUL-terminated copy of the string?', () => {
    const { ram } = boot(twoSegmentElf(), { cmdline: CMDLINE, modules, bootloaderName: 'test loader' });
    expect(ram.cstring(ram.u32(INFO + 16))).toBe(CMDLINE);
    expect(ram.cstring(ram.u32(MODS + 8))).toBe('initrd.img rw');
    expect(ram.cstring(ram.u32(MODS + 16 + 8))).toBe('cfg');
    expect(ram.cstring(ram.u32(INFO + 64))).toBe('test loader');
    expect(ram.bytes[S_CMDLINE + CMDLINE.length]).toBe(0);
  });

  it('is the boot loader name "vmmu" when none is given, and an empty command line still passed?', () => {
    const { ram } = boot(twoSegmentElf());
    expect(ram.u32(INFO) & (1 << 2)).not.toBe(0);
    expect(ram.cstring(ram.u32(INFO + 16))).toBe('');
    expect(ram.cstring(ram.u32(INFO + 64))).toBe('vmmu');
    expect(ram.words(INFO + 20, 2)).toEqual([0, 0]); // no modules: count 0, address 0
  });

  it('are modules page aligned when header flag 0 asks, listed as start, exclusive end, string, zero?', () => {
    const { ram } = boot(twoSegmentElf(0x3), { cmdline: CMDLINE, modules });
    expect(ram.words(MODS, 8)).toEqual([
      0x106000, 0x106000 + 5000, S_MOD0, 0,
      0x108000, 0x108003, S_MOD1, 0,
    ]);
    expect(ram.slice(0x106000, 0x106000 + 5000)).toEqual(Array.from(MOD0));
    expect(ram.slice(0x108000, 0x108003)).toEqual(Array.from(MOD1));
  });

  it('without header flag 0, are modules packed 4-byte aligned right after the boot block?', () => {
    const { ram } = boot(twoSegmentElf(0x2), { cmdline: CMDLINE, modules });
    expect(ram.words(MODS, 8)).toEqual([
      BLOCK_END, BLOCK_END + 5000, S_MOD0, 0,
      BLOCK_END + 5000, BLOCK_END + 5003, S_MOD1, 0,
    ]);
    expect(ram.slice(BLOCK_END + 5000, BLOCK_END + 5003)).toEqual(Array.from(MOD1));
  });

  it('does the memory map list RAM and reserved ranges in address order, each entry with size 20?', () => {
    const { ram } = boot(twoSegmentElf());
    expect(ram.words(INFO + 44, 2)).toEqual([4 * 24, INFO + 120]); // no modules: the map follows the info structure
    expect(ram.words(INFO + 120, 24)).toEqual([
      20, 0x0, 0, 0x9fc00, 0, 1,
      20, 0x9fc00, 0, 0x400, 0, 2,
      20, 0xf0000, 0, 0x10000, 0, 2,
      20, 0x100000, 0, 0xf00000, 0, 1,
    ]);
  });

  it('with a hole in upper memory and a range above 4 GiB, is RAM split around the hole and mem_upper cut at it?', () => {
    const memory = {
      lowerBytes: 0xa0000,
      upperBytes: 0xf00000,
      reserved: [{ base: 0xfec00000, length: 0x1000 }, { base: 0x800000, length: 0x100000 }, { base: 2 ** 32, length: 0x20000000 }],
    };
    const { ram, boot: b } = boot(twoSegmentElf(), { memory });
    expect(ram.words(b.ebx, 3)).toEqual([0x24d, 640, 7 * 1024]);
    expect(ram.u32(b.ebx + 44)).toBe(6 * 24);
    expect(ram.words(ram.u32(b.ebx + 48), 36)).toEqual([
      20, 0x0, 0, 0xa0000, 0, 1,
      20, 0x100000, 0, 0x700000, 0, 1,
      20, 0x800000, 0, 0x100000, 0, 2,
      20, 0x900000, 0, 0x700000, 0, 1,
      20, 0xfec00000, 0, 0x1000, 0, 2,
      20, 0x0, 1, 0x20000000, 0, 2,
    ]);
  });

  it('does nothing the loader wrote overlap the kernel or anything else it wrote?', () => {
    const { ram, boot: b } = boot(twoSegmentElf(0x3), { cmdline: CMDLINE, modules });
    const kernel = [{ start: 0x100000, end: 0x100800 }, { start: 0x102000, end: 0x105000 }];
    expect(b.loadedRanges).toEqual([
      ...kernel,
      { start: INFO, end: BLOCK_END },
      { start: 0x106000, end: 0x106000 + 5000 },
      { start: 0x108000, end: 0x108003 },
    ]);
    const writes = [...ram.writes].sort((x, y) => x.start - y.start);
    for (let i = 1; i < writes.length; i++) expect(writes[i]!.start).toBeGreaterThanOrEqual(writes[i - 1]!.end);
    for (const w of ram.writes) {
      expect(b.loadedRanges.some((r) => r.start <= w.start && w.end <= r.end)).toBe(true);
      const inKernel = kernel.some((k) => k.start <= w.start && w.end <= k.end);
      if (!inKernel) expect(w.start).toBeGreaterThanOrEqual(0x105000);
    }
  });
});

describe('loading with the a.out kludge (header flag 16)', () => {
  it('is the file loaded from the offset the header implies, up to load_end_addr, then zeroed to bss_end_addr?', () => {
    const image = aoutImage();
    const { ram, boot: b } = boot(image);
    expect(ram.slice(0x200000, 0x200400)).toEqual(Array.from(image.subarray(0x20, 0x420)));
    expect(allEqual(ram.slice(0x200400, 0x201000), 0)).toBe(true);
    expect(ram.bytes[0x1fffff]).toBe(GARBAGE);
    expect(b.entry).toBe(0x200030);
    expect(b.ebx).toBe(0x201000);
    expect(b.loadedRanges[0]).toEqual({ start: 0x200000, end: 0x201000 });
  });

  it('when header_addr is above load_addr, does loading start that many bytes before the header?', () => {
    const image = aoutImage({ headerAddr: 0x200020 });
    const { ram } = boot(image);
    expect(ram.slice(0x200000, 0x200400)).toEqual(Array.from(image.subarray(0, 0x400)));
  });

  it('with load_end_addr 0, is the rest of the file loaded, and with bss_end_addr 0, no bss?', () => {
    const image = aoutImage({ loadEndAddr: 0, bssEndAddr: 0 });
    const { ram, boot: b } = boot(image);
    expect(ram.slice(0x200000, 0x2004e0)).toEqual(Array.from(image.subarray(0x20)));
    expect(b.loadedRanges[0]).toEqual({ start: 0x200000, end: 0x2004e0 });
    expect(b.ebx).toBe(0x201000);
  });

  it('when an ELF also sets flag 16, does the kludge take precedence over the program headers?', () => {
    const image = twoSegmentElf(0x10003);
    // load the whole file at 0x300000: the header (file 0x1000) lands at 0x301000
    putHeader(image, TEXT_OFF, 0x10003, { headerAddr: 0x301000, loadAddr: 0x300000, loadEndAddr: 0, bssEndAddr: 0x304000, entryAddr: 0x30100c });
    const { ram, boot: b } = boot(image);
    expect(b.entry).toBe(0x30100c);
    expect(ram.slice(0x300000, 0x303000)).toEqual(Array.from(image));
    expect(allEqual(ram.slice(0x303000, 0x304000), 0)).toBe(true);
    expect(allEqual(ram.slice(0x100000, 0x105000), GARBAGE)).toBe(true);
  });
});

describe('images that cannot be booted', () => {
  it('with no header in the first 8192 bytes (past it, straddling its end, or misaligned), does it say so at offset 0?', () => {
    for (const at of [8192, 8184, 0x102]) {
      const image = new Uint8Array(9000);
      putHeader(image, at, 0);
      expectError(image, 0, /no Multiboot header.*8192/);
    }
  });

  it('with a bad checksum in a header-only image, does it give the expected and the found value?', () => {
    const image = new Uint8Array(28);
    putHeader(image, 16, 0x3, undefined, 1);
    const e = expectError(image, 24, /checksum/);
    expect(e.problem).toContain('expected 0xe4524ffb');
    expect(e.problem).toContain('found 0xe4524ffc');
  });

  it('when the header requires video mode information (flag 2), is the image refused at the flags?', () => {
    expectError(twoSegmentElf(0x7), TEXT_OFF + 4, /video mode/);
  });

  it('when the header requires a feature bit this loader does not know, is the image refused at the flags?', () => {
    expectError(twoSegmentElf(0x3 | (1 << 5) | (1 << 15)), TEXT_OFF + 4, /bit\(s\) 5, 15/);
  });

  it('when the file is neither ELF nor flagged for the a.out kludge, is that reported at offset 0?', () => {
    const image = new Uint8Array(64);
    putHeader(image, 8, 0x3);
    expectError(image, 0, /not an ELF.*flag 16/);
  });

  it.each([
    { what: 'a 64-bit ELF', at: 4, value: 2, problem: /class 2 \(64-bit\)/ },
    { what: 'a big-endian ELF', at: 5, value: 2, problem: /big-endian/ },
    { what: 'a shared object', at: 16, value: 3, problem: /not an executable/ },
    { what: 'an x86-64 ELF32', at: 18, value: 62, problem: /x86-64.*not i386/ },
  ])('is $what refused at the offending field?', ({ at, value, problem }) => {
    const image = twoSegmentElf();
    if (at >= 16) put16(image, at, value);
    else image[at] = value;
    expectError(image, at, problem);
  });

  it('when the file is cut inside a segment, does the error point at the end of the file?', () => {
    expectError(twoSegmentElf().slice(0, 0x2080), 0x2080, /ends here.*program header 1/);
  });

  it('when the program header table runs past the end of the file, does the error point at the end?', () => {
    const image = twoSegmentElf();
    put32(image, 28, 0x2fe0);
    expectError(image, 0x3000, /program header table/);
  });

  it('when p_filesz exceeds p_memsz, is that program header named?', () => {
    const image = twoSegmentElf();
    put32(image, PH1 + 20, 0x80);
    expectError(image, PH1 + 16, /p_filesz 0x100 is larger than p_memsz 0x80/);
  });

  it('when e_entry is in no segment, is e_entry named?', () => {
    expectError(twoSegmentElf(0x3, undefined, 0x400000), 24, /e_entry 0x400000/);
  });

  it('when a segment falls in the hole between 640 KiB and 1 MiB, is it refused at its p_paddr?', () => {
    const image = twoSegmentElf();
    put32(image, PH0 + 12, 0xa0000);
    expectError(image, PH0 + 12, /0xa0000\.\.0xa07ff.*not inside one range of available RAM/);
  });

  it('when a segment runs past the end of RAM, is it refused at its p_paddr?', () => {
    expectError(twoSegmentElf(), PH1 + 12, /not inside/, { memory: { lowerBytes: 0xa0000, upperBytes: 0x4000, reserved: [] } });
  });

  it('when a segment lies on a reserved range, is it refused?', () => {
    expectError(twoSegmentElf(), PH0 + 12, /not inside/, { memory: { ...MEMORY, reserved: [{ base: 0x100400, length: 0x10 }] } });
  });

  it('when two segments overlap, is the later program header named?', () => {
    const image = twoSegmentElf();
    put32(image, PH1 + 12, 0x100400);
    expectError(image, PH1 + 12, /overlaps/);
  });

  it.each([
    { what: 'load_addr is above header_addr', k: { loadAddr: 0x200010 }, at: 16, problem: /load_addr 0x200010 is above header_addr/ },
    { what: 'header_addr - load_addr reaches before the file', k: { headerAddr: 0x200100 }, at: 12, problem: /before the file/ },
    { what: 'load_end_addr is beyond the file', k: { loadEndAddr: 0x200600 }, at: 20, problem: /past the end of the file at 0x500/ },
    { what: 'load_end_addr is below load_addr', k: { loadEndAddr: 0x1ff000 }, at: 20, problem: /below load_addr/ },
    { what: 'bss_end_addr is below the loaded bytes', k: { bssEndAddr: 0x200200 }, at: 24, problem: /bss_end_addr/ },
    { what: 'entry_addr is outside the image', k: { entryAddr: 0x300000 }, at: 28, problem: /entry_addr 0x300000/ },
    { what: 'the image does not fit in RAM', k: { loadAddr: 0x1000000, headerAddr: 0x1000000, loadEndAddr: 0x1000400, bssEndAddr: 0, entryAddr: 0x1000000 }, at: 16, problem: /not inside/ },
  ])('a.out kludge: when $what, is the field named?', ({ k, at, problem }) => {
    expectError(aoutImage(k), AOUT_HDR + at, problem);
  });

  it('a.out kludge: when the header is cut off before its address fields end, is that reported?', () => {
    expectError(aoutImage().slice(0, AOUT_HDR + 16), AOUT_HDR + 12, /32 bytes do not fit/);
  });

  it('when a module does not fit in RAM, does the error name the module and the kernel, and nothing get written?', () => {
    const e = expectError(twoSegmentElf(), 0, /65536 bytes do not fit.*kernel\.elf/, {
      memory: { lowerBytes: 0xa0000, upperBytes: 0x10000, reserved: [] },
      modules: [{ data: new Uint8Array(0x100), cmdline: 'small.bin' }, { data: new Uint8Array(0x10000), cmdline: 'big.bin' }],
    }, 'module 1 "big.bin"');
    expect(e.message).toContain('module 1 "big.bin"');
  });

  it('is a malformed RAM description or a NUL inside a string a RangeError instead?', () => {
    expect(() => boot(twoSegmentElf(), { memory: { ...MEMORY, lowerBytes: 0xa0001 } })).toThrow(RangeError);
    expect(() => boot(twoSegmentElf(), { cmdline: 'a\0b' })).toThrow(RangeError);
  });
});

/** Builds 32-bit code with gcc when it can; the real-kernel tests are registered only then. */
function gccBuilds32Bit(): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'vmmu-mb-probe-'));
  try {
    writeFileSync(join(dir, 'p.S'), '.text\nnop\n');
    execFileSync('gcc', ['-m32', '-c', '-o', join(dir, 'p.o'), join(dir, 'p.S')], { stdio: 'ignore' });
    execFileSync('nm', [join(dir, 'p.o')], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const KERNEL_S = `
        .set MB_MAGIC, 0x1BADB002
        .set MB_FLAGS, 0x3              # page-aligned modules, memory information
        .section .multiboot, "a"
        .align 4
        .long MB_MAGIC
        .long MB_FLAGS
        .long -(MB_MAGIC + MB_FLAGS)

        .text
        .globl _start
_start:
        mov $stack_top, %esp
        cmp $0x2BADB002, %eax
        jne 1f
        mov %ebx, boot_info
1:      cli
        hlt
        jmp 1b

        .data
        .globl greeting
greeting:
        .asciz "hello from a multiboot kernel"

        .bss
        .align 16
        .globl boot_info
boot_info:
        .skip 4
        .skip 8192
        .globl stack_top
stack_top:
`;

/** Links at `base` (virtual); physical addresses start at 1 MiB either way. */
const linkerScript = (base: number): string => `
ENTRY(_start)
SECTIONS {
  . = 0x${base.toString(16)};
  .text : AT(0x100000) { *(.multiboot) *(.text*) }
  . = ALIGN(0x1000);
  .data : AT(ADDR(.data) - 0x${(base - 0x100000).toString(16)}) { *(.data*) *(.rodata*) }
  .bss : AT(ADDR(.bss) - 0x${(base - 0x100000).toString(16)}) { *(.bss*) *(COMMON) }
  kernel_end = . - 0x${(base - 0x100000).toString(16)};
  /DISCARD/ : { *(.note*) *(.comment) *(.eh_frame*) }
}
`;

if (gccBuilds32Bit()) {
  describe('kernels built by gcc', () => {
    let dir = '';
    const built = new Map<string, { image: Uint8Array; sym: Map<string, number> }>();

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'vmmu-mb-kernel-'));
      writeFileSync(join(dir, 'kernel.S'), KERNEL_S);
      for (const [name, base] of [['low', 0x100000], ['high', 0xc0100000]] as const) {
        writeFileSync(join(dir, `${name}.ld`), linkerScript(base));
        const out = join(dir, `${name}.elf`);
        execFileSync('gcc', ['-m32', '-nostdlib', '-static', '-no-pie', `-Wl,-T,${join(dir, `${name}.ld`)}`,
          '-Wl,--build-id=none', '-Wl,-z,max-page-size=0x1000', '-o', out, join(dir, 'kernel.S')]);
        const sym = new Map<string, number>();
        for (const line of execFileSync('nm', [out], { encoding: 'utf8' }).split('\n')) {
          const [value, , symbol] = line.trim().split(/\s+/);
          if (value && symbol) sym.set(symbol, parseInt(value, 16));
        }
        built.set(name, { image: new Uint8Array(readFileSync(out)), sym });
      }
    });
    afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it.each([
      { name: 'low', virtualBase: 0 },
      { name: 'high', virtualBase: 0xc0000000 },
    ])('does the $name-linked kernel load where its symbols say, with bss zeroed and modules page aligned?', ({ name, virtualBase }) => {
      const k = built.get(name)!;
      const at = (symbol: string): number => k.sym.get(symbol)! - virtualBase;
      const module = bytesOf(300, 5);
      const { ram, boot: b } = boot(k.image, { imageName: `${name}.elf`, cmdline: `${name}.elf`, modules: [{ data: module, cmdline: 'mod.bin' }] });
      expect(b.entry).toBe(at('_start'));
      expect(ram.u32(0x100000)).toBe(MAGIC);
      // mov $stack_top, %esp is BC imm32
      expect(ram.bytes[at('_start')]).toBe(0xbc);
      expect(ram.u32(at('_start') + 1)).toBe(k.sym.get('stack_top'));
      expect(ram.cstring(at('greeting'))).toBe('hello from a multiboot kernel');
      expect(allEqual(ram.slice(at('boot_info'), at('stack_top')), 0)).toBe(true);
      const kernelEnd = k.sym.get('kernel_end')!;
      expect(b.ebx % 4096).toBe(0);
      expect(b.ebx).toBeGreaterThanOrEqual(kernelEnd);
      expect(b.ebx - kernelEnd).toBeLessThan(4096);
      const modStart = ram.u32(ram.u32(b.ebx + 24));
      expect(modStart % 4096).toBe(0);
      expect(ram.slice(modStart, modStart + 300)).toEqual(Array.from(module));
      expect(ram.cstring(ram.u32(b.ebx + 16))).toBe(`${name}.elf`);
    });
  });
}
