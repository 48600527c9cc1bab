/**
 * The newc writer, checked against headers computed by hand, an independent
 * reader, and the host's cpio and bsdtar when they are installed (those
 * tests are not registered otherwise: a test that cannot run is not a test).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CpioError, S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, writeNewc, type CpioEntry } from '../../src/guests/cpio.js';
import { readNewc } from './newc-reader.js';

/** Registers nothing: for checks whose tool is not on this machine. */
const itNot = (_name: string, _fn: () => void): void => {};

const hasTool = (tool: string, versionFlag = '--version'): boolean => spawnSync(tool, [versionFlag]).status === 0;

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

describe('the host\'s archivers', () => {
  const archive = writeNewc(SAMPLE);
  (hasTool('cpio') ? it : itNot)('does GNU cpio list the members with their types, modes and device numbers?', () => {
    const names = spawnSync('cpio', ['-it', '--quiet'], { input: archive, encoding: 'utf8' });
    expect(names.status, names.stderr).toBe(0);
    expect(names.stdout.trim().split('\n')).toEqual(SAMPLE.map((e) => e.path));
    const r = spawnSync('cpio', ['-itv', '--quiet'], { input: archive, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.find((l) => l.endsWith('dev/ttyS0'))).toMatch(/^crw-rw----\s.*\b4,\s+64\b/);
    expect(lines.find((l) => l.includes('bin/sh'))).toMatch(/^lrwxrwxrwx\s.*bin\/sh -> busybox$/);
    expect(lines.find((l) => l.endsWith(' tmp'))).toMatch(/^drwxrwxrwt/);
  });

  (hasTool('bsdtar') ? it : itNot)('does bsdtar read the archive back with the same file contents?', () => {
    const r = spawnSync('bsdtar', ['-xOf', '-', 'init'], { input: archive, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('#!/bin/sh\necho hi\n');
    const list = spawnSync('bsdtar', ['-tf', '-'], { input: archive, encoding: 'utf8' });
    expect(list.stdout.trim().split('\n')).toEqual(SAMPLE.map((e) => e.path));
  });
});
