/**
 * The guest cache's manifest (manifest.json at the top of the cache): which
 * Debian packages the files came from, and each file's path, size and
 * sha256, so that a later run, a boot test or a benchmark knows exactly what
 * it is running and can tell when something is missing or changed.
 *
 * Paths in the manifest are relative to the cache directory, so the cache
 * can be moved (VMMU_GUEST_CACHE says where it is).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GuestsError } from './errors.js';
import type { InitramfsVariant } from './initramfs.js';

export const MANIFEST_NAME = 'manifest.json';
export const MANIFEST_FORMAT = 1;

export type KernelFlavour = '686' | '686-pae';
export const KERNEL_FLAVOURS: readonly KernelFlavour[] = ['686', '686-pae'];
export const INITRAMFS_VARIANTS: readonly InitramfsVariant[] = ['batch', 'shell'];

/** One file of the cache. */
export interface FileRecord {
  /** relative to the cache directory */
  path: string;
  size: number;
  sha256: string;
}

/** One downloaded Debian package. */
export interface PackageRecord {
  /** what was asked for: a metapackage (linux-image-686) or the package itself */
  requested: string;
  name: string;
  arch: string;
  version: string;
  /** the .deb as apt downloaded it; kept so a lost output can be rebuilt offline */
  deb: FileRecord;
}

export interface KernelRecord {
  flavour: KernelFlavour;
  /** `uname -r`: 6.1.0-50-686 */
  release: string;
  package: PackageRecord;
  /** the bzImage's boot protocol version, "2.15" */
  bootProtocol: string;
  /** the bzImage's kernel_version string: "6.1.0-50-686 (debian-kernel@...) #1 SMP ..." */
  versionString: string;
  vmlinuz: FileRecord;
  /** the kernel's .config, to see what is built in */
  config: FileRecord;
}

export interface InitramfsRecord {
  file: FileRecord;
  /** sha256 of the uncompressed archive with an empty busybox: changes when the layout or /init does */
  recipe: string;
}

export interface SeabiosRecord {
  package: PackageRecord;
  /** 128 KiB image (QEMU's default for the i440FX machine before 256 KiB images) */
  bios: FileRecord;
  /** 256 KiB image, QEMU's default "bios-256k.bin" */
  bios256k: FileRecord;
  /** the VGA BIOS of QEMU's default standard VGA (-vga std) */
  vgabios: FileRecord;
  /** the VGA BIOS of the Cirrus card (-vga cirrus) */
  vgabiosCirrus: FileRecord;
}

/** Whether QEMU, for the benchmark, could be installed from Debian here. Nothing is installed. */
export interface QemuRecord {
  package: string;
  binary: string;
  candidate: string | null;
  installed: string | null;
  installable: boolean;
  installCommand: string;
  /** what `apt-get install -s` said when it was not installable */
  note: string;
}

/** What the batch guest prints, for boot tests written in other languages. */
export interface GuestExpectations {
  cmdline: string;
  markers: { booted: string; done: string; shell: string };
  forkLoop: { iterations: number; total: number };
  seqMd5: string;
  /** regular expressions, one line each, in order */
  batchLines: string[];
  shellPrompt: string;
}

export interface GuestManifest {
  format: typeof MANIFEST_FORMAT;
  createdAt: string;
  debian: { suite: string; arch: string };
  kernels: Record<KernelFlavour, KernelRecord>;
  busybox: { package: PackageRecord; binary: FileRecord };
  initramfs: Record<InitramfsVariant, InitramfsRecord>;
  seabios: SeabiosRecord;
  qemu: QemuRecord;
  guest: GuestExpectations;
}

/** A part of the cache that is obtained or built as a whole. */
export type Component = `kernel-${KernelFlavour}` | 'busybox' | 'seabios' | `initramfs-${InitramfsVariant}`;

/** The output files of each component (the .debs are not outputs: losing one is not a problem). */
export function componentFiles(manifest: GuestManifest): [Component, string, FileRecord][] {
  const out: [Component, string, FileRecord][] = [];
  for (const f of KERNEL_FLAVOURS) {
    const k = manifest.kernels[f];
    out.push([`kernel-${f}`, `${f} kernel`, k.vmlinuz], [`kernel-${f}`, `${f} kernel config`, k.config]);
  }
  out.push(['busybox', 'static busybox', manifest.busybox.binary]);
  for (const v of INITRAMFS_VARIANTS) out.push([`initramfs-${v}`, `${v} initramfs`, manifest.initramfs[v].file]);
  const s = manifest.seabios;
  out.push(['seabios', 'SeaBIOS bios.bin', s.bios], ['seabios', 'SeaBIOS bios-256k.bin', s.bios256k],
    ['seabios', 'VGA BIOS (stdvga)', s.vgabios], ['seabios', 'VGA BIOS (cirrus)', s.vgabiosCirrus]);
  return out;
}

export interface CacheCheck {
  /** null when manifest.json is missing or unreadable */
  manifest: GuestManifest | null;
  /** components with a missing or changed file (all of them when there is no manifest) */
  bad: Set<Component>;
  /** one sentence per problem, naming the file */
  problems: string[];
}

