/**
 * The 64-bit guest: `npm run guests` (or only this, `--arch x86_64`)
 * obtains Debian bookworm's amd64 kernel of the cloud-amd64 flavour (the
 * flavour for virtual machines: fewer drivers, an LZ4-compressed image) and
 * busybox-static:amd64, and builds the two initramfs images around that
 * busybox (the same members and /init as the i386 ones, initramfs.ts):
 * batch, which test/machine/linux-boot-amd64.test.ts boots, and shell,
 * which `vmmu boot --arch x86_64` boots on a terminal.
 *
 *   <cache>/x86_64/manifest.json                 its own manifest (the i386 one is untouched)
 *   <cache>/x86_64/debs/*.deb                    as apt downloaded them
 *   <cache>/x86_64/kernels/vmlinuz-<release>     bzImage (64-bit, entered through the 32-bit boot protocol)
 *   <cache>/x86_64/kernels/config-<release>      its .config
 *   <cache>/x86_64/busybox/busybox               static x86-64 busybox
 *   <cache>/x86_64/initramfs/batch.cpio.gz       boots, runs the checks, powers off
 *   <cache>/x86_64/initramfs/shell.cpio.gz       an interactive shell on the serial console
 *
 * The kernel is the i386 kernels' version: with the i386 manifest present,
 * linux-image-<abi>-cloud-amd64 of the 686 kernel's ABI and version (so the
 * two architectures boot the same source); without it, whatever the
 * linux-image-cloud-amd64 metapackage depends on. Versions are pinned in
 * the manifest until `--refresh`, as for the i386 files. An image that is
 * missing, changed, or built by an older src/guests (a manifest written
 * before the shell image existed has none) is rebuilt from the busybox
 * already there, without apt.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { aptSpec, debFileName, kernelDependency, type PackageInfo, type PackageSource } from './apt.js';
import { readBzImage } from './bzimage.js';
import { readAppletNames } from './busybox.js';
import { GuestsError } from './errors.js';
import { APPLETS, batchExpectedLines, KERNEL_CMDLINE, SHELL_PROMPT } from './init-scripts.js';
import { buildInitramfs, initramfsRecipe, type InitramfsVariant } from './initramfs.js';
import { GuestsMissingError } from './paths.js';
import {
  checkFile, INITRAMFS_VARIANTS, MANIFEST_NAME, recordFile, writeFileAtomic, type FileRecord, type InitramfsRecord, type KernelRecord, type PackageRecord,
} from './manifest.js';

export const ARCH64_DIR = 'x86_64';
export const DEB_ARCH64 = 'amd64';
export const KERNEL64_FLAVOUR = 'cloud-amd64';
export const MANIFEST64_FORMAT = 1;

/** As the i386 manifest's KernelRecord, with the 64-bit flavour's name. */
export type Kernel64Record = Omit<KernelRecord, 'flavour'> & { flavour: string };

/** <cache>/x86_64/manifest.json; file paths are relative to <cache>/x86_64. */
export interface Guest64Manifest {
  format: typeof MANIFEST64_FORMAT;
  createdAt: string;
  debian: { suite: string; arch: string };
  kernel: Kernel64Record;
  busybox: { package: PackageRecord; binary: FileRecord };
  /** `shell` is absent from manifests written before the 64-bit shell image existed (check64 reports it) */
  initramfs: { batch: InitramfsRecord; shell?: InitramfsRecord };
  guest: { cmdline: string; batchLines: string[]; shellPrompt: string };
}

/** A part of <cache>/x86_64 that is obtained or built as a whole. */
export type Component64 = 'kernel' | 'busybox' | `initramfs-${InitramfsVariant}`;

export interface Ensure64Options {
  /** the guest cache (the i386 files' directory); the 64-bit files go to its x86_64/ */
  cacheDir: string;
  source: PackageSource;
  refresh?: boolean;
  say?: (line: string) => void;
  listApplets?: (busyboxPath: string) => string[] | null;
}

