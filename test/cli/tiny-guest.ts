/**
 * Tiny Multiboot guests for the boot command's tests, assembled here by
 * hand (a.out kludge, loaded at 1 MiB): they print given bytes on COM1,
 * spin, idle or exit, in milliseconds instead of a Linux boot's minutes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const LOAD = 0x100000;
const HEADER = 32; // the header's 8 fields; code follows

/** A piece of guest code; `at` is its address, for the instructions that need one. */
type Piece = (at: number) => number[];

const u32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];

/** Writes `bytes` to COM1 (0x3f8), one OUT each. */
export const print = (bytes: Uint8Array | string): Piece => () => {
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes;
  const code: number[] = [0x66, 0xba, 0xf8, 0x03]; // mov dx, 0x3f8
  for (const b of data) code.push(0xb0, b, 0xee); // mov al, b; out dx, al
  return code;
};

/** Counts ECX down from `n` (about 2n instructions of silence). */
export const spin = (n: number): Piece => () => [0xb9, ...u32(n), 0x49, 0x75, 0xfd]; // mov ecx, n; l: dec ecx; jnz l

/** Loops forever without a sound. */
export const forever: Piece = () => [0xeb, 0xfe]; // jmp $

/** Masks every interrupt at the PICs, enables interrupts and halts for good: the CPU waits, for nothing. */
export const idle: Piece = () => [
  0xb0, 0xff, 0xe6, 0x21, 0xe6, 0xa1, // mov al, 0xff; out 0x21, al; out 0xa1, al
  0xfb, 0xf4, 0xeb, 0xfd, // sti; l: hlt; jmp l
];

/** Writes 0 to isa-debug-exit (port 0xf4): the run, and the command, end with exit status (0 << 1) | 1 = 1. */
export const exit: Piece = () => [0x66, 0xba, 0xf4, 0x00, 0xb0, 0x00, 0xee, 0xf4]; // mov dx, 0xf4; mov al, 0; out dx, al; hlt

/**
 * Prints every Multiboot module (EBX -> the info structure at entry): its
 * bytes, then its command line and a newline, in list order, then
 * `mods_count`'s worth of nothing else. EBX must still hold the info address.
 */
export const printModules: Piece = () => {
  const code: number[] = [];
  const label: Record<string, number> = {};
  const fix: { at: number; to: string }[] = [];
  const put = (...b: number[]): void => { code.push(...b); };
  const jump = (op: number, to: string): void => { put(op, 0); fix.push({ at: code.length - 1, to }); };
  put(0x8b, 0x73, 0x14); // mov esi, [ebx+20]   mods_count
  put(0x8b, 0x7b, 0x18); // mov edi, [ebx+24]   mods_addr
  put(0x66, 0xba, 0xf8, 0x03); // mov dx, 0x3f8
  label.next = code.length;
  put(0x85, 0xf6); // test esi, esi
  jump(0x74, 'done'); // jz done
  put(0x8b, 0x0f); // mov ecx, [edi]      mod_start
  put(0x8b, 0x6f, 0x04); // mov ebp, [edi+4]  mod_end
  label.data = code.length;
  put(0x39, 0xe9); // cmp ecx, ebp
  jump(0x73, 'line'); // jae line
  put(0x8a, 0x01, 0xee, 0x41); // mov al, [ecx]; out dx, al; inc ecx
  jump(0xeb, 'data');
  label.line = code.length;
  put(0x8b, 0x4f, 0x08); // mov ecx, [edi+8]  the module's command line
  label.char = code.length;
  put(0x8a, 0x01, 0x84, 0xc0); // mov al, [ecx]; test al, al
  jump(0x74, 'end'); // jz end
  put(0xee, 0x41); // out dx, al; inc ecx
  jump(0xeb, 'char');
  label.end = code.length;
  put(0xb0, 0x0a, 0xee); // mov al, 10; out dx, al
  put(0x83, 0xc7, 0x10, 0x4e); // add edi, 16; dec esi
  jump(0xeb, 'next');
  label.done = code.length;
  for (const f of fix) code[f.at] = (label[f.to]! - (f.at + 1)) & 0xff;
  return code;
};

/** The Multiboot image of the pieces, one after the other. */
export function tinyGuest(...pieces: Piece[]): Uint8Array {
  const code: number[] = [];
  for (const p of pieces) code.push(...p(LOAD + HEADER + code.length));
  const magic = 0x1badb002;
  const flags = 0x00010000; // the a.out kludge: the header says where to load
  const header = [magic, flags, (-(magic + flags)) >>> 0, LOAD, LOAD, 0, 0, LOAD + HEADER].flatMap(u32);
  return new Uint8Array([...header, ...code]);
}

/** Writes the image into `dir` as `name` and returns the path. */
export function writeGuest(dir: string, name: string, ...pieces: Piece[]): string {
  const path = join(dir, name);
  writeFileSync(path, tinyGuest(...pieces));
  return path;
}
