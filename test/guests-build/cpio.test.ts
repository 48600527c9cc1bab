/**
 * The newc writer, checked against headers computed by hand, an independent
 * reader of the tests' own, and the host's GNU cpio (Debian's `cpio`, a
 * native program: installed by host-cpio.ts when missing). Extracting
 * device nodes needs root, as `npm run guests` does.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CpioError, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, writeNewc, type CpioEntry } from '../../src/guests/cpio.js';
import { readNewc } from './newc-reader.js';
import { hostCpio } from './host-cpio.js';

const SAMPLE: CpioEntry[] = [
  { kind: 'dir', path: 'bin', mode: 0o755 },
  { kind: 'dir', path: 'dev', mode: 0o755 },
  { kind: 'file', path: 'bin/busybox', mode: 0o755, data: new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 1]) },
  { kind: 'symlink', path: 'bin/sh', target: 'busybox' },
  { kind: 'chardev', path: 'dev/ttyS0', mode: 0o660, major: 4, minor: 64 },
  { kind: 'blockdev', path: 'dev/ram0', mode: 0o600, major: 1, minor: 0 },
  { kind: 'dir', path: 'tmp', mode: 0o1777 },
  { kind: 'file', path: 'init', mode: 0o755, data: new TextEncoder().encode('#!/bin/sh\necho hi\n') },
];

describe('newc headers', () => {
  it('does a one-file archive match the bytes computed by hand?', () => {
    const archive = writeNewc([{ kind: 'file', path: 'init', mode: 0o755, data: new TextEncoder().encode('hi\n') }]);
    // magic, ino 1, mode 0100755, uid 0, gid 0, nlink 1, mtime 0, filesize 3, dev 0:0, rdev 0:0, namesize 5 ("init" NUL), check 0
    const fileHeader = ('070701' + '00000001' + '000081ED' + '00000000' + '00000000' + '00000001' + '00000000'
      + '00000003' + '00000000' + '00000000' + '00000000' + '00000000' + '00000005' + '00000000');
    // 110 + 5 = 115 bytes, padded to 116; data 3 bytes, padded to 4
    const trailerHeader = ('070701' + '00000000' + '00000000' + '00000000' + '00000000' + '00000001' + '00000000'
      + '00000000' + '00000000' + '00000000' + '00000000' + '00000000' + '0000000B' + '00000000');
    // 110 + 11 = 121 bytes, padded to 124
    const expected = `${fileHeader}init\0\0hi\n\0${trailerHeader}TRAILER!!!\0\0\0\0`;
    expect(expected.length).toBe(116 + 4 + 124);
    expect(Buffer.from(archive).toString('latin1')).toBe(expected);
  });

  it('does each kind of member get its type bits, link count and device numbers?', () => {
    const members = readNewc(writeNewc(SAMPLE));
    expect(members.map((m) => m.name)).toEqual(SAMPLE.map((e) => e.path));
    const byName = new Map(members.map((m) => [m.name, m]));
    expect(byName.get('bin')).toMatchObject({ mode: S_IFDIR | 0o755, nlink: 2 });
    expect(byName.get('tmp')).toMatchObject({ mode: S_IFDIR | 0o1777 });
    expect(byName.get('bin/busybox')).toMatchObject({ mode: S_IFREG | 0o755, nlink: 1 });
    expect(Array.from(byName.get('bin/busybox')!.data)).toEqual([0x7f, 0x45, 0x4c, 0x46, 1]);
    expect(byName.get('bin/sh')!.mode).toBe(S_IFLNK | 0o777);
    expect(new TextDecoder().decode(byName.get('bin/sh')!.data)).toBe('busybox');
    expect(byName.get('dev/ttyS0')).toMatchObject({ mode: S_IFCHR | 0o660, rdevMajor: 4, rdevMinor: 64, devMajor: 0, devMinor: 0 });
    expect(byName.get('dev/ram0')).toMatchObject({ mode: 0o060600, rdevMajor: 1, rdevMinor: 0 });
  });

  it('are inode numbers unique and mtimes, owners and checks the fixed values?', () => {
    const members = readNewc(writeNewc(SAMPLE, { mtime: 1234, uid: 5, gid: 6 }));
    expect(new Set(members.map((m) => m.ino)).size).toBe(members.length);
    for (const m of members) expect(m).toMatchObject({ mtime: 1234, uid: 5, gid: 6, check: 0 });
  });

  it('does every data length from 0 to 8 keep the next member 4-byte aligned?', () => {
    for (let n = 0; n <= 8; n++) {
      const entries: CpioEntry[] = [
        { kind: 'file', path: `f${'x'.repeat(n)}`, mode: 0o644, data: new Uint8Array(n).fill(0xaa) },
        { kind: 'file', path: 'next', mode: 0o644, data: new Uint8Array([1]) },
      ];
      const members = readNewc(writeNewc(entries)); // the reader throws on misalignment or dirty padding
      expect(members[1]!.offset % 4).toBe(0);
      expect(members[0]!.data.length).toBe(n);
    }
  });

  it('is the same list always written to the same bytes?', () => {
    expect(Buffer.from(writeNewc(SAMPLE)).equals(Buffer.from(writeNewc(SAMPLE)))).toBe(true);
  });
});

describe('members the kernel could not unpack', () => {
  const bad = (entries: CpioEntry[]): (() => Uint8Array) => () => writeNewc(entries);
  it('what if a file comes before its directory?', () => {
    expect(bad([{ kind: 'file', path: 'bin/sh', mode: 0o755, data: new Uint8Array() }])).toThrow(/before its directory bin/);
  });
  it('what if a path is absolute, has "..", or appears twice?', () => {
    expect(bad([{ kind: 'dir', path: '/bin', mode: 0o755 }])).toThrow(CpioError);
    expect(bad([{ kind: 'dir', path: 'a/../b', mode: 0o755 }])).toThrow(CpioError);
    expect(bad([{ kind: 'dir', path: 'a', mode: 0o755 }, { kind: 'dir', path: 'a', mode: 0o755 }])).toThrow(/twice/);
  });
  it('what if a symlink has no target or a device number does not fit 32 bits?', () => {
    expect(bad([{ kind: 'symlink', path: 's', target: '' }])).toThrow(/empty target/);
    expect(bad([{ kind: 'chardev', path: 'c', mode: 0o600, major: 2 ** 32, minor: 0 }])).toThrow(/8 hex digits/);
  });
});

describe('GNU cpio, an independent reader', () => {
  // Not the guests' busybox: that is an i386 program, which hosts without
  // 32-bit support cannot execute.
  let cpio = '';
  beforeAll(() => {
    cpio = hostCpio();
  }, 600_000);
  const archive = writeNewc(SAMPLE);

  it('is the reader a program for the host\'s own machine type, as node is (so it runs wherever the tests do)?', () => {
    const machine = (path: string): number => readFileSync(path).readUInt16LE(18); // ELF e_machine
    expect(machine(cpio)).toBe(machine(process.execPath));
  });

  it('does `cpio -t` list every member, and `cpio -tv` each one\'s type, mode, device numbers and link target?', () => {
    const names = spawnSync(cpio, ['-t', '--quiet'], { input: archive, encoding: 'utf8' });
    expect(names.status, names.stderr).toBe(0);
    expect(names.stdout.trim().split('\n')).toEqual(SAMPLE.map((e) => e.path));
    const r = spawnSync(cpio, ['-tv', '--quiet'], { input: archive, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(SAMPLE.length);
    expect(lines.find((l) => l.endsWith(' dev/ttyS0'))).toMatch(/^crw-rw---- .* 4, +64 .* dev\/ttyS0$/);
    expect(lines.find((l) => l.endsWith(' dev/ram0'))).toMatch(/^brw------- .* 1, +0 .* dev\/ram0$/);
    expect(lines.find((l) => l.includes(' bin/sh'))).toMatch(/^lrwxrwxrwx .* bin\/sh -> busybox$/);
    expect(lines.find((l) => l.endsWith(' bin/busybox'))).toMatch(/^-rwxr-xr-x .* 5 .* bin\/busybox$/);
    expect(lines.find((l) => l.endsWith(' tmp'))).toMatch(/^drwxrwxrwt /);
  });

  it('does `cpio -i` extract the same contents and device numbers?', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmmu-cpio-'));
    try {
      const r = spawnSync(cpio, ['-i', '-d', '-m', '--quiet'], { input: archive, cwd: dir, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(join(dir, 'init'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
      expect([...readFileSync(join(dir, 'bin/busybox'))]).toEqual([0x7f, 0x45, 0x4c, 0x46, 1]);
      expect(readlinkSync(join(dir, 'bin/sh'))).toBe('busybox');
      // Linux's dev_t: major in bits 8-19, minor in bits 0-7 and 20-31.
      const dev = (path: string): [number, number] => {
        const rdev = lstatSync(join(dir, path)).rdev;
        return [(rdev >> 8) & 0xfff, (rdev & 0xff) | ((rdev >> 12) & 0xfff00)];
      };
      expect(lstatSync(join(dir, 'dev/ttyS0')).isCharacterDevice()).toBe(true);
      expect(dev('dev/ttyS0')).toEqual([4, 64]);
      expect(lstatSync(join(dir, 'dev/ram0')).isBlockDevice()).toBe(true);
      expect(dev('dev/ram0')).toEqual([1, 0]);
      expect(lstatSync(join(dir, 'tmp')).mode & 0o7777).toBe(0o1777);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
