/**
 * The Linux boot protocol loader, checked on bzImage-shaped files built here
 * byte by byte: a setup area whose header fields are set per test and a
 * patterned protected-mode payload. Guest RAM is a sparse page map that
 * records every write, so placements high in a large address space cost
 * nothing. When a real Debian i386 kernel has been fetched into the guest
 * cache (`npm run guests`), its header is parsed and the kernel loaded too.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { format } from 'node:util';
import { join } from 'node:path';
import createDebug from 'debug';
import { describe, expect, it } from 'vitest';
import {
  loadLinux, LinuxBootError, parseSetupHeader,
  type GuestPhysicalWriter, type LinuxBoot, type LinuxLoadOptions,
} from '../../src/machine/linux.js';

const MiB = 1 << 20;
const PAGE = 4096;
const GARBAGE = 0xcc;

/** Sparse guest RAM: 4 KiB pages made on first write, unwritten bytes read as GARBAGE. */
class Ram implements GuestPhysicalWriter {
  readonly pages = new Map<number, Uint8Array>();
  readonly writes: { start: number; end: number }[] = [];
  writePhysBytes(gpa: number, data: Uint8Array): void {
    if (gpa < 0 || gpa + data.length > 2 ** 32) throw new RangeError(`write of ${data.length} bytes at ${gpa.toString(16)} is outside 4 GiB`);
    for (let done = 0; done < data.length;) {
      const at = gpa + done;
      const n = Math.min(PAGE - (at % PAGE), data.length - done);
      this.page(Math.floor(at / PAGE)).set(data.subarray(done, done + n), at % PAGE);
      done += n;
    }
    this.writes.push({ start: gpa, end: gpa + data.length });
  }
  private page(pfn: number): Uint8Array {
    let p = this.pages.get(pfn);
    if (!p) {
      p = new Uint8Array(PAGE).fill(GARBAGE);
      this.pages.set(pfn, p);
    }
    return p;
  }
  slice(start: number, end: number): Uint8Array {
    const out = new Uint8Array(end - start).fill(GARBAGE);
    for (let done = 0; done < out.length;) {
      const at = start + done;
      const n = Math.min(PAGE - (at % PAGE), out.length - done);
      const p = this.pages.get(Math.floor(at / PAGE));
      if (p) out.set(p.subarray(at % PAGE, at % PAGE + n), done);
      done += n;
    }
    return out;
  }
  u8(gpa: number): number {
    return this.slice(gpa, gpa + 1)[0]!;
  }
  u16(gpa: number): number {
    return viewOf(this.slice(gpa, gpa + 2)).getUint16(0, true);
  }
  u32(gpa: number): number {
    return viewOf(this.slice(gpa, gpa + 4)).getUint32(0, true);
  }
  cstring(gpa: number): string {
    const bytes: number[] = [];
    for (let at = gpa; this.u8(at) !== 0; at++) bytes.push(this.u8(at));
    return new TextDecoder().decode(Uint8Array.from(bytes));
  }
}

function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
function put8(b: Uint8Array, off: number, v: number): void {
  b[off] = v;
}
function put16(b: Uint8Array, off: number, v: number): void {
  viewOf(b).setUint16(off, v, true);
}
function put32(b: Uint8Array, off: number, v: number): void {
  viewOf(b).setUint32(off, v >>> 0, true);
}

interface Shape {
  version: number;
  /** the raw byte at 0x1f1 */
  setupSects: number;
  /** the byte at 0x201: the header ends at 0x202 + this */
  jumpLength: number;
  loadflags: number;
  payloadBytes: number;
  relocatable: number;
  kernelAlignment: number;
  prefAddress: number;
  initSize: number;
  initrdAddrMax: number;
  cmdlineSize: number;
}

const SHAPE: Shape = {
  version: 0x020f,
  setupSects: 4,
  jumpLength: 0x6a,
  loadflags: 0x01,
  payloadBytes: 0x3000,
  relocatable: 1,
  kernelAlignment: 0x200000,
  prefAddress: 0x1000000,
  initSize: 0x400000,
  initrdAddrMax: 0x37ffffff,
  cmdlineSize: 2047,
};

/**
 * A bzImage-shaped file: setup sectors full of a pattern (0xff at 0x1ef, the
 * byte the kernel checks as boot_params.sentinel), the setup header of
 * `shape`, a kernel_version string, then the protected-mode payload in a
 * different pattern.
 */
