/**
 * Where `npm run guests` put the Linux guests, for code that boots them
 * (boot tests, the CLI, benchmarks).
 *
 *   import { guestFiles } from '../../src/guests/paths.js';
 *   const g = guestFiles();          // throws GuestsMissingError, telling the user to run `npm run guests`
 *   boot(g.kernels['686'], g.initramfs.batch, g.cmdline);
 *
 * The cache directory is $VMMU_GUEST_CACHE, or ~/.cache/vmmu/guests.
 * Only sizes are checked here (fast); `npm run guests` checks sha256 too.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { GuestsError } from './errors.js';
import { initramfsRecipe, type InitramfsVariant } from './initramfs.js';
import { checkCache, INITRAMFS_VARIANTS, KERNEL_FLAVOURS, type GuestManifest, type KernelFlavour } from './manifest.js';

/** Environment variable naming the cache directory. */
export const CACHE_ENV = 'VMMU_GUEST_CACHE';

/** The cache directory: $VMMU_GUEST_CACHE (made absolute) when set and not empty, else ~/.cache/vmmu/guests. */
export function guestCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[CACHE_ENV];
  return fromEnv ? resolve(fromEnv) : join(homedir(), '.cache', 'vmmu', 'guests');
}

/** Absolute paths of the cached guest files, and the manifest they come from. */
export interface GuestFiles {
  cacheDir: string;
  manifest: GuestManifest;
  /** bzImage of each flavour (686: no PAE, 32-bit paging; 686-pae: PAE paging, NX) */
  kernels: Record<KernelFlavour, string>;
  /** `uname -r` of each flavour */
  kernelReleases: Record<KernelFlavour, string>;
  /** gzip'd newc initramfs of each variant (batch: runs and powers off; shell: interactive) */
  initramfs: Record<InitramfsVariant, string>;
  /** the static i386 busybox inside the images */
  busybox: string;
  /** SeaBIOS images and VGA BIOSes, for comparisons with QEMU */
  bios: string;
  bios256k: string;
  vgabios: string;
  vgabiosCirrus: string;
  /** kernel command line the guests were validated with */
  cmdline: string;
}

/** The guest files are missing, changed or out of date; the message says which and to run `npm run guests`. */
export class GuestsMissingError extends GuestsError {
  override name = 'GuestsMissingError';
}

export interface GuestFilesOptions {
  /** default: guestCacheDir() */
  cacheDir?: string;
}

export type FindResult = { ok: true; files: GuestFiles } | { ok: false; reason: string };

/**
 * The cached guest files, or why they cannot be used (for tests that skip
 * without them). Reads the manifest and stats the files; changes nothing.
 */
export function findGuestFiles(options: GuestFilesOptions = {}): FindResult {
  const cacheDir = options.cacheDir ?? guestCacheDir();
  const check = checkCache(cacheDir, false);
  const manifest = check.manifest;
  const problems = [...check.problems];
  if (manifest) {
    for (const v of INITRAMFS_VARIANTS) {
      if (!check.bad.has(`initramfs-${v}`) && manifest.initramfs[v].recipe !== initramfsRecipe(v)) {
        problems.push(`the ${v} initramfs was built by an older src/guests (its layout or /init changed)`);
      }
    }
  }
  if (!manifest || problems.length > 0) {
    const where = options.cacheDir ? cacheDir : `${cacheDir} (${process.env[CACHE_ENV] ? `$${CACHE_ENV}` : `default; set ${CACHE_ENV} to change it`})`;
    return {
      ok: false,
      reason: `vmmu's Linux guest files are not ready in ${where}: ${problems.join('; ')}. `
        + 'Run `npm run guests` to download Debian\'s i386 kernels and build the initramfs images.',
    };
  }
  const abs = (rel: string): string => join(cacheDir, rel);
  const kernels = {} as Record<KernelFlavour, string>;
  const kernelReleases = {} as Record<KernelFlavour, string>;
  for (const f of KERNEL_FLAVOURS) {
    kernels[f] = abs(manifest.kernels[f].vmlinuz.path);
    kernelReleases[f] = manifest.kernels[f].release;
  }
  const initramfs = {} as Record<InitramfsVariant, string>;
  for (const v of INITRAMFS_VARIANTS) initramfs[v] = abs(manifest.initramfs[v].file.path);
  return {
    ok: true,
    files: {
      cacheDir,
      manifest,
      kernels,
      kernelReleases,
      initramfs,
      busybox: abs(manifest.busybox.binary.path),
      bios: abs(manifest.seabios.bios.path),
      bios256k: abs(manifest.seabios.bios256k.path),
      vgabios: abs(manifest.seabios.vgabios.path),
      vgabiosCirrus: abs(manifest.seabios.vgabiosCirrus.path),
      cmdline: manifest.guest.cmdline,
    },
  };
}

/**
 * The cached guest files. Throws GuestsMissingError, naming what is missing
 * and telling the user to run `npm run guests`. Changes nothing.
 */
export function guestFiles(options: GuestFilesOptions = {}): GuestFiles {
  const found = findGuestFiles(options);
  if (!found.ok) throw new GuestsMissingError(found.reason);
  return found.files;
}
