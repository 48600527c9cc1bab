/**
 * The guest pipeline: checks the cache, obtains what is missing from
 * Debian (through a PackageSource), builds the initramfs images and writes
 * the manifest.
 *
 *   <cache>/manifest.json                   packages, versions, sizes, sha256
 *   <cache>/debs/*.deb                      as apt downloaded them (rebuilds work offline)
 *   <cache>/kernels/vmlinuz-<release>       bzImage, 686 and 686-pae
 *   <cache>/kernels/config-<release>        their .config
 *   <cache>/busybox/busybox                 static i386 busybox
 *   <cache>/initramfs/batch.cpio.gz         boots, runs the checks, powers off
 *   <cache>/initramfs/shell.cpio.gz         interactive shell on the console
 *   <cache>/seabios/*.bin                   Debian's SeaBIOS and VGA BIOS images
 *   <cache>/tmp/                            dpkg-deb -x staging, removed after each run
 *
 * A run with everything present and matching the manifest only verifies
 * (sha256 of every output) and prints what is there. Otherwise only the
 * missing or changed parts are redone; versions already in the manifest
 * stay pinned unless `refresh` asks for apt's current candidates.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { aptSpec, debFileName, kernelDependency, type PackageInfo, type PackageSource } from './apt.js';
import { readBzImage } from './bzimage.js';
import { readAppletNames } from './busybox.js';
import { GuestsError } from './errors.js';
import {
  APPLETS, BATCH_EXPECTED_LINES, FORK_LOOP_ITERATIONS, FORK_LOOP_TOTAL, KERNEL_CMDLINE, MARKER_BOOTED,
  MARKER_DONE, MARKER_SHELL, SEQ_MD5, SHELL_PROMPT,
} from './init-scripts.js';
import { buildInitramfs, initramfsRecipe } from './initramfs.js';
import {
  ALL_COMPONENTS, checkCache, INITRAMFS_VARIANTS, KERNEL_FLAVOURS, MANIFEST_FORMAT, MANIFEST_NAME, recordFile,
  writeFileAtomic, type Component, type FileRecord, type GuestExpectations, type GuestManifest, type KernelFlavour,
  type KernelRecord, type PackageRecord, type QemuRecord, type SeabiosRecord,
} from './manifest.js';

export const DEBIAN_SUITE = 'bookworm';
export const GUEST_ARCH = 'i386';
export const QEMU_PACKAGE = 'qemu-system-x86';
export const QEMU_BINARY = 'qemu-system-i386';

export interface EnsureOptions {
  cacheDir: string;
  source: PackageSource;
  /** ask apt for current versions and redo everything */
  refresh?: boolean;
  /** progress lines (default: none) */
  say?: (line: string) => void;
  /**
   * The applets a busybox binary provides, or null when they cannot be
   * told. Default: reads the binary's applet name table (busybox.ts), which
   * works on any host: the i386 binary is never run.
   */
  listApplets?: (busyboxPath: string) => string[] | null;
}

export interface EnsureResult {
  manifest: GuestManifest;
  /** components obtained or rebuilt by this run (empty: it only verified) */
  rebuilt: Component[];
  /** what was wrong with the cache before the run */
  problems: string[];
  elapsedMs: number;
}

/**
 * Makes the cache at `options.cacheDir` complete and returns its manifest.
 * Creates and replaces files under the cache directory only; runs apt (via
 * the source) only when something must be downloaded. Throws GuestsError
 * naming what failed.
 */