function bzImage(s: Partial<Shape> = {}): Uint8Array {
  const shape = { ...SHAPE, ...s };
  const sects = shape.setupSects === 0 ? 4 : shape.setupSects;
  const setupBytes = (sects + 1) * 512;
  const b = new Uint8Array(setupBytes + shape.payloadBytes);
  for (let i = 0; i < setupBytes; i++) b[i] = (i * 5 + 1) & 0xff;
  for (let i = setupBytes; i < b.length; i++) b[i] = (i * 7 + 3) & 0xff;
  put8(b, 0x1ef, 0xff);
  put8(b, 0x1f1, shape.setupSects);
  put16(b, 0x1f2, 1); // root_flags
  put32(b, 0x1f4, Math.floor(shape.payloadBytes / 16)); // syssize
  put16(b, 0x1fa, 0xfffd); // vid_mode "ask", which the loader overrides
  put16(b, 0x1fe, 0xaa55);
  put8(b, 0x200, 0xeb);
  put8(b, 0x201, shape.jumpLength);
  b.set([0x48, 0x64, 0x72, 0x53], 0x202); // "HdrS"
  put16(b, 0x206, shape.version);
  put32(b, 0x208, 0);
  put16(b, 0x20e, 0x600); // kernel_version -> 0x800
  b.set([...new TextEncoder().encode('6.1.0-test (vmmu@test) #1'), 0], 0x800);
  put8(b, 0x210, 0);
  put8(b, 0x211, shape.loadflags);
  put32(b, 0x214, 0x100000); // code32_start
  put32(b, 0x218, 0);
  put32(b, 0x21c, 0);
  put16(b, 0x224, 0);
  put32(b, 0x228, 0);
  put32(b, 0x22c, shape.initrdAddrMax);
  put32(b, 0x230, shape.kernelAlignment);
  put8(b, 0x234, shape.relocatable);
  put8(b, 0x235, 13); // min_alignment
  put16(b, 0x236, 0x0); // xloadflags
  put32(b, 0x238, shape.cmdlineSize);
  put32(b, 0x23c, 0); // hardware_subarch
  put32(b, 0x240, 0);
  put32(b, 0x244, 0);
  put32(b, 0x248, 0x100); // payload_offset
  put32(b, 0x24c, 0x200); // payload_length
  put32(b, 0x250, 0x11111111); // setup_data: garbage the loader must clear
  put32(b, 0x254, 0x22222222);
  put32(b, 0x258, shape.prefAddress);
  put32(b, 0x25c, 0);
  put32(b, 0x260, shape.initSize);
  put32(b, 0x264, 0x1234); // handover_offset, copied as is
  put32(b, 0x268, 0x5678); // kernel_info_offset, copied as is
  return b;
}

const KERNEL_OFFSET = 5 * 512;

/** A PC: 639 KiB of low RAM, EBDA, BIOS ROM, 63 MiB from 1 MiB. */
const E820: LinuxLoadOptions['e820'] = [
  { base: 0, length: 0x9fc00, type: 1 },
  { base: 0x9fc00, length: 0x400, type: 2 },
  { base: 0xf0000, length: 0x10000, type: 2 },
  { base: MiB, length: 63 * MiB, type: 1 },
];
const RAM_TOP = 64 * MiB;
const BP = 0x10000;
const GDT = 0x11000;
const CMDLINE_GPA = 0x11020;

function boot(kernel: Uint8Array, extra: Partial<LinuxLoadOptions> = {}, ram = new Ram()): { ram: Ram; boot: LinuxBoot } {
  const b = loadLinux(ram, { kernel, kernelName: 'bzImage', cmdline: 'console=ttyS0', e820: E820, ramTop: RAM_TOP, ...extra });
  return { ram, boot: b };
}

/** Loading must fail with a LinuxBootError naming `file` and `offset`, before anything is written. */
function expectError(kernel: Uint8Array, offset: number, problem: RegExp, extra: Partial<LinuxLoadOptions> = {}, file = 'bzImage'): LinuxBootError {
  const ram = new Ram();
  let caught: unknown;
  try {
    boot(kernel, extra, ram);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(LinuxBootError);
  const e = caught as LinuxBootError;
  expect(e.file).toBe(file);
  expect(e.offset).toBe(offset);
  expect(e.message).toContain(file);
  expect(e.message).toContain(`byte offset 0x${offset.toString(16)}`);
  expect(e.problem).toMatch(problem);
  expect(ram.writes).toEqual([]);
  return e;
}

const bytesOf = (n: number, seed: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * seed + 17) & 0xff);

describe('placing the kernel', () => {
  it('does the protected-mode kernel land at 1 MiB byte for byte from file offset (setup_sects+1)*512, with nothing of the setup code?', () => {
    const image = bzImage();
    const { ram, boot: b } = boot(image);
    expect(ram.slice(MiB, MiB + 0x3000)).toEqual(image.subarray(KERNEL_OFFSET));
    expect(ram.u8(MiB - 1)).toBe(GARBAGE);
    expect(ram.u8(MiB + 0x3000)).toBe(GARBAGE);
    expect(b.entry).toBe(MiB);
    // the setup sectors went nowhere: every write is the kernel, the boot block or nothing
    expect(ram.writes.map((w) => w.start).sort((x, y) => x - y)).toEqual([BP, MiB]);
  });

  it('with setup_sects 0, is the kernel taken from file offset 5*512 (0 counts as 4)?', () => {
    const image = bzImage({ setupSects: 0 });
    const { ram } = boot(image);
    expect(ram.slice(MiB, MiB + 0x3000)).toEqual(image.subarray(5 * 512));
  });

  it('with setup_sects 30, is the kernel taken from file offset 31*512?', () => {
    const image = bzImage({ setupSects: 30 });
    const { ram } = boot(image);
    expect(ram.slice(MiB, MiB + 0x3000)).toEqual(image.subarray(31 * 512));
  });

  it('is everything after the setup sectors loaded, even past syssize * 16?', () => {
    const image = bzImage({ payloadBytes: 0x3009 });
    const { ram, boot: b } = boot(image);
    expect(ram.slice(MiB, MiB + 0x3009)).toEqual(image.subarray(KERNEL_OFFSET));
    expect(b.loaded.find((l) => l.what === 'kernel')).toEqual({ what: 'kernel', start: MiB, end: MiB + 0x3009 });
  });

  it('when 1 MiB is not RAM and the kernel is relocatable, is it loaded at pref_address with code32_start pointing there?', () => {
    const e820: LinuxLoadOptions['e820'] = [
      { base: 0, length: 0xa0000, type: 1 },
      { base: MiB, length: 15 * MiB, type: 2 },
      { base: 16 * MiB, length: 48 * MiB, type: 1 },
    ];
    const image = bzImage();
    const { ram, boot: b } = boot(image, { e820 });
    expect(b.entry).toBe(16 * MiB);
    expect(ram.slice(16 * MiB, 16 * MiB + 0x3000)).toEqual(image.subarray(KERNEL_OFFSET));
    expect(ram.u32(b.bootParams + 0x214)).toBe(16 * MiB);
    expect(ram.u32(b.bootParams + 0x1e0)).toBe(0); // alt_mem_k: no RAM at 1 MiB
  });

  it('when the init_size window from the runtime start (align_up(1 MiB, kernel_alignment)) is cut by a hole, is pref_address used?', () => {
    const e820: LinuxLoadOptions['e820'] = [
      { base: 0, length: 0xa0000, type: 1 },
      { base: MiB, length: 63 * MiB, type: 1 },
      { base: 4 * MiB, length: 0x1000, type: 2 },
    ];
    const { boot: b } = boot(bzImage(), { e820 });
    expect(b.entry).toBe(16 * MiB);
  });
});