export const ALL_COMPONENTS: readonly Component[] = [
  'kernel-686', 'kernel-686-pae', 'busybox', 'seabios', 'initramfs-batch', 'initramfs-shell',
];

/**
 * Checks the cache at `cacheDir` against its manifest: every output file
 * must exist with the recorded size and, when `hash` is set, the recorded
 * sha256. Reads the files; changes nothing; never throws for a missing or
 * broken cache (that is what `problems` says).
 */
export function checkCache(cacheDir: string, hash: boolean): CacheCheck {
  const manifestPath = join(cacheDir, MANIFEST_NAME);
  if (!existsSync(manifestPath)) {
    return { manifest: null, bad: new Set(ALL_COMPONENTS), problems: [`no ${MANIFEST_NAME} in ${cacheDir}`] };
  }
  let manifest: GuestManifest;
  try {
    manifest = parseManifest(readFileSync(manifestPath, 'utf8'));
  } catch (e) {
    return { manifest: null, bad: new Set(ALL_COMPONENTS), problems: [`${manifestPath} is unusable: ${(e as Error).message}`] };
  }
  const bad = new Set<Component>();
  const problems: string[] = [];
  for (const [component, label, record] of componentFiles(manifest)) {
    const problem = checkFile(cacheDir, record, hash);
    if (problem) {
      bad.add(component);
      problems.push(`${label}: ${problem}`);
    }
  }
  return { manifest, bad, problems };
}

/** Why `record` does not match the file on disk, or null when it does. Reads the file only when `hash`. */
export function checkFile(cacheDir: string, record: FileRecord, hash: boolean): string | null {
  const path = join(cacheDir, record.path);
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) return `${path} is not a regular file`;
    size = st.size;
  } catch {
    return `${path} is missing`;
  }
  if (size !== record.size) return `${path} has ${size} bytes, the manifest says ${record.size}`;
  if (hash && sha256File(path) !== record.sha256) return `${path} does not have the sha256 the manifest records`;
  return null;
}

/** Hex sha256 of a file, read in 1 MiB pieces. Throws the fs error when it cannot be read. */
export function sha256File(path: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

export const sha256Bytes = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** The FileRecord of `relPath` in `cacheDir` as it is now. */
export function recordFile(cacheDir: string, relPath: string): FileRecord {
  const path = join(cacheDir, relPath);
  return { path: relPath, size: statSync(path).size, sha256: sha256File(path) };
}

/** Writes `data` to `path` through a temporary file and a rename, so a reader never sees half a file. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/**
 * Parses manifest.json. Throws GuestsError naming the first field that is
 * missing or of the wrong type (an older or hand-edited manifest).
 */
export function parseManifest(text: string): GuestManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new GuestsError(`not JSON (${(e as Error).message})`);
  }
  const m = raw as GuestManifest;
  need(typeof raw === 'object' && raw !== null, 'the top level is not an object');
  need(m.format === MANIFEST_FORMAT, `format is ${String(m.format)}, this vmmu reads format ${MANIFEST_FORMAT}`);
  for (const f of KERNEL_FLAVOURS) {
    const k = m.kernels?.[f];
    need(typeof k?.release === 'string', `kernels.${f}.release is missing`);
    fileRecord(k.vmlinuz, `kernels.${f}.vmlinuz`);
    fileRecord(k.config, `kernels.${f}.config`);
    packageRecord(k.package, `kernels.${f}.package`);
  }
  packageRecord(m.busybox?.package, 'busybox.package');
  fileRecord(m.busybox.binary, 'busybox.binary');
  for (const v of INITRAMFS_VARIANTS) {
    fileRecord(m.initramfs?.[v]?.file, `initramfs.${v}.file`);
    need(typeof m.initramfs[v].recipe === 'string', `initramfs.${v}.recipe is missing`);
  }
  packageRecord(m.seabios?.package, 'seabios.package');
  for (const key of ['bios', 'bios256k', 'vgabios', 'vgabiosCirrus'] as const) fileRecord(m.seabios[key], `seabios.${key}`);
  need(typeof m.qemu?.installable === 'boolean', 'qemu.installable is missing');
  need(typeof m.guest?.cmdline === 'string', 'guest.cmdline is missing');
  return m;
}

function need(ok: boolean, what: string): asserts ok {
  if (!ok) throw new GuestsError(what);
}

function fileRecord(r: FileRecord | undefined, where: string): asserts r is FileRecord {
  need(typeof r?.path === 'string' && typeof r.size === 'number' && typeof r.sha256 === 'string', `${where} is not a file record`);
  need(!r.path.startsWith('/') && !r.path.split('/').includes('..'), `${where}.path leaves the cache directory`);
}

function packageRecord(r: PackageRecord | undefined, where: string): asserts r is PackageRecord {
  need(typeof r?.name === 'string' && typeof r.version === 'string' && typeof r.arch === 'string', `${where} is not a package record`);
  fileRecord(r.deb, `${where}.deb`);
}