export function ensureGuests(options: EnsureOptions): EnsureResult {
  const started = performance.now();
  const { cacheDir, source } = options;
  const say = options.say ?? ((): void => {});
  const listApplets = options.listApplets ?? readBusyboxApplets;
  try {
    mkdirSync(cacheDir, { recursive: true });
  } catch (e) {
    throw new GuestsError(`cannot create the cache directory ${cacheDir}: ${(e as Error).message}; set VMMU_GUEST_CACHE to a writable directory`);
  }

  const check = checkCache(cacheDir, true);
  const old = check.manifest;
  const todo = new Set<Component>(options.refresh ? ALL_COMPONENTS : check.bad);
  const problems = [...check.problems];
  if (old) {
    for (const v of INITRAMFS_VARIANTS) {
      if (old.initramfs[v].recipe !== initramfsRecipe(v)) {
        todo.add(`initramfs-${v}`);
        problems.push(`the ${v} initramfs was built by an older src/guests`);
      }
    }
  }
  if (old && todo.size === 0) {
    const guest = guestExpectations();
    if (JSON.stringify(old.guest) === JSON.stringify(guest)) {
      return { manifest: old, rebuilt: [], problems: [], elapsedMs: performance.now() - started };
    }
    // src/guests changed what the guests are expected to print, not the files: only the manifest is rewritten.
    say('updating the manifest\'s guest expectations (src/guests/init-scripts.ts changed)');
    const manifest = { ...old, guest };
    writeFileAtomic(join(cacheDir, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
    return { manifest, rebuilt: [], problems: [], elapsedMs: performance.now() - started };
  }
  if (options.refresh) say('--refresh: asking apt for current versions and rebuilding everything');
  else for (const p of problems) say(`needs work: ${p}`);

  const staging = join(cacheDir, 'tmp', `run-${process.pid}`);
  let prepared = false;
  const prepare = (): void => {
    if (!prepared) source.prepare(say);
    prepared = true;
  };

  // The packages to obtain. Versions already in the manifest stay pinned (unless refreshing);
  // the others are apt's candidates, kernels through their metapackages.
  const jobs: PackageJob[] = [];
  const pin = (r: PackageRecord | undefined): PackageRecord | undefined => (options.refresh ? undefined : r);
  for (const f of KERNEL_FLAVOURS) {
    if (!old || todo.has(`kernel-${f}`)) {
      jobs.push({ component: `kernel-${f}`, requested: `linux-image-${f}`, arch: GUEST_ARCH, pinned: pin(old?.kernels[f].package) });
    }
  }
  if (!old || todo.has('busybox')) jobs.push({ component: 'busybox', requested: 'busybox-static', arch: GUEST_ARCH, pinned: pin(old?.busybox.package) });
  if (!old || todo.has('seabios')) jobs.push({ component: 'seabios', requested: 'seabios', arch: 'all', pinned: pin(old?.seabios.package) });

  const infos = new Map<PackageJob, PackageInfo>();
  for (const job of jobs) {
    if (job.pinned) infos.set(job, { name: job.pinned.name, arch: job.pinned.arch, version: job.pinned.version, depends: '' });
  }
  const lookups = jobs.filter((j) => !j.pinned);
  if (lookups.length > 0) {
    prepare();
    const found = source.candidates(lookups.map((j) => ({ name: j.requested, arch: j.arch })));
    const unversioned: [PackageJob, string][] = [];
    lookups.forEach((job, i) => {
      const info = found[i]!;
      if (!job.component.startsWith('kernel-')) {
        infos.set(job, info);
        return;
      }
      const flavour = job.component.slice('kernel-'.length);
      const dep = kernelDependency(info.depends, flavour);
      if (!dep) {
        throw new GuestsError(`${job.requested}:${GUEST_ARCH} ${info.version} depends on no linux-image-<abi>-${flavour} package `
          + `(Depends: ${info.depends || 'nothing'}); Debian's kernel packaging may have changed`);
      }
      if (dep.version) infos.set(job, { name: dep.name, arch: info.arch, version: dep.version, depends: '' });
      else unversioned.push([job, dep.name]);
    });
    if (unversioned.length > 0) {
      const real = source.candidates(unversioned.map(([, name]) => ({ name, arch: GUEST_ARCH })));
      unversioned.forEach(([job], i) => infos.set(job, real[i]!));
    }
    for (const job of lookups) {
      const info = infos.get(job)!;
      if (info.name !== job.requested) say(`${job.requested} -> ${info.name} ${info.version}`);
    }
  }

  // Download, in one apt-get call, the .debs that debs/ does not already hold.
  const debsDir = join(cacheDir, 'debs');
  mkdirSync(debsDir, { recursive: true });
  const toDownload = jobs.map((j) => infos.get(j)!).filter((info) => !haveDeb(source, debsDir, info, say));
  if (toDownload.length > 0) {
    prepare();
    say(`apt-get download ${toDownload.map((i) => `${aptSpec(i.name, i.arch)}=${i.version}`).join(' ')}`);
    try {
      source.download(toDownload, debsDir);
    } catch (e) {
      const pinned = jobs.filter((j) => j.pinned && toDownload.includes(infos.get(j)!));
      if (!(e instanceof GuestsError) || pinned.length === 0) throw e;
      throw new GuestsError(`${e.message}; the manifest pins ${pinned.map((j) => `${j.pinned!.name} ${j.pinned!.version}`).join(', ')}, `
        + 'which the archive may no longer carry: `npm run guests -- --refresh` takes the current versions');
    }
  }

  // Unpack each package, keep the files vmmu uses, drop the rest.
  const kernels = {} as Record<KernelFlavour, KernelRecord>;
  let busybox = old?.busybox;
  let seabios = old?.seabios;
  for (const f of KERNEL_FLAVOURS) if (old) kernels[f] = old.kernels[f];
  const rebuilt: Component[] = [];
  try {
    for (const job of jobs) {
      const info = infos.get(job)!;
      const rel = `debs/${debFileName(info)}`;
      const pkg: PackageRecord = { requested: job.requested, name: info.name, arch: info.arch, version: info.version, deb: recordFile(cacheDir, rel) };
      const root = join(staging, pkg.name);
      rmSync(root, { recursive: true, force: true });
      mkdirSync(root, { recursive: true });
      say(`dpkg-deb -x ${rel}`);
      source.extract(join(cacheDir, rel), root);
      if (job.component === 'busybox') {
        busybox = { package: pkg, binary: obtainBusybox(root, cacheDir, listApplets, say) };
      } else if (job.component === 'seabios') {
        seabios = obtainSeabios(pkg, root, cacheDir);
      } else {
        const flavour = job.component.slice('kernel-'.length) as KernelFlavour;
        kernels[flavour] = obtainKernel(flavour, pkg, root, cacheDir);
      }
      rmSync(root, { recursive: true, force: true });
      rebuilt.push(job.component);
    }
  } finally {
    rmSync(join(cacheDir, 'tmp'), { recursive: true, force: true });
  }
  if (!busybox || !seabios) throw new Error('unreachable: busybox and seabios are obtained when there is no manifest');

  const initramfs = {} as GuestManifest['initramfs'];
  const busyboxChanged = rebuilt.includes('busybox');
  let busyboxBytes: Uint8Array | null = null;
  for (const v of INITRAMFS_VARIANTS) {
    if (old && !busyboxChanged && !todo.has(`initramfs-${v}`)) {
      initramfs[v] = old.initramfs[v];
      continue;
    }
    busyboxBytes ??= readFileSync(join(cacheDir, busybox.binary.path));
    mkdirSync(join(cacheDir, 'initramfs'), { recursive: true });
    const rel = `initramfs/${v}.cpio.gz`;
    say(`building ${rel}`);
    writeFileAtomic(join(cacheDir, rel), buildInitramfs(v, busyboxBytes));
    initramfs[v] = { file: recordFile(cacheDir, rel), recipe: initramfsRecipe(v) };
    rebuilt.push(`initramfs-${v}`);
  }

  let qemu: QemuRecord;
  if (old && !options.refresh) {
    qemu = old.qemu;
  } else {
    prepare();
    say(`apt-get install -s ${QEMU_PACKAGE} (a simulation: nothing is installed)`);
    const probe = source.probeInstall(QEMU_PACKAGE);
    qemu = {
      package: QEMU_PACKAGE,
      binary: QEMU_BINARY,
      ...probe,
      installCommand: `apt-get install -y --no-install-recommends ${QEMU_PACKAGE}`,
    };
  }

  const manifest: GuestManifest = {
    format: MANIFEST_FORMAT,
    createdAt: new Date().toISOString(),
    debian: { suite: DEBIAN_SUITE, arch: GUEST_ARCH },
    kernels,
    busybox,
    initramfs,
    seabios,
    qemu,
    guest: guestExpectations(),
  };
  writeFileAtomic(join(cacheDir, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
  return { manifest, rebuilt, problems, elapsedMs: performance.now() - started };
}

/** A package the run obtains, and the component it is for. */
interface PackageJob {
  component: Component;
  /** the name asked of apt: the metapackage for kernels */
  requested: string;
  arch: string;
  /** the manifest's version, kept unless refreshing */
  pinned: PackageRecord | undefined;
}

/** Whether debs/ holds a readable .deb of exactly `info`; removes a broken or different one. */
function haveDeb(source: PackageSource, debsDir: string, info: PackageInfo, say: (line: string) => void): boolean {
  const path = join(debsDir, debFileName(info));
  if (!existsSync(path)) return false;
  try {
    const f = source.debFields(path);
    if (f.name === info.name && f.version === info.version) {
      say(`have debs/${debFileName(info)}`);
      return true;
    }
  } catch {
    // truncated or not a .deb: download it again
  }
  rmSync(path, { force: true });
  return false;
}

/** What the guests print, from init-scripts.ts, for the manifest. */
export function guestExpectations(): GuestExpectations {
  return {
    cmdline: KERNEL_CMDLINE,
    markers: { booted: MARKER_BOOTED, done: MARKER_DONE, shell: MARKER_SHELL },
    forkLoop: { iterations: FORK_LOOP_ITERATIONS, total: FORK_LOOP_TOTAL },
    seqMd5: SEQ_MD5,
    batchLines: BATCH_EXPECTED_LINES.map((r) => r.source),
    shellPrompt: SHELL_PROMPT,
  };
}

/** Copies boot/vmlinuz-* and boot/config-* of an unpacked kernel package into kernels/ and checks the bzImage. */
function obtainKernel(flavour: KernelFlavour, pkg: PackageRecord, root: string, cacheDir: string): KernelRecord {
  const boot = join(root, 'boot');
  const images = existsSync(boot) ? readdirSync(boot).filter((f) => f.startsWith('vmlinuz-')) : [];
  if (images.length !== 1) {
    throw new GuestsError(`${pkg.deb.path} should hold one boot/vmlinuz-*, it holds ${images.length ? images.join(', ') : 'none'}`);
  }
  const release = images[0]!.slice('vmlinuz-'.length);
  if (!release.endsWith(`-${flavour}`)) throw new GuestsError(`${pkg.deb.path} holds vmlinuz-${release}, not a -${flavour} kernel`);
  mkdirSync(join(cacheDir, 'kernels'), { recursive: true });
  const vmlinuz = install(join(boot, `vmlinuz-${release}`), cacheDir, `kernels/vmlinuz-${release}`);
  const config = install(join(boot, `config-${release}`), cacheDir, `kernels/config-${release}`);
  const info = readBzImage(readFileSync(join(cacheDir, vmlinuz.path)));
  if (!info) throw new GuestsError(`${vmlinuz.path} from ${pkg.name} ${pkg.version} is not a bzImage (no "HdrS" setup header)`);
  return { flavour, release, package: pkg, bootProtocol: info.bootProtocol, versionString: info.versionString, vmlinuz, config };
}

/** Copies bin/busybox of the unpacked busybox-static into busybox/, checks it is a static i386 ELF with the applets the images link. */
function obtainBusybox(
  root: string,
  cacheDir: string,
  listApplets: (path: string) => string[] | null,
  say: (line: string) => void,
): FileRecord {
  const from = join(root, 'bin', 'busybox');
  if (!existsSync(from)) throw new GuestsError('busybox-static unpacked without bin/busybox; Debian\'s packaging may have changed');
  const elf = readFileSync(from).subarray(0, 20);
  // e_ident: "\x7fELF", EI_CLASS 1 (32-bit), EI_DATA 1 (little-endian); e_machine at 18: 3 (EM_386)
  if (elf[0] !== 0x7f || elf[1] !== 0x45 || elf[4] !== 1 || elf[5] !== 1 || elf[18] !== 3) {
    throw new GuestsError('busybox-static\'s bin/busybox is not a 32-bit i386 ELF executable; was the amd64 package downloaded?');
  }
  mkdirSync(join(cacheDir, 'busybox'), { recursive: true });
  const record = install(from, cacheDir, 'busybox/busybox');
  const applets = listApplets(join(cacheDir, record.path));
  if (applets === null) {
    say('note: no applet name table found in busybox/busybox, so whether it has every applet the images link was not checked '
      + '(a missing one shows as "not found" when a guest boots; `npm run guests -- --qemu` boots them)');
  } else {
    const missing = APPLETS.filter((a) => !applets.includes(a));
    if (missing.length > 0) {
      throw new GuestsError(`this busybox lacks applets the images link: ${missing.join(' ')}; edit APPLETS in src/guests/init-scripts.ts`);
    }
  }
  return record;
}

/** Copies usr/share/seabios/*.bin of the unpacked seabios into seabios/. */
function obtainSeabios(pkg: PackageRecord, root: string, cacheDir: string): SeabiosRecord {
  const from = join(root, 'usr', 'share', 'seabios');
  const needed = ['bios.bin', 'bios-256k.bin', 'vgabios-stdvga.bin', 'vgabios-cirrus.bin'];
  const present = existsSync(from) ? readdirSync(from) : [];
  const missing = needed.filter((f) => !present.includes(f));
  if (missing.length > 0) throw new GuestsError(`${pkg.deb.path} has no usr/share/seabios/${missing.join(', ')}`);
  mkdirSync(join(cacheDir, 'seabios'), { recursive: true });
  const records = new Map<string, FileRecord>();
  for (const f of present) {
    if (!f.endsWith('.bin') || !statSync(join(from, f)).isFile()) continue;
    records.set(f, install(join(from, f), cacheDir, `seabios/${f}`));
  }
  return {
    package: pkg,
    bios: records.get('bios.bin')!,
    bios256k: records.get('bios-256k.bin')!,
    vgabios: records.get('vgabios-stdvga.bin')!,
    vgabiosCirrus: records.get('vgabios-cirrus.bin')!,
  };
}

/** Copies `from` to `rel` in the cache through a temporary name; returns its record. */
function install(from: string, cacheDir: string, rel: string): FileRecord {
  if (!existsSync(from)) throw new GuestsError(`expected ${from} in the unpacked package, it is not there`);
  const to = join(cacheDir, rel);
  const tmp = `${to}.tmp-${process.pid}`;
  copyFileSync(from, tmp);
  renameSync(tmp, to);
  return recordFile(cacheDir, rel);
}

/** The applet names in the busybox binary at `path` (read, not run), or null when it holds no table this reader knows. */
function readBusyboxApplets(path: string): string[] | null {
  return readAppletNames(readFileSync(path));
}