describe('the zero page (boot_params)', () => {
  /** The whole 4096-byte zero page the loader should write for bzImage() with the default map and no initrd. */
  function expectedZeroPage(image: Uint8Array): Uint8Array {
    const z = new Uint8Array(4096);
    z.set(image.subarray(0x1f1, 0x26c), 0x1f1);
    put16(z, 0x1fa, 0xffff); // vid_mode: normal
    put8(z, 0x210, 0xff); // type_of_loader
    put8(z, 0x211, 0x81); // LOADED_HIGH | CAN_USE_HEAP
    put32(z, 0x214, MiB); // code32_start
    put32(z, 0x218, 0);
    put32(z, 0x21c, 0);
    put16(z, 0x224, 0xde00); // heap_end_ptr
    put32(z, 0x228, CMDLINE_GPA);
    put32(z, 0x250, 0); // setup_data
    put32(z, 0x254, 0);
    put32(z, 0x1e0, 63 * 1024); // alt_mem_k
    put8(z, 0x1e8, 4);
    const e820 = [
      [0, 0x9fc00, 1], [0x9fc00, 0x400, 2], [0xf0000, 0x10000, 2], [MiB, 63 * MiB, 1],
    ];
    e820.forEach(([base, length, type], i) => {
      put32(z, 0x2d0 + 20 * i, base!);
      put32(z, 0x2d0 + 20 * i + 8, length!);
      put32(z, 0x2d0 + 20 * i + 16, type!);
    });
    return z;
  }

  it('is the zero page, byte for byte, zeros plus the copied setup header, the loader\'s fields and the e820 table?', () => {
    const image = bzImage();
    const { ram, boot: b } = boot(image);
    expect(b.bootParams).toBe(BP);
    expect(ram.slice(BP, BP + 4096)).toEqual(expectedZeroPage(image));
  });

  it('is the setup header copied from 0x1f1 up to 0x202 + the byte at 0x201, and nothing beyond?', () => {
    const image = bzImage({ version: 0x020a, jumpLength: 0x62 }); // header ends at 0x264
    const { ram } = boot(image);
    expect(ram.slice(BP + 0x258, BP + 0x264)).toEqual(image.subarray(0x258, 0x264));
    expect(ram.slice(BP + 0x264, BP + 0x26c)).toEqual(new Uint8Array(8));
    expect(ram.u16(BP + 0x1f2)).toBe(1); // root_flags kept
    expect(ram.u8(BP + 0x1f1)).toBe(4);
  });

  it('is the sentinel byte (0x1ef) and the rest of the boot sector left zero, so the kernel trusts the fields?', () => {
    const { ram } = boot(bzImage());
    expect(ram.slice(BP, BP + 0x1e0)).toEqual(new Uint8Array(0x1e0));
    expect(ram.u8(BP + 0x1ef)).toBe(0);
  });

  it('does screen_info say there is no screen (orig_video_isVGA, mode, columns and lines all 0)?', () => {
    const { ram } = boot(bzImage());
    expect(ram.u8(BP + 0x0f)).toBe(0); // orig_video_isVGA
    expect(ram.u8(BP + 0x06)).toBe(0); // orig_video_mode
    expect(ram.u8(BP + 0x07)).toBe(0); // orig_video_cols
    expect(ram.u8(BP + 0x0e)).toBe(0); // orig_video_lines
    expect(ram.slice(BP, BP + 0x40)).toEqual(new Uint8Array(0x40));
  });

  it('are type_of_loader 0xff and loadflags LOADED_HIGH | CAN_USE_HEAP, with QUIET and KEEP_SEGMENTS cleared if the file set them?', () => {
    const { ram } = boot(bzImage({ loadflags: 0x01 | 0x20 | 0x40 }));
    expect(ram.u8(BP + 0x210)).toBe(0xff);
    expect(ram.u8(BP + 0x211)).toBe(0x81);
    expect(ram.u16(BP + 0x224)).toBe(0xde00);
  });

  it('does cmd_line_ptr point at the NUL-terminated command line in low memory?', () => {
    const cmdline = 'console=ttyS0 root=/dev/ram0 init=/bin/sh — ünïcode';
    const { ram, boot: b } = boot(bzImage(), { cmdline });
    const ptr = ram.u32(b.bootParams + 0x228);
    expect(ptr).toBe(CMDLINE_GPA);
    expect(ptr).toBeLessThan(0xa0000);
    expect(ram.cstring(ptr)).toBe(cmdline);
    const bytes = new TextEncoder().encode(cmdline).length;
    expect(ram.u8(ptr + bytes)).toBe(0);
    expect(ram.u8(ptr + bytes + 1)).toBe(GARBAGE);
  });

  it('is an empty command line passed as a pointer to a NUL, and one of exactly cmdline_size bytes accepted?', () => {
    const { ram } = boot(bzImage(), { cmdline: '' });
    expect(ram.u32(BP + 0x228)).toBe(CMDLINE_GPA);
    expect(ram.u8(CMDLINE_GPA)).toBe(0);
    const long = 'x'.repeat(100);
    const { ram: ram2 } = boot(bzImage({ cmdlineSize: 100 }), { cmdline: long });
    expect(ram2.cstring(CMDLINE_GPA)).toBe(long);
  });

  it('are e820 entries written 20 bytes each at 0x2d0, sorted, with 64-bit fields, length-0 ones dropped, and counted at 0x1e8?', () => {
    const e820: LinuxLoadOptions['e820'] = [
      { base: MiB, length: 0xbff00000, type: 1 },
      { base: 0x1_0000_0000, length: 0x1_4000_0000, type: 1 },
      { base: 0xfec00000, length: 0x1000, type: 2 },
      { base: 0, length: 0x9fc00, type: 1 },
      { base: 0xc0000000 - 0x10000, length: 0x8000, type: 3 },
      { base: 0xc0000000 - 0x8000, length: 0x8000, type: 4 },
      { base: 0x500, length: 0, type: 2 },
    ];
    const { ram, boot: b } = boot(bzImage(), { e820, ramTop: 0xc0000000 });
    expect(ram.u8(b.bootParams + 0x1e8)).toBe(6);
    const words = Array.from({ length: 6 * 5 }, (_, i) => ram.u32(b.bootParams + 0x2d0 + 4 * i));
    expect(words).toEqual([
      0, 0, 0x9fc00, 0, 1,
      MiB, 0, 0xbff00000, 0, 1,
      0xbfff0000, 0, 0x8000, 0, 3,
      0xbfff8000, 0, 0x8000, 0, 4,
      0xfec00000, 0, 0x1000, 0, 2,
      0, 1, 0x40000000, 1, 1,
    ]);
    expect(ram.slice(b.bootParams + 0x2d0 + 6 * 20, b.bootParams + 0x2d0 + 7 * 20)).toEqual(new Uint8Array(20));
    // alt_mem_k: RAM from 1 MiB up to the ACPI tables at 0xbfff0000
    expect(ram.u32(b.bootParams + 0x1e0)).toBe((0xbfff0000 - MiB) / 1024);
  });

  it('with no initrd, are ramdisk_image and ramdisk_size zero, and is a 0-byte initrd the same?', () => {
    for (const initrd of [undefined, new Uint8Array(0)]) {
      const { ram, boot: b } = boot(bzImage(), initrd ? { initrd } : {});
      expect(ram.u32(BP + 0x218)).toBe(0);
      expect(ram.u32(BP + 0x21c)).toBe(0);
      expect(b.loaded.some((l) => l.what === 'initrd')).toBe(false);
    }
  });

  it('when low RAM starts higher, is the boot block at the first 4 KiB boundary that fits below 0xa0000?', () => {
    const e820: LinuxLoadOptions['e820'] = [
      { base: 0x20800, length: 0x7f400, type: 1 },
      { base: MiB, length: 63 * MiB, type: 1 },
    ];
    const { ram, boot: b } = boot(bzImage(), { e820 });
    expect(b.bootParams).toBe(0x21000);
    expect(b.gdtBase).toBe(0x22000);
    expect(ram.cstring(ram.u32(0x21000 + 0x228))).toBe('console=ttyS0');
  });
});