export interface Ensure64Result {
  manifest: Guest64Manifest;
  dir: string;
  /** what this run obtained or rebuilt (empty: it only verified) */
  rebuilt: string[];
  /** what was wrong with the files before the run */
  problems: string[];
  elapsedMs: number;
}

const guest64 = (): Guest64Manifest['guest'] => ({ cmdline: KERNEL_CMDLINE, batchLines: batchExpectedLines('x86_64').map((r) => r.source), shellPrompt: SHELL_PROMPT });

function readManifest64(dir: string): Guest64Manifest | null {
  const path = join(dir, MANIFEST_NAME);
  if (!existsSync(path)) return null;
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Guest64Manifest;
    return m.format === MANIFEST64_FORMAT && m.kernel?.vmlinuz && m.busybox?.binary && m.initramfs?.batch ? m : null;
  } catch {
    return null;
  }
}

/**
 * What is wrong with the 64-bit files of `dir` (empty: all there and as
 * recorded, each image built by this src/guests), and which components it
 * concerns. Reads the files (sha256 only with `hash`); changes nothing.
 */
export function check64(dir: string, hash: boolean): { manifest: Guest64Manifest | null; problems: string[]; bad: Set<Component64> } {
  const m = readManifest64(dir);
  const all = new Set<Component64>(['kernel', 'busybox', ...INITRAMFS_VARIANTS.map((v) => `initramfs-${v}` as const)]);
  if (!m) return { manifest: null, problems: [`no usable ${MANIFEST_NAME} in ${dir}`], bad: all };
  const problems: string[] = [];
  const bad = new Set<Component64>();
  const files: [Component64, string, FileRecord][] = [['kernel', 'kernel', m.kernel.vmlinuz], ['kernel', 'kernel config', m.kernel.config], ['busybox', 'busybox', m.busybox.binary]];
  for (const [component, label, r] of files) {
    const p = checkFile(dir, r, hash);
    if (p) {
      problems.push(`${label}: ${p}`);
      bad.add(component);
    }
  }
  for (const v of INITRAMFS_VARIANTS) {
    const r = m.initramfs[v];
    const p = r === undefined ? `the manifest records no ${v} initramfs (written by an older src/guests)`
      : checkFile(dir, r.file, hash) ?? (r.recipe !== initramfsRecipe(v) ? `built by an older src/guests (its layout or /init changed)` : null);
    if (p) {
      problems.push(`${v} initramfs: ${p}`);
      bad.add(`initramfs-${v}`);
    }
  }
  return { manifest: m, problems, bad };
}

/** Builds initramfs/<variant>.cpio.gz around the busybox at `busyboxPath` (relative to `dir`) and returns its record. */
function buildImage64(dir: string, variant: InitramfsVariant, busybox: Uint8Array, say: (line: string) => void): InitramfsRecord {
  mkdirSync(join(dir, 'initramfs'), { recursive: true });
  const rel = `initramfs/${variant}.cpio.gz`;
  say(`building ${ARCH64_DIR}/${rel}`);
  writeFileAtomic(join(dir, rel), buildInitramfs(variant, busybox));
  return { file: recordFile(dir, rel), recipe: initramfsRecipe(variant) };
}

/**
 * Makes <cache>/x86_64 complete and returns its manifest: with everything
 * there it only verifies (sha256), otherwise it redoes everything missing
 * from the pinned (or, refreshing, the current) packages. Throws
 * GuestsError naming what failed.
 */
