/**
 * `vmmu boot --arch` without a boot: which CPU each architecture gets under
 * a user's --cpu, which guest files it picks from a cache (a fake one, built
 * by the guest pipeline from a fake archive), and the mistakes it refuses.
 * test/cli/bad-input.test.ts runs the same mistakes through the command.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archCpu, defaultGuest, parseArch } from '../../src/cli/arch.js';
import { OptionError } from '../../src/cli/options.js';
import { ensureGuests } from '../../src/guests/build.js';
import { APPLETS } from '../../src/guests/init-scripts.js';
import { GuestsMissingError } from '../../src/guests/paths.js';
import { ensureGuests64 } from '../../src/guests/x86_64.js';
import { amd64Archive, FakeSource } from '../guests-build/fake-source.js';

describe('--arch values', () => {
  it('is i686 the default, and are i686 and x86_64 taken as they are?', () => {
    expect(parseArch(undefined)).toBe('i686');
    expect(parseArch('i686')).toBe('i686');
    expect(parseArch('x86_64')).toBe('x86_64');
  });

  it('is any other value refused with the values there are (and Debian\'s names pointed to theirs)?', () => {
    expect(() => parseArch('arm64')).toThrow(OptionError);
    expect(() => parseArch('arm64')).toThrow(/^--arch: 'arm64' is not one of i686, x86_64 \(uname -m's names\)$/);
    expect(() => parseArch('amd64')).toThrow(/not one of i686, x86_64 \(uname -m's names; x86_64 is Debian's amd64\)/);
    expect(() => parseArch('i386')).toThrow(/not one of i686, x86_64 \(uname -m's names; i686 is Debian's i386 686 kernel\)/);
    expect(() => parseArch('X86_64')).toThrow(/'X86_64' is not one of/);
    expect(() => parseArch('')).toThrow(/'' is not one of/);
  });
});

describe('the CPU of each architecture, under --cpu', () => {
  it('does x86_64 turn on lm, sse and sse2, and i686 leave the default CPU?', () => {
    const x = archCpu('x86_64');
    expect(['lm', 'sse', 'sse2', 'pae'].every((f) => x.has(f))).toBe(true);
    expect(x.toString()).toBe('+sse,+sse2,+lm');
    expect(archCpu('i686').toString()).toBe('');
    expect(archCpu('i686').has('lm')).toBe(false);
  });

  it('does a user\'s --cpu apply on top (features it needs lm for included), and to i686 as it always did?', () => {
    expect(archCpu('x86_64', '+la57,+pcid,-pge').toString()).toBe('-pge,+sse,+sse2,+pcid,+la57,+lm');
    expect(archCpu('x86_64', '+apic').has('apic')).toBe(true);
    // the user's last word on a feature decides
    expect(archCpu('x86_64', '-sse,+sse').has('sse')).toBe(true);
    expect(archCpu('i686', '+lm,+sse').toString()).toBe('+sse,+lm');
    expect(archCpu('i686', '-pae').has('pae')).toBe(false);
  });

  it('is a --cpu that turns off what x86_64 needs refused, naming the item and why?', () => {
    expect(() => archCpu('x86_64', '-lm')).toThrow(OptionError);
    expect(() => archCpu('x86_64', '-lm')).toThrow(/^--cpu -lm: --arch x86_64 needs lm \(long mode: 64-bit code\), so --cpu cannot turn it off$/);
    expect(() => archCpu('x86_64', '+smep, -SSE2')).toThrow(/^--cpu -SSE2: --arch x86_64 needs sse2 /);
    expect(() => archCpu('x86_64', '+sse,-sse')).toThrow(/^--cpu -sse: --arch x86_64 needs sse /);
    expect(() => archCpu('x86_64', '-pae')).toThrow(/^--cpu -pae: --arch x86_64 needs pae \(long mode pages through PAE-format tables\)/);
  });

  it('are --cpu\'s own mistakes reported as before, with --cpu named?', () => {
    expect(() => archCpu('x86_64', '+avx')).toThrow(/^--cpu: no feature 'avx' \(the features: /);
    expect(() => archCpu('i686', '+la57')).toThrow(/^--cpu: 'la57' needs 'lm' \(\+lm,\+la57\)$/);
    expect(() => archCpu('x86_64', 'smep')).toThrow(/^--cpu: 'smep' must be \+NAME/);
  });
});

describe('the default guest of each architecture', () => {
  let cacheDir: string;
  beforeAll(() => {
    cacheDir = mkdtempSync(join(tmpdir(), 'vmmu-arch-'));
  });
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

  it('without the 64-bit files, does x86_64 say what is missing and which command makes it (and i686 likewise)?', () => {
    expect(() => defaultGuest('x86_64', true, cacheDir)).toThrow(GuestsMissingError);
    expect(() => defaultGuest('x86_64', true, cacheDir)).toThrow(/64-bit guest files are not ready in .*x86_64: .*Run `npm run guests -- --arch x86_64`/);
    expect(() => defaultGuest('i686', true, cacheDir)).toThrow(/Linux guest files are not ready in .*Run `npm run guests`/);
  });

  it('does each take its own kernel, the shell image on a terminal and the batch image otherwise?', () => {
    const listApplets = (): string[] => [...APPLETS];
    ensureGuests({ cacheDir, source: new FakeSource(), listApplets });
    ensureGuests64({ cacheDir, source: amd64Archive(), listApplets });
    const x = (interactive: boolean) => defaultGuest('x86_64', interactive, cacheDir);
    expect(x(true)).toEqual({
      kernel: join(cacheDir, 'x86_64/kernels/vmlinuz-6.1.0-50-cloud-amd64'),
      initrd: join(cacheDir, 'x86_64/initramfs/shell.cpio.gz'),
      cmdline: 'console=ttyS0 quiet panic=-1 cryptomgr.notests noisapnp',
      what: 'Debian 6.1.0-50-cloud-amd64 with a busybox shell',
    });
    expect(x(false)).toMatchObject({ initrd: join(cacheDir, 'x86_64/initramfs/batch.cpio.gz'), what: 'Debian 6.1.0-50-cloud-amd64 with the batch initramfs (it runs its checks and powers off)' });
    expect(defaultGuest('i686', true, cacheDir)).toEqual({
      kernel: join(cacheDir, 'kernels/vmlinuz-6.1.0-50-686'),
      initrd: join(cacheDir, 'initramfs/shell.cpio.gz'),
      cmdline: 'console=ttyS0 quiet panic=-1 cryptomgr.notests noisapnp',
      what: 'Debian 6.1.0-50-686 with a busybox shell',
    });
    expect(defaultGuest('i686', false, cacheDir).initrd).toBe(join(cacheDir, 'initramfs/batch.cpio.gz'));
  });
});