describe('placing the initrd', () => {
  const initrd = bytesOf(0x2345, 3);

  it('is the initrd at the highest 4 KiB boundary from which it ends below ramTop, with ramdisk_image/size set?', () => {
    const { ram, boot: b } = boot(bzImage(), { initrd, initrdName: 'initrd.img' });
    const expected = Math.floor((RAM_TOP - initrd.length) / PAGE) * PAGE;
    expect(expected).toBe(0x3ffd000);
    expect(ram.u32(b.bootParams + 0x218)).toBe(expected);
    expect(ram.u32(b.bootParams + 0x21c)).toBe(initrd.length);
    expect(ram.slice(expected, expected + initrd.length)).toEqual(initrd);
    expect(b.loaded.find((l) => l.what === 'initrd')).toEqual({ what: 'initrd', start: expected, end: expected + initrd.length });
  });

  it('with a ramTop not on a page boundary, does the initrd still end at or below it?', () => {
    const top = RAM_TOP - 0x800;
    const { ram } = boot(bzImage(), { initrd, ramTop: top });
    const at = ram.u32(BP + 0x218);
    expect(at).toBe(Math.floor((top - initrd.length) / PAGE) * PAGE);
    expect(at + initrd.length).toBeLessThanOrEqual(top);
  });

  it('when initrd_addr_max is below ramTop, does the initrd\'s last byte sit at or below initrd_addr_max?', () => {
    const { ram } = boot(bzImage({ initrdAddrMax: 0x1ffffff }), { initrd });
    const at = ram.u32(BP + 0x218);
    expect(at).toBe(0x1ffd000);
    expect(at + initrd.length - 1).toBeLessThanOrEqual(0x1ffffff);
    // exactly at the limit: a page-sized initrd ends on initrd_addr_max
    const { ram: ram2 } = boot(bzImage({ initrdAddrMax: 0x1ffffff }), { initrd: bytesOf(PAGE, 5) });
    expect(ram2.u32(BP + 0x218)).toBe(0x1fff000);
  });

  it('when the top of RAM is reserved in the e820 map, is the initrd placed below the reserved range?', () => {
    const e820: LinuxLoadOptions['e820'] = [...E820, { base: RAM_TOP - 0x10000, length: 0x10000, type: 4 }];
    const { ram } = boot(bzImage(), { initrd, e820 });
    expect(ram.u32(BP + 0x218)).toBe(Math.floor((RAM_TOP - 0x10000 - initrd.length) / PAGE) * PAGE);
  });

  it('when RAM is small, is the initrd kept clear of the kernel\'s init_size windows, landing in the highest gap that holds it?', () => {
    // 24 MiB of RAM: windows [1 MiB, +0x3000), [2 MiB, 6 MiB), [16 MiB, 20 MiB); the top gap is 20..24 MiB
    const e820: LinuxLoadOptions['e820'] = [{ base: 0, length: 0x9fc00, type: 1 }, { base: MiB, length: 23 * MiB, type: 1 }];
    const big = bytesOf(5 * MiB, 7);
    const { ram } = boot(bzImage(), { initrd: big, e820, ramTop: 24 * MiB });
    expect(ram.u32(BP + 0x218)).toBe(16 * MiB - 5 * MiB);
  });
});

