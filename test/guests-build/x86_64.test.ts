/**
 * The opt-in 64-bit guest (`npm run guests -- --arch x86_64`, src/guests/x86_64.ts)
 * against a fake Debian archive: which kernel it takes, where the files
 * go, what a second run does, and the per-architecture batch expectations.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureGuests } from '../../src/guests/build.js';
import { APPLETS, missingBatchLines, SHELL_INIT } from '../../src/guests/init-scripts.js';
import { initramfsRecipe } from '../../src/guests/initramfs.js';
import { GuestsMissingError } from '../../src/guests/paths.js';
import { ensureGuests64, findGuestFiles64, guestFiles64 } from '../../src/guests/x86_64.js';
import { amd64Archive, bookworm, fakeBusybox, fakeBusybox64, FakeSource } from './fake-source.js';
import { readNewc } from './newc-reader.js';

let cacheDir: string;
beforeEach(() => {
  cacheDir = mkdtempSync(join(tmpdir(), 'vmmu-guests64-'));
});
afterEach(() => {
  rmSync(cacheDir, { recursive: true, force: true });
});

const options = (source: FakeSource) => ({ cacheDir, source, listApplets: () => [...APPLETS] });

describe('npm run guests -- --arch x86_64', () => {
  it('without the i386 files, does it take the metapackage\'s kernel and build the batch image around the amd64 busybox, under x86_64/?', () => {
    const source = amd64Archive();
    const r = ensureGuests64(options(source));
    expect(r.dir).toBe(join(cacheDir, 'x86_64'));
    expect(r.manifest.kernel).toMatchObject({ release: '6.1.0-51-cloud-amd64', bootProtocol: '2.15' });
    expect(r.manifest.kernel.package).toMatchObject({ name: 'linux-image-6.1.0-51-cloud-amd64', version: '6.1.180-1', arch: 'amd64' });
    expect(r.manifest.busybox.package.arch).toBe('amd64');
    const image = readNewc(gunzipSync(readFileSync(join(r.dir, r.manifest.initramfs.batch.file.path))));
    expect(Buffer.from(image.find((e) => e.name === 'bin/busybox')!.data).equals(Buffer.from(fakeBusybox64()))).toBe(true);
    expect(existsSync(join(cacheDir, 'manifest.json'))).toBe(false); // the i386 manifest is not written
    expect(existsSync(join(r.dir, 'tmp'))).toBe(false);
    const f = findGuestFiles64(cacheDir);
    expect(f.ok && f.kernel).toBe(join(cacheDir, 'x86_64/kernels/vmlinuz-6.1.0-51-cloud-amd64'));
    expect(r.manifest.guest.batchLines.some((l) => l.includes('x86_64'))).toBe(true);
  });

  it('with the i386 files there, does it take the 686 kernel\'s ABI and version, and a second run only verify?', () => {
    ensureGuests({ cacheDir, source: new FakeSource(bookworm()), listApplets: () => [...APPLETS] }); // 6.1.0-50, 6.1.176-1
    const r = ensureGuests64(options(amd64Archive()));
    expect(r.manifest.kernel.package).toMatchObject({ name: 'linux-image-6.1.0-50-cloud-amd64', version: '6.1.176-1' });
    const again = amd64Archive();
    const r2 = ensureGuests64(options(again));
    expect(r2.rebuilt).toEqual([]);
    expect(again.calls).toEqual([]);
  });

  it('does it build the shell image too, around the amd64 busybox with the shell /init, and record it?', () => {
    const r = ensureGuests64(options(amd64Archive()));
    expect(r.rebuilt).toContain('initramfs-shell');
    const shell = r.manifest.initramfs.shell!;
    expect(shell.file.path).toBe('initramfs/shell.cpio.gz');
    expect(shell.recipe).toBe(initramfsRecipe('shell'));
    const image = readNewc(gunzipSync(readFileSync(join(r.dir, shell.file.path))));
    expect(new TextDecoder().decode(image.find((e) => e.name === 'init')!.data)).toBe(SHELL_INIT);
    expect(Buffer.from(image.find((e) => e.name === 'bin/busybox')!.data).equals(Buffer.from(fakeBusybox64()))).toBe(true);
    const f = guestFiles64(cacheDir);
    expect(f.shell).toBe(join(cacheDir, 'x86_64/initramfs/shell.cpio.gz'));
    expect(f.batch).toBe(join(cacheDir, 'x86_64/initramfs/batch.cpio.gz'));
    expect(r.manifest.guest.shellPrompt).toBe('vmmu:\\w# ');
  });

  it('does a manifest written before the shell image existed make the next run build only that image, without apt?', () => {
    const first = ensureGuests64(options(amd64Archive()));
    const manifestPath = join(first.dir, 'manifest.json');
    // as the previous src/guests wrote it: no shell image, no shell prompt
    const { shell: _shell, ...batchOnly } = first.manifest.initramfs;
    const { shellPrompt: _prompt, ...guest } = first.manifest.guest;
    writeFileSync(manifestPath, JSON.stringify({ ...first.manifest, initramfs: batchOnly, guest }));
    rmSync(join(first.dir, 'initramfs/shell.cpio.gz'));
    const batchBefore = readFileSync(join(first.dir, 'initramfs/batch.cpio.gz'));
    const stale = findGuestFiles64(cacheDir);
    expect(stale.ok).toBe(false);
    expect(!stale.ok && stale.reason).toMatch(/shell initramfs: the manifest records no shell initramfs.*npm run guests -- --arch x86_64/);
    expect(() => guestFiles64(cacheDir)).toThrow(GuestsMissingError);
    const source = amd64Archive();
    const r = ensureGuests64(options(source));
    expect(r.rebuilt).toEqual(['initramfs-shell']);
    expect(source.calls).toEqual([]);
    expect(r.problems.join('\n')).toMatch(/shell initramfs/);
    expect(readFileSync(join(first.dir, 'initramfs/batch.cpio.gz')).equals(batchBefore)).toBe(true);
    expect(r.manifest.kernel).toEqual(first.manifest.kernel);
    expect(JSON.parse(readFileSync(manifestPath, 'utf8'))).toEqual(JSON.parse(JSON.stringify(first.manifest)));
    expect(findGuestFiles64(cacheDir).ok).toBe(true);
  });

  it('is an image built by an older src/guests (another recipe), or a changed one, rebuilt, and only that one?', () => {
    const first = ensureGuests64(options(amd64Archive()));
    const manifestPath = join(first.dir, 'manifest.json');
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as typeof first.manifest;
    m.initramfs.shell!.recipe = 'an older recipe';
    writeFileSync(manifestPath, JSON.stringify(m));
    expect(findGuestFiles64(cacheDir).ok).toBe(false);
    const r = ensureGuests64(options(amd64Archive()));
    expect(r.rebuilt).toEqual(['initramfs-shell']);
    expect(r.manifest.initramfs.shell!.recipe).toBe(initramfsRecipe('shell'));
    const batch = readFileSync(join(first.dir, 'initramfs/batch.cpio.gz'));
    writeFileSync(join(first.dir, 'initramfs/batch.cpio.gz'), 'damaged');
    const r2 = ensureGuests64(options(amd64Archive()));
    expect(r2.rebuilt).toEqual(['initramfs-batch']);
    expect(readFileSync(join(first.dir, 'initramfs/batch.cpio.gz')).equals(batch)).toBe(true); // the same busybox, the same bytes
    expect(r2.manifest.initramfs.batch).toEqual(first.manifest.initramfs.batch);
    expect(ensureGuests64(options(amd64Archive())).rebuilt).toEqual([]);
  });

  it('is an i386 busybox refused?', () => {
    expect(() => ensureGuests64(options(amd64Archive(fakeBusybox())))).toThrow(/not a 64-bit x86-64 ELF/);
    expect(findGuestFiles64(cacheDir).ok).toBe(false);
  });
});

describe('the batch expectations per architecture', () => {
  const out = (machine: string): string => [
    'VMMU-GUEST-BOOTED',
    `VMMU-UNAME Linux (none) 6.1.0-57-x #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3 (2026-11-26) ${machine} GNU/Linux`,
    'VMMU-FORK-LOOP 200 690', 'VMMU-MD5 e071f707df7bbeee2a6a1eb48011ddd0', 'VMMU-GUEST-DONE', '',
  ].join('\n');
  it('does x86_64 accept uname -m x86_64 and not i686, and i386 the reverse?', () => {
    expect(missingBatchLines(out('x86_64'), 'x86_64')).toEqual([]);
    expect(missingBatchLines(out('i686'), 'x86_64')).toHaveLength(1);
    expect(missingBatchLines(out('i686'))).toEqual([]);
    expect(missingBatchLines(out('x86_64'))).toHaveLength(1);
  });
});