export function ensureGuests64(o: Ensure64Options): Ensure64Result {
  const started = performance.now();
  const say = o.say ?? ((): void => {});
  const dir = join(o.cacheDir, ARCH64_DIR);
  mkdirSync(dir, { recursive: true });
  const check = check64(dir, true);
  const old = o.refresh ? null : check.manifest;
  const problems = old ? check.problems : [];
  if (old && check.problems.length === 0) {
    if (JSON.stringify(old.guest) !== JSON.stringify(guest64())) {
      const manifest = { ...old, guest: guest64() };
      writeFileAtomic(join(dir, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
      return { manifest, dir, rebuilt: [], problems, elapsedMs: performance.now() - started };
    }
    return { manifest: old, dir, rebuilt: [], problems, elapsedMs: performance.now() - started };
  }
  for (const p of check.problems) say(`needs work: ${p}`);
  if (old && !check.bad.has('kernel') && !check.bad.has('busybox')) {
    // Only images are missing, changed or out of date: rebuilt from the busybox there, without apt.
    const busyboxBytes = readFileSync(join(dir, old.busybox.binary.path));
    const initramfs = { ...old.initramfs };
    const rebuilt: string[] = [];
    for (const v of INITRAMFS_VARIANTS) {
      if (!check.bad.has(`initramfs-${v}`)) continue;
      initramfs[v] = buildImage64(dir, v, busyboxBytes, say);
      rebuilt.push(`initramfs-${v}`);
    }
    const manifest: Guest64Manifest = { ...old, initramfs, guest: guest64() };
    writeFileAtomic(join(dir, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
    return { manifest, dir, rebuilt, problems, elapsedMs: performance.now() - started };
  }
  const { source } = o;
  let prepared = false;
  const prepare = (): void => {
    if (!prepared) source.prepare(say);
    prepared = true;
  };

  // the packages: pinned, or the 686 kernel's ABI and version, or the metapackage's dependency
  let kernel: PackageInfo;
  let busybox: PackageInfo;
  if (old) {
    kernel = { name: old.kernel.package.name, arch: old.kernel.package.arch, version: old.kernel.package.version, depends: '' };
    busybox = { name: old.busybox.package.name, arch: old.busybox.package.arch, version: old.busybox.package.version, depends: '' };
  } else {
    prepare();
    const i386 = o.refresh ? null : sameAsI386(o.cacheDir);
    if (i386) {
      say(`the i386 kernels are ${i386.name.replace(/-686$/, '-*')} ${i386.version}: taking the same for amd64`);
      const [k, b] = source.candidates([{ name: i386.name.replace(/-686$/, `-${KERNEL64_FLAVOUR}`), arch: DEB_ARCH64 }, { name: 'busybox-static', arch: DEB_ARCH64 }]);
      kernel = { ...k!, version: i386.version };
      busybox = b!;
    } else {
      const [meta, b] = source.candidates([{ name: `linux-image-${KERNEL64_FLAVOUR}`, arch: DEB_ARCH64 }, { name: 'busybox-static', arch: DEB_ARCH64 }]);
      const dep = kernelDependency(meta!.depends, KERNEL64_FLAVOUR);
      if (!dep) throw new GuestsError(`linux-image-${KERNEL64_FLAVOUR}:${DEB_ARCH64} ${meta!.version} depends on no linux-image-<abi>-${KERNEL64_FLAVOUR} package (Depends: ${meta!.depends || 'nothing'})`);
      kernel = dep.version ? { name: dep.name, arch: DEB_ARCH64, version: dep.version, depends: '' } : source.candidates([{ name: dep.name, arch: DEB_ARCH64 }])[0]!;
      busybox = b!;
    }
    say(`kernel ${kernel.name} ${kernel.version}, busybox-static:${DEB_ARCH64} ${busybox.version}`);
  }

  const debs = join(dir, 'debs');
  mkdirSync(debs, { recursive: true });
  const missing = [kernel, busybox].filter((p) => !haveDeb(source, debs, p));
  if (missing.length > 0) {
    prepare();
    say(`apt-get download ${missing.map((i) => `${aptSpec(i.name, i.arch)}=${i.version}`).join(' ')}`);
    source.download(missing, debs);
  }

  const staging = join(dir, 'tmp', `run-${process.pid}`);
  const record = (p: PackageInfo, requested: string): PackageRecord => ({
    requested, name: p.name, arch: p.arch, version: p.version, deb: recordFile(dir, `debs/${debFileName(p)}`),
  });
  let kernelRecord: Kernel64Record;
  let busyboxFile: FileRecord;
  try {
    const kroot = unpack(source, dir, kernel, staging, say);
    kernelRecord = obtainKernel64(record(kernel, `linux-image-${KERNEL64_FLAVOUR}`), kroot, dir);
    const broot = unpack(source, dir, busybox, staging, say);
    busyboxFile = obtainBusybox64(broot, dir, o.listApplets ?? ((path) => readAppletNames(readFileSync(path))), say);
  } finally {
    rmSync(join(dir, 'tmp'), { recursive: true, force: true });
  }
  const busyboxBytes = readFileSync(join(dir, busyboxFile.path));
  const batch = buildImage64(dir, 'batch', busyboxBytes, say);
  const shell = buildImage64(dir, 'shell', busyboxBytes, say);
  const manifest: Guest64Manifest = {
    format: MANIFEST64_FORMAT,
    createdAt: new Date().toISOString(),
    debian: { suite: 'bookworm', arch: DEB_ARCH64 },
    kernel: kernelRecord,
    busybox: { package: record(busybox, 'busybox-static'), binary: busyboxFile },
    initramfs: { batch, shell },
    guest: guest64(),
  };
  writeFileAtomic(join(dir, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
  return { manifest, dir, rebuilt: ['kernel-cloud-amd64', 'busybox', 'initramfs-batch', 'initramfs-shell'], problems, elapsedMs: performance.now() - started };
}

/** The 686 kernel package of the i386 manifest in `cacheDir` (name and version), or null. */
function sameAsI386(cacheDir: string): { name: string; version: string } | null {
  try {
    const m = JSON.parse(readFileSync(join(cacheDir, MANIFEST_NAME), 'utf8')) as { kernels?: Record<string, { package?: { name?: string; version?: string } }> };
    const p = m.kernels?.['686']?.package;
    return p?.name && p.version && /^linux-image-.*-686$/.test(p.name) ? { name: p.name, version: p.version } : null;
  } catch {
    return null;
  }
}

function haveDeb(source: PackageSource, debs: string, p: PackageInfo): boolean {
  const path = join(debs, debFileName(p));
  if (!existsSync(path)) return false;
  try {
    const f = source.debFields(path);
    if (f.name === p.name && f.version === p.version) return true;
  } catch {
    // truncated: download again
  }
  rmSync(path, { force: true });
  return false;
}

function unpack(source: PackageSource, dir: string, p: PackageInfo, staging: string, say: (line: string) => void): string {
  const root = join(staging, p.name);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  say(`dpkg-deb -x ${ARCH64_DIR}/debs/${debFileName(p)}`);
  source.extract(join(dir, 'debs', debFileName(p)), root);
  return root;
}

function install(from: string, dir: string, rel: string): FileRecord {
  if (!existsSync(from)) throw new GuestsError(`expected ${from} in the unpacked package, it is not there`);
  const to = join(dir, rel);
  const tmp = `${to}.tmp-${process.pid}`;
  copyFileSync(from, tmp);
  renameSync(tmp, to);
  return recordFile(dir, rel);
}

function obtainKernel64(pkg: PackageRecord, root: string, dir: string): Kernel64Record {
  const boot = join(root, 'boot');
  const images = existsSync(boot) ? readdirSync(boot).filter((f) => f.startsWith('vmlinuz-')) : [];
  if (images.length !== 1) throw new GuestsError(`${pkg.deb.path} should hold one boot/vmlinuz-*, it holds ${images.length ? images.join(', ') : 'none'}`);
  const release = images[0]!.slice('vmlinuz-'.length);
  if (!release.endsWith(`-${KERNEL64_FLAVOUR}`)) throw new GuestsError(`${pkg.deb.path} holds vmlinuz-${release}, not a -${KERNEL64_FLAVOUR} kernel`);
  mkdirSync(join(dir, 'kernels'), { recursive: true });
  const vmlinuz = install(join(boot, `vmlinuz-${release}`), dir, `kernels/vmlinuz-${release}`);
  const config = install(join(boot, `config-${release}`), dir, `kernels/config-${release}`);
  const info = readBzImage(readFileSync(join(dir, vmlinuz.path)));
  if (!info) throw new GuestsError(`${vmlinuz.path} from ${pkg.name} ${pkg.version} is not a bzImage (no "HdrS" setup header)`);
  return { flavour: KERNEL64_FLAVOUR, release, package: pkg, bootProtocol: info.bootProtocol, versionString: info.versionString, vmlinuz, config };
}

/** bin/busybox of busybox-static:amd64: a static 64-bit x86-64 ELF with the applets the image links. */
function obtainBusybox64(root: string, dir: string, listApplets: (path: string) => string[] | null, say: (line: string) => void): FileRecord {
  const from = join(root, 'bin', 'busybox');
  if (!existsSync(from)) throw new GuestsError('busybox-static:amd64 unpacked without bin/busybox; Debian\'s packaging may have changed');
  const elf = readFileSync(from).subarray(0, 20);
  // e_ident: "\x7fELF", EI_CLASS 2 (64-bit), EI_DATA 1 (little-endian); e_machine at 18: 62 (EM_X86_64)
  if (elf[0] !== 0x7f || elf[1] !== 0x45 || elf[4] !== 2 || elf[5] !== 1 || elf[18] !== 62) {
    throw new GuestsError('busybox-static:amd64\'s bin/busybox is not a 64-bit x86-64 ELF executable');
  }
  mkdirSync(join(dir, 'busybox'), { recursive: true });
  const r = install(from, dir, 'busybox/busybox');
  const applets = listApplets(join(dir, r.path));
  if (applets === null) say('note: no applet name table found in the amd64 busybox; its applets were not checked');
  else {
    const missing = APPLETS.filter((a) => !applets.includes(a));
    if (missing.length > 0) throw new GuestsError(`the amd64 busybox lacks applets the image links: ${missing.join(' ')}`);
  }
  return r;
}

/** Absolute paths of the 64-bit guest files (`npm run guests -- --arch x86_64` makes them). */
export interface GuestFiles64 {
  kernel: string;
  /** `uname -r` of the kernel */
  release: string;
  /** gzip'd newc initramfs: batch runs the checks and powers off, shell is interactive */
  batch: string;
  shell: string;
  busybox: string;
  cmdline: string;
}

/** The 64-bit guest files, or why they are not usable. Reads the manifest and stats the files; changes nothing. */
export function findGuestFiles64(cacheDir: string): ({ ok: true } & GuestFiles64) | { ok: false; reason: string } {
  const dir = join(cacheDir, ARCH64_DIR);
  const { manifest, problems } = check64(dir, false);
  if (!manifest || problems.length > 0 || !manifest.initramfs.shell) {
    return { ok: false, reason: `the 64-bit guest files are not ready in ${dir}: ${problems.join('; ')}. Run \`npm run guests -- --arch x86_64\`.` };
  }
  return {
    ok: true,
    kernel: join(dir, manifest.kernel.vmlinuz.path),
    release: manifest.kernel.release,
    batch: join(dir, manifest.initramfs.batch.file.path),
    shell: join(dir, manifest.initramfs.shell.file.path),
    busybox: join(dir, manifest.busybox.binary.path),
    cmdline: manifest.guest.cmdline,
  };
}

/** The 64-bit guest files; throws GuestsMissingError saying what is missing and to run `npm run guests -- --arch x86_64`. */
export function guestFiles64(cacheDir: string): GuestFiles64 {
  const found = findGuestFiles64(cacheDir);
  if (!found.ok) throw new GuestsMissingError(found.reason);
  const { ok: _ok, ...files } = found;
  return files;
}