describe('the GDT and the entry state', () => {
  it('are the GDT\'s four descriptors exactly null, null, flat code at 0x10 and flat data at 0x18?', () => {
    const { ram, boot: b } = boot(bzImage());
    expect(b.gdtBase).toBe(GDT);
    expect(b.gdtLimit).toBe(31);
    expect(Array.from(ram.slice(GDT, GDT + 32))).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0, 0,
      0xff, 0xff, 0x00, 0x00, 0x00, 0x9b, 0xcf, 0x00,
      0xff, 0xff, 0x00, 0x00, 0x00, 0x93, 0xcf, 0x00,
    ]);
    expect(b.gdtBase % 8).toBe(0);
  });

  it('does it list what it wrote in address order, with no two writes overlapping?', () => {
    const initrd = bytesOf(0x1000, 9);
    const { ram, boot: b } = boot(bzImage(), { initrd, cmdline: 'quiet' });
    expect(b.loaded).toEqual([
      { what: 'boot_params', start: BP, end: BP + 4096 },
      { what: 'GDT', start: GDT, end: GDT + 32 },
      { what: 'command line', start: CMDLINE_GPA, end: CMDLINE_GPA + 6 },
      { what: 'kernel', start: MiB, end: MiB + 0x3000 },
      { what: 'initrd', start: RAM_TOP - PAGE, end: RAM_TOP },
    ]);
    const writes = [...ram.writes].sort((x, y) => x.start - y.start);
    for (let i = 1; i < writes.length; i++) expect(writes[i]!.start).toBeGreaterThanOrEqual(writes[i - 1]!.end);
    for (const w of ram.writes) expect(b.loaded.some((l) => l.start >= w.start && l.end <= w.end)).toBe(true);
  });
});

