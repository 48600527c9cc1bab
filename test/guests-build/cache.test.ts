/**
 * The guest cache: the whole pipeline run against a fake Debian archive
 * (no apt, no network), what a second run does, what it redoes when a piece
 * is lost, and what the user is told when something is missing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureGuests, type EnsureOptions } from '../../src/guests/build.js';
import { GuestsError } from '../../src/guests/errors.js';
import { APPLETS, KERNEL_CMDLINE, SEQ_MD5 } from '../../src/guests/init-scripts.js';
import { checkCache, MANIFEST_NAME, parseManifest, sha256File } from '../../src/guests/manifest.js';
import { CACHE_ENV, findGuestFiles, guestCacheDir, guestFiles, GuestsMissingError } from '../../src/guests/paths.js';
import { bookworm, fakeBusybox, FakeSource } from './fake-source.js';
import { readNewc } from './newc-reader.js';

let cacheDir: string;
beforeEach(() => {
  cacheDir = mkdtempSync(join(tmpdir(), 'vmmu-guests-'));
});
afterEach(() => {
  rmSync(cacheDir, { recursive: true, force: true });
});

const options = (source: FakeSource, more: Partial<EnsureOptions> = {}): EnsureOptions => ({
  cacheDir, source, listApplets: () => [...APPLETS], ...more,
});

describe('where the cache is', () => {
  it('is it ~/.cache/vmmu/guests unless VMMU_GUEST_CACHE says otherwise?', () => {
    expect(guestCacheDir({})).toBe(join(homedir(), '.cache', 'vmmu', 'guests'));
    expect(guestCacheDir({ [CACHE_ENV]: '' })).toBe(join(homedir(), '.cache', 'vmmu', 'guests'));
    expect(guestCacheDir({ [CACHE_ENV]: '/srv/guests' })).toBe('/srv/guests');
    expect(guestCacheDir({ [CACHE_ENV]: 'rel/dir' })).toBe(join(process.cwd(), 'rel/dir'));
  });
});

describe('an empty or broken cache', () => {
  it('what does the check say about an empty directory?', () => {
    const check = checkCache(cacheDir, true);
    expect(check.manifest).toBeNull();
    expect(check.problems).toEqual([`no ${MANIFEST_NAME} in ${cacheDir}`]);
    expect(check.bad.size).toBe(6);
  });

  it('does guestFiles tell the user which directory, what is missing and to run `npm run guests`?', () => {
    expect(() => guestFiles({ cacheDir })).toThrow(GuestsMissingError);
    expect(() => guestFiles({ cacheDir })).toThrow(new RegExp(`not ready in ${cacheDir}: no manifest.json .*Run \`npm run guests\``));
    const found = findGuestFiles({ cacheDir });
    expect(found.ok).toBe(false);
  });

  it('what if manifest.json is not JSON, or from another format?', () => {
    writeFileSync(join(cacheDir, MANIFEST_NAME), '{ truncated');
    expect(checkCache(cacheDir, false).problems[0]).toMatch(/manifest.json is unusable: not JSON/);
    writeFileSync(join(cacheDir, MANIFEST_NAME), JSON.stringify({ format: 99 }));
    expect(checkCache(cacheDir, false).problems[0]).toMatch(/format is 99, this vmmu reads format 1/);
  });

  it('what if the manifest points outside the cache?', () => {
    ensureGuests(options(new FakeSource()));
    const m = JSON.parse(readFileSync(join(cacheDir, MANIFEST_NAME), 'utf8'));
    m.busybox.binary.path = '../../etc/passwd';
    expect(() => parseManifest(JSON.stringify(m))).toThrow(/busybox.binary.path leaves the cache directory/);
  });
});

describe('a first run', () => {
  it('does it obtain both kernels through their metapackages, busybox and seabios, and build both images?', () => {
    const source = new FakeSource();
    const lines: string[] = [];
    const r = ensureGuests(options(source, { say: (l) => lines.push(l) }));
    expect(r.rebuilt).toEqual(['kernel-686', 'kernel-686-pae', 'busybox', 'seabios', 'initramfs-batch', 'initramfs-shell']);
    expect(source.calls.filter((c) => c === 'prepare')).toHaveLength(1);
    // one look-up and one download for everything; the metapackages are only resolved (their Depends pin the version)
    expect(source.calls.slice(0, 3)).toEqual([
      'prepare',
      'candidates linux-image-686 linux-image-686-pae busybox-static seabios',
      'download linux-image-6.1.0-50-686 linux-image-6.1.0-50-686-pae busybox-static seabios',
    ]);
    expect(lines).toContain('linux-image-686 -> linux-image-6.1.0-50-686 6.1.176-1');

    const m = r.manifest;
    expect(m.kernels['686']).toMatchObject({ release: '6.1.0-50-686', bootProtocol: '2.15', versionString: '6.1.0-50-686 (fake) #1' });
    expect(m.kernels['686'].package).toMatchObject({ requested: 'linux-image-686', name: 'linux-image-6.1.0-50-686', version: '6.1.176-1', arch: 'i386' });
    expect(m.kernels['686-pae'].vmlinuz.path).toBe('kernels/vmlinuz-6.1.0-50-686-pae');
    expect(m.busybox.package.deb.path).toBe('debs/busybox-static_1%3a1.35.0-4+deb12u1+b1_i386.deb');
    expect(m.seabios.vgabios.path).toBe('seabios/vgabios-stdvga.bin');
    expect(m.qemu).toMatchObject({ package: 'qemu-system-x86', binary: 'qemu-system-i386', installable: true });
    expect(m.guest).toMatchObject({ cmdline: KERNEL_CMDLINE, seqMd5: SEQ_MD5 });
    expect(m.kernels['686'].vmlinuz.sha256).toBe(sha256File(join(cacheDir, 'kernels/vmlinuz-6.1.0-50-686')));

    const image = readNewc(gunzipSync(readFileSync(join(cacheDir, m.initramfs.batch.file.path))));
    expect(Buffer.from(image.find((e) => e.name === 'bin/busybox')!.data).equals(Buffer.from(fakeBusybox()))).toBe(true);
    // the kernel's modules are not kept, nor the staging directory
    expect(existsSync(join(cacheDir, 'tmp'))).toBe(false);
    expect(existsSync(join(cacheDir, 'lib'))).toBe(false);
  });

  it('does guestFiles then give absolute paths of every file?', () => {
    ensureGuests(options(new FakeSource()));
    const g = guestFiles({ cacheDir });
    expect(g.kernels['686']).toBe(join(cacheDir, 'kernels/vmlinuz-6.1.0-50-686'));
    expect(g.kernelReleases['686-pae']).toBe('6.1.0-50-686-pae');
    expect(g.initramfs.shell).toBe(join(cacheDir, 'initramfs/shell.cpio.gz'));
    expect(g.bios).toBe(join(cacheDir, 'seabios/bios.bin'));
    expect(g.cmdline).toBe(KERNEL_CMDLINE);
  });
});

describe('a second run', () => {
  it('does it only verify, without asking apt anything?', () => {
    ensureGuests(options(new FakeSource()));
    const before = readFileSync(join(cacheDir, MANIFEST_NAME), 'utf8');
    const source = new FakeSource();
    const r = ensureGuests(options(source));
    expect(r.rebuilt).toEqual([]);
    expect(source.calls).toEqual([]);
    expect(readFileSync(join(cacheDir, MANIFEST_NAME), 'utf8')).toBe(before);
    expect(r.elapsedMs).toBeLessThan(1000);
  });

  it('when one kernel is lost, is only it redone, at its pinned version, offline from the kept .deb?', () => {
    ensureGuests(options(new FakeSource()));
    unlinkSync(join(cacheDir, 'kernels/vmlinuz-6.1.0-50-686-pae'));
    const source = new FakeSource(bookworm('51', '6.1.177-1')); // the archive has moved on
    source.offline = true;
    const lines: string[] = [];
    const r = ensureGuests(options(source, { say: (l) => lines.push(l) }));
    expect(r.rebuilt).toEqual(['kernel-686-pae']);
    expect(r.problems[0]).toMatch(/686-pae kernel: .*vmlinuz-6.1.0-50-686-pae is missing/);
    expect(source.calls).toEqual(['extract linux-image-6.1.0-50-686-pae_6.1.176-1_i386.deb']);
    expect(r.manifest.kernels['686-pae'].release).toBe('6.1.0-50-686-pae');
  });

  it('when the .deb is gone too and the archive is unreachable, does the error say which download failed?', () => {
    ensureGuests(options(new FakeSource()));
    unlinkSync(join(cacheDir, 'kernels/vmlinuz-6.1.0-50-686'));
    unlinkSync(join(cacheDir, 'debs/linux-image-6.1.0-50-686_6.1.176-1_i386.deb'));
    const source = new FakeSource();
    source.offline = true;
    expect(() => ensureGuests(options(source))).toThrow(
      /apt-get download linux-image-6.1.0-50-686:i386=6.1.176-1 failed .*is Debian's archive reachable\?; the manifest pins .*--refresh/,
    );
  });

  it('when the code expects other output but the files are unchanged, is only the manifest rewritten?', () => {
    ensureGuests(options(new FakeSource()));
    const path = join(cacheDir, MANIFEST_NAME);
    const m = JSON.parse(readFileSync(path, 'utf8'));
    m.guest.seqMd5 = 'an older expectation';
    writeFileSync(path, JSON.stringify(m));
    const source = new FakeSource();
    const r = ensureGuests(options(source));
    expect(r.rebuilt).toEqual([]);
    expect(source.calls).toEqual([]);
    expect(parseManifest(readFileSync(path, 'utf8')).guest.seqMd5).toBe(SEQ_MD5);
  });

  it('when a file keeps its size but not its bytes, is it named and rebuilt?', () => {
    ensureGuests(options(new FakeSource()));
    const path = join(cacheDir, 'initramfs/shell.cpio.gz');
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(path, bytes);
    expect(checkCache(cacheDir, false).problems).toEqual([]); // the fast check only looks at sizes
    expect(checkCache(cacheDir, true).problems).toEqual([`shell initramfs: ${path} does not have the sha256 the manifest records`]);
    const source = new FakeSource();
    const r = ensureGuests(options(source));
    expect(r.rebuilt).toEqual(['initramfs-shell']);
    expect(source.calls).toEqual([]);
  });

  it('with --refresh, does it take the archive\'s newer kernels?', () => {
    ensureGuests(options(new FakeSource()));
    const source = new FakeSource(bookworm('51', '6.1.177-1'));
    const r = ensureGuests(options(source, { refresh: true }));
    expect(r.manifest.kernels['686'].release).toBe('6.1.0-51-686');
    expect(guestFiles({ cacheDir }).kernels['686']).toBe(join(cacheDir, 'kernels/vmlinuz-6.1.0-51-686'));
  });
});

describe('what the archive might get wrong', () => {
  it('what if the metapackage depends on no kernel of its flavour?', () => {
    const packages = bookworm();
    packages.get('linux-image-686')!.depends = 'linux-image-6.1.0-50-686-pae (= 6.1.176-1)';
    expect(() => ensureGuests(options(new FakeSource(packages)))).toThrow(
      /linux-image-686:i386 6.1.176-1 depends on no linux-image-<abi>-686 package \(Depends: linux-image-6.1.0-50-686-pae/,
    );
  });

  it('what if the kernel package holds no bzImage?', () => {
    const packages = bookworm();
    packages.get('linux-image-6.1.0-50-686')!.files['boot/vmlinuz-6.1.0-50-686'] = new Uint8Array(4096);
    expect(() => ensureGuests(options(new FakeSource(packages)))).toThrow(GuestsError);
    expect(() => ensureGuests(options(new FakeSource(packages)))).toThrow(/vmlinuz-6.1.0-50-686 from linux-image-6.1.0-50-686 6.1.176-1 is not a bzImage/);
  });

  it('what if busybox is an amd64 binary, or lacks an applet the images link?', () => {
    const packages = bookworm();
    const amd64 = fakeBusybox();
    amd64[4] = 2;
    amd64[18] = 62;
    packages.get('busybox-static')!.files['bin/busybox'] = amd64;
    expect(() => ensureGuests(options(new FakeSource(packages)))).toThrow(/not a 32-bit i386 ELF/);
    const fresh = join(cacheDir, 'fresh');
    expect(() => ensureGuests(options(new FakeSource(), { cacheDir: fresh, listApplets: () => APPLETS.filter((a) => a !== 'cttyhack') })))
      .toThrow(/this busybox lacks applets the images link: cttyhack/);
  });

  it('what if the cache directory cannot be created?', () => {
    const file = join(cacheDir, 'a-file');
    writeFileSync(file, '');
    expect(() => ensureGuests({ ...options(new FakeSource()), cacheDir: join(file, 'guests') }))
      .toThrow(/cannot create the cache directory .*a-file\/guests: .*set VMMU_GUEST_CACHE/);
  });
});