describe('files shorter than syssize or the payload fields say (GRUB and QEMU boot them)', () => {
  /** The debug lines of vmmu:linux while `f` runs. */
  function debugLines(f: () => void): string[] {
    const lines: string[] = [];
    const saved = { log: createDebug.log, enabled: createDebug.disable() };
    createDebug.enable('vmmu:linux');
    createDebug.log = (...args: unknown[]): void => { lines.push(format(...args)); };
    try {
      f();
    } finally {
      createDebug.log = saved.log;
      createDebug.disable();
      if (saved.enabled) createDebug.enable(saved.enabled);
    }
    return lines;
  }

  it('when syssize rounds the kernel up to a whole paragraph, 9 bytes past the end of the file, does it boot, the missing bytes reading as zeros?', () => {
    const image = bzImage({ payloadBytes: 0x3007 });
    put32(image, 0x1f4, 0x301); // 0x3010 bytes: the file ends 9 bytes short
    let b: LinuxBoot | undefined;
    let ram: Ram | undefined;
    const said = debugLines(() => { ({ ram, boot: b } = boot(image)); });
    expect(b!.entry).toBe(MiB);
    expect(ram!.slice(MiB, MiB + 0x3007)).toEqual(image.subarray(KERNEL_OFFSET));
    expect([...ram!.slice(MiB + 0x3007, MiB + 0x3010)]).toEqual(new Array(9).fill(0));
    expect(ram!.u8(MiB + 0x3010)).toBe(GARBAGE); // nothing past syssize
    expect(b!.loaded.find((l) => l.what === 'kernel')).toEqual({ what: 'kernel', start: MiB, end: MiB + 0x3010 });
    expect(said.join('\n')).toMatch(/bzImage: syssize \(at 0x1f4\) says the protected-mode kernel is 0x3010 bytes, the file holds 0x3007 .*the 9 bytes after its end .* are loaded as zeros \(syssize counts whole 16-byte paragraphs\)/);
  });

  it('does a file that holds all of syssize and the payload get no such line?', () => {
    const said = debugLines(() => boot(bzImage()));
    expect(said.join('\n')).toMatch(/bzImage: protocol 2\.15/); // the lines were captured
    expect(said.join('\n')).not.toMatch(/zeros|syssize|payload/);
  });

  it('when the file is cut inside the protected-mode kernel, does it still load what there is (as GRUB and QEMU do), and say the file may be truncated?', () => {
    const image = bzImage().slice(0, KERNEL_OFFSET + 0x2000);
    let ram: Ram | undefined;
    const said = debugLines(() => { ({ ram } = boot(image)); });
    expect(ram!.slice(MiB, MiB + 0x2000)).toEqual(image.subarray(KERNEL_OFFSET));
    expect([...ram!.slice(MiB + 0x2000, MiB + 0x3000)].every((x) => x === 0)).toBe(true);
    expect(said.join('\n')).toMatch(/the 4096 bytes after its end .* loaded as zeros; if the kernel fails to decompress, the file may be truncated/);
  });

  it('when payload_offset + payload_length run past the file, does it boot too, the rest of the payload zeros?', () => {
    const image = bzImage();
    put32(image, 0x24c, 0x3000); // payload 0x100..0x30ff of the kernel, which holds 0x3000 bytes
    let ram: Ram | undefined;
    const said = debugLines(() => { ({ ram } = boot(image)); });
    expect([...ram!.slice(MiB + 0x3000, MiB + 0x3100)].every((x) => x === 0)).toBe(true);
    expect(said.join('\n')).toMatch(/payload_offset\/payload_length \(at 0x248\) put the payload at 0xb00\.\.0x3aff, past the end of the file at 0x3a00/);
  });

  it('is the zero tail kept clear of the initrd: with no room above it, is the initrd refused rather than laid over the zeros?', () => {
    // RAM from 1 MiB to 1 MiB + 0x40000; the file's 0x3000 bytes, then 0x1000 bytes of zeros, then exactly the initrd's room
    const e820: LinuxLoadOptions['e820'] = [{ base: 0, length: 0x9fc00, type: 1 }, { base: MiB, length: 0x40000, type: 1 }];
    const image = bzImage({ payloadBytes: 0x3000, relocatable: 0, version: 0x0209, jumpLength: 0x56 }); // 2.09: no init_size window
    put32(image, 0x1f4, 0x400); // syssize: 0x4000 bytes, 0x1000 of them past the end
    const fits = boot(image, { e820, ramTop: MiB + 0x40000, initrd: bytesOf(0x3c000, 3) });
    expect(fits.boot.loaded.find((l) => l.what === 'initrd')!.start).toBe(MiB + 0x4000);
    expect([...fits.ram.slice(MiB + 0x3000, MiB + 0x4000)].every((x) => x === 0)).toBe(true);
    expectError(image, 0, /249856 bytes do not fit.*clear of the kernel \(0x100000\.\.0x103fff/, { e820, ramTop: MiB + 0x40000, initrd: bytesOf(0x3d000, 3) }, 'initrd');
  });

  it('when the zeros would run out of RAM, are syssize and the payload fields ignored (as GRUB and QEMU ignore them)?', () => {
    const image = bzImage();
    put32(image, 0x1f4, 0x10000000); // 4 GiB
    let b: LinuxBoot | undefined;
    const said = debugLines(() => { ({ boot: b } = boot(image)); });
    expect(b!.loaded.find((l) => l.what === 'kernel')).toEqual({ what: 'kernel', start: MiB, end: MiB + 0x3000 });
    expect(said.join('\n')).toMatch(/would run out of usable RAM at 0x103000; they are not loaded/);
  });
});

describe('files and machines that cannot be booted', () => {
  it('with a bad boot flag, is it "not a bzImage" at 0x1fe?', () => {
    const image = bzImage();
    put16(image, 0x1fe, 0x55aa);
    expectError(image, 0x1fe, /not a bzImage.*0x55aa/);
  });

  it('without the "HdrS" magic, is it "not a bzImage" at 0x202?', () => {
    const image = bzImage();
    image[0x205] = 0x54;
    expectError(image, 0x202, /not a bzImage.*HdrS/);
  });

  it('with protocol 2.03, is it too old at 0x206?', () => {
    expectError(bzImage({ version: 0x0203 }), 0x206, /2\.03 is too old.*2\.04/);
  });

  it('when the header is shorter than its version defines, is the jump length at 0x201 blamed?', () => {
    expectError(bzImage({ version: 0x020a, jumpLength: 0x50 }), 0x201, /ends at 0x252.*2\.10 defines fields up to 0x264/);
  });

  it('without LOADED_HIGH in loadflags, is it refused at 0x211?', () => {
    expectError(bzImage({ loadflags: 0x80 }), 0x211, /LOADED_HIGH/);
  });

  it('when code32_start is not 1 MiB, is it refused at 0x214?', () => {
    const image = bzImage();
    put32(image, 0x214, 0x200000);
    expectError(image, 0x214, /code32_start is 0x200000/);
  });

  it.each([
    { what: 'before the boot flag', cut: 0x100, at: 0x100, problem: /before the boot flag/ },
    { what: 'inside the setup sectors', cut: 0x800, at: 0x800, problem: /setup_sects.*0xa00/ },
    { what: 'right at the end of the setup sectors', cut: KERNEL_OFFSET, at: KERNEL_OFFSET, problem: /setup_sects/ },
  ])('when the file is cut $what, does the error point at the end of the file?', ({ cut, at, problem }) => {
    expectError(bzImage().slice(0, cut), at, problem);
  });

  it('when the initrd does not fit below the limit, does the error name the initrd and the limit?', () => {
    const e = expectError(bzImage({ initrdAddrMax: 0x7fffff }), 0, /bytes do not fit.*0x800000.*initrd_addr_max/,
      { initrd: new Uint8Array(3 * MiB), initrdName: 'initrd.img' }, 'initrd.img');
    expect(e.problem).toContain('bzImage');
  });

  it('when the command line is longer than cmdline_size, is cmdline_size (0x238) blamed?', () => {
    expectError(bzImage({ cmdlineSize: 10 }), 0x238, /11 bytes.*at most 10/, { cmdline: 'x'.repeat(11) });
  });

  it('when a 2.05 kernel gets more than 255 bytes of command line, is the version blamed?', () => {
    expectError(bzImage({ version: 0x0205, jumpLength: 0x36 }), 0x206, /256 bytes.*at most 255.*before protocol 2\.06/, { cmdline: 'y'.repeat(256) });
  });

  it('when the e820 map has no RAM at 1 MiB and the kernel is not relocatable, is the protected-mode kernel blamed?', () => {
    const e820: LinuxLoadOptions['e820'] = [{ base: 0, length: 0xa0000, type: 1 }, { base: 2 * MiB, length: 62 * MiB, type: 1 }];
    expectError(bzImage({ relocatable: 0 }), KERNEL_OFFSET, /no usable RAM for the kernel at 0x100000/, { e820 });
  });

  it('when neither 1 MiB nor pref_address has RAM for a relocatable kernel, does the error say both?', () => {
    const e820: LinuxLoadOptions['e820'] = [{ base: 0, length: 0xa0000, type: 1 }, { base: 2 * MiB, length: 10 * MiB, type: 1 }];
    expectError(bzImage(), KERNEL_OFFSET, /0x100000.*relocatable.*pref_address 0x1000000/, { e820 });
  });

  it('when RAM ends inside a non-relocatable kernel\'s init_size window, is init_size (0x260) blamed?', () => {
    const e820: LinuxLoadOptions['e820'] = [{ base: 0, length: 0xa0000, type: 1 }, { base: MiB, length: 17 * MiB, type: 1 }];
    expectError(bzImage({ relocatable: 0 }), 0x260, /init_size 0x400000 needs 0x1000000\.\.0x13fffff/, { e820, ramTop: 18 * MiB });
  });

  it('when there is no low RAM for boot_params, is cmd_line_ptr (0x228) blamed?', () => {
    const e820: LinuxLoadOptions['e820'] = [{ base: 0, length: 0x10000, type: 1 }, { base: MiB, length: 63 * MiB, type: 1 }];
    expectError(bzImage(), 0x228, /no room for boot_params/, { e820 });
  });

  it('are a malformed e820 map, too many entries, a bad ramTop or a NUL in the command line RangeErrors instead?', () => {
    const image = bzImage();
    expect(() => boot(image, { e820: [{ base: -1, length: 10, type: 1 }] })).toThrow(RangeError);
    expect(() => boot(image, { e820: [{ base: 0, length: 10, type: 5 as 1 }] })).toThrow(RangeError);
    const many = Array.from({ length: 129 }, (_, i) => ({ base: 0x100000000 + i * PAGE, length: PAGE, type: 2 as const }));
    expect(() => boot(image, { e820: [...E820, ...many] })).toThrow(/at most 128/);
    expect(() => boot(image, { ramTop: 2 ** 32 + 1 })).toThrow(RangeError);
    expect(() => boot(image, { cmdline: 'a\0b' })).toThrow(RangeError);
  });
});

describe('reading the setup header', () => {
  it('does parseSetupHeader report the fields as found, with setup_sects 0 read as 4 and the kernel version string?', () => {
    const h = parseSetupHeader(bzImage({ setupSects: 0 }), 'bzImage');
    expect(h).toEqual({
      version: 0x020f, setupSects: 4, kernelOffset: 0xa00, kernelBytes: 0x3000, headerEnd: 0x26c, syssizeBytes: 0x3000, missingBytes: 0,
      loadflags: 1, code32Start: MiB, initrdAddrMax: 0x37ffffff, kernelAlignment: 0x200000, relocatable: true, minAlignment: 13,
      xloadflags: 0, cmdlineSize: 2047, payloadOffset: 0x100, payloadLength: 0x200, prefAddress: 0x1000000, initSize: 0x400000,
      kernelVersion: '6.1.0-test (vmmu@test) #1',
    });
  });

  it('for a 2.04 kernel, are the fields of later versions read as absent?', () => {
    const h = parseSetupHeader(bzImage({ version: 0x0204, jumpLength: 0x2e }), 'bzImage');
    expect(h).toMatchObject({ relocatable: false, kernelAlignment: 0, cmdlineSize: 255, prefAddress: 0, initSize: 0, payloadLength: 0 });
  });
});

interface CachedKernel {
  path: string;
  /** the kernel_version string the manifest recorded, when there is a manifest */
  versionString?: string;
}

/**
 * The kernels in the guest cache (`npm run guests` puts Debian's
 * linux-image-686 there): those its manifest.json lists, else every
 * vmlinuz* file found under the cache. Empty when there is no cache.
 */
function cachedKernels(): CachedKernel[] {
  const roots = [process.env.VMMU_GUEST_CACHE, join(homedir(), '.cache', 'vmmu', 'guests')].filter((r): r is string => !!r);
  for (const root of roots) {
    if (!existsSync(root)) continue;
    const fromManifest = manifestKernels(root);
    if (fromManifest.length > 0) return fromManifest;
    const found: CachedKernel[] = [];
    const walk = (dir: string, depth: number): void => {
      let names: string[];
      try {
        names = readdirSync(dir).sort();
      } catch {
        return;
      }
      for (const n of names) {
        const p = join(dir, n);
        const st = statSync(p, { throwIfNoEntry: false });
        if (st?.isFile() && /^vmlinuz/.test(n) && st.size > 0x10000) found.push({ path: p });
        else if (st?.isDirectory() && depth > 0) walk(p, depth - 1);
      }
    };
    walk(root, 4);
    if (found.length > 0) return found;
  }
  return [];
}

function manifestKernels(root: string): CachedKernel[] {
  try {
    const m = JSON.parse(readFileSync(join(root, 'manifest.json'), 'utf8')) as { kernels?: Record<string, { vmlinuz?: { path?: string }; versionString?: string }> };
    return Object.values(m.kernels ?? {})
      .filter((k) => typeof k.vmlinuz?.path === 'string' && existsSync(join(root, k.vmlinuz.path)))
      .map((k) => ({ path: join(root, k.vmlinuz!.path!), ...(typeof k.versionString === 'string' ? { versionString: k.versionString } : {}) }));
  } catch {
    return [];
  }
}

const debianKernels = cachedKernels();
if (debianKernels.length > 0) {
  describe.each(debianKernels)('a real Debian i386 kernel ($path)', ({ path, versionString }) => {
    const image = new Uint8Array(readFileSync(path));

    it('does its setup header hold plausible values for a 32-bit relocatable bzImage?', () => {
      const h = parseSetupHeader(image, path);
      expect(h.version).toBeGreaterThanOrEqual(0x020c);
      expect(h.setupSects).toBeGreaterThanOrEqual(4);
      expect(h.setupSects).toBeLessThanOrEqual(64);
      expect(h.headerEnd).toBeGreaterThanOrEqual(0x264);
      expect(h.loadflags & 1).toBe(1);
      expect(h.syssizeBytes).toBeGreaterThan(0);
      expect(h.syssizeBytes).toBeLessThanOrEqual(h.kernelBytes);
      expect(h.relocatable).toBe(true);
      expect(h.kernelAlignment & (h.kernelAlignment - 1)).toBe(0);
      expect(h.kernelAlignment).toBeGreaterThanOrEqual(0x2000);
      expect(h.prefAddress).toBeGreaterThanOrEqual(MiB);
      expect(h.prefAddress % h.kernelAlignment).toBe(0);
      expect(h.initSize).toBeGreaterThan(h.kernelBytes);
      // 0x37ffffff (896 MiB of lowmem) in old i386 kernels, 0x7fffffff since the kernel moves a high initrd itself
      expect([0x37ffffff, 0x7fffffff]).toContain(h.initrdAddrMax);
      expect(h.cmdlineSize).toBeGreaterThanOrEqual(255);
      expect(h.xloadflags & 1).toBe(0); // no 64-bit entry: a 32-bit kernel
      expect(h.kernelVersion).toMatch(/^\d+\.\d+\.\d+/);
      if (versionString !== undefined) expect(h.kernelVersion).toBe(versionString);
      expect(h.payloadLength).toBeGreaterThan(0);
      expect(h.payloadOffset + h.payloadLength).toBeLessThanOrEqual(h.kernelBytes);
      const p = h.kernelOffset + h.payloadOffset;
      const magic = (image[p]! << 8) | image[p + 1]!;
      // gzip, gzip (old), bzip2, LZMA, XZ, LZ4, ZSTD (boot.rst, payload_offset)
      expect([0x1f8b, 0x1f9e, 0x425a, 0x5d00, 0xfd37, 0x0221, 0x28b5]).toContain(magic);
    });

    it('does it load at 1 MiB with an initrd high in a 256 MiB map and the header copied into boot_params?', () => {
      const h = parseSetupHeader(image, path);
      const e820: LinuxLoadOptions['e820'] = [
        { base: 0, length: 0x9fc00, type: 1 }, { base: 0x9fc00, length: 0x400, type: 2 },
        { base: 0xf0000, length: 0x10000, type: 2 }, { base: MiB, length: 255 * MiB, type: 1 },
      ];
      const initrd = bytesOf(3 * MiB + 5, 11);
      const { ram, boot: b } = boot(image, { kernelName: path, e820, ramTop: 256 * MiB, initrd, cmdline: 'console=ttyS0 earlyprintk=serial' });
      expect(b.entry).toBe(MiB);
      expect(Buffer.from(ram.slice(MiB, MiB + h.kernelBytes)).equals(image.subarray(h.kernelOffset))).toBe(true);
      expect(ram.slice(b.bootParams + 0x1f1, b.bootParams + 0x1fa)).toEqual(image.subarray(0x1f1, 0x1fa));
      expect(ram.u32(b.bootParams + 0x202)).toBe(0x53726448);
      expect(ram.u16(b.bootParams + 0x206)).toBe(h.version);
      expect(ram.u32(b.bootParams + 0x218)).toBe(256 * MiB - 3 * MiB - PAGE);
      expect(ram.u32(b.bootParams + 0x21c)).toBe(initrd.length);
      expect(ram.cstring(ram.u32(b.bootParams + 0x228))).toBe('console=ttyS0 earlyprintk=serial');
    });
  });
}
