/**
 * The layout of vmmu's initramfs images: a static busybox, its applet
 * links, the device nodes a console needs before anything is mounted, and
 * an /init script. gzip-compressed newc cpio, which every Debian kernel
 * unpacks (CONFIG_BLK_DEV_INITRD, CONFIG_RD_GZIP).
 *
 *   bin/busybox        the static i386 binary from busybox-static
 *   bin/<applet>       symlinks to busybox
 *   sbin, usr/bin, usr/sbin
 *                      symlinks to bin (so every usual path finds the applets)
 *   dev/console 5,1    the kernel opens it as init's stdin/out/err
 *   dev/ttyS0   4,64   the serial line, for cttyhack's controlling tty
 *   dev/null    1,3
 *   proc, sys, tmp (1777), root, etc
 *   init               the script (see init-scripts.ts)
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { writeNewc, type CpioEntry } from './cpio.js';
import { APPLETS, BATCH_INIT, SHELL_INIT } from './init-scripts.js';

export type InitramfsVariant = 'batch' | 'shell';

/** The /init text of each variant. */
export const INIT_SCRIPTS: Readonly<Record<InitramfsVariant, string>> = { batch: BATCH_INIT, shell: SHELL_INIT };

/**
 * The archive members of `variant`, in unpacking order, around the given
 * busybox binary. Changes nothing.
 */
export function initramfsEntries(variant: InitramfsVariant, busybox: Uint8Array): CpioEntry[] {
  const dir = (path: string, mode = 0o755): CpioEntry => ({ kind: 'dir', path, mode });
  const entries: CpioEntry[] = [
    dir('bin'), dir('dev'), dir('etc'), dir('proc', 0o555), dir('root', 0o700), dir('sys', 0o555),
    dir('tmp', 0o1777), dir('usr'),
    { kind: 'symlink', path: 'sbin', target: 'bin' },
    { kind: 'symlink', path: 'usr/bin', target: '../bin' },
    { kind: 'symlink', path: 'usr/sbin', target: '../bin' },
    { kind: 'chardev', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
    { kind: 'chardev', path: 'dev/ttyS0', mode: 0o660, major: 4, minor: 64 },
    { kind: 'chardev', path: 'dev/null', mode: 0o666, major: 1, minor: 3 },
    { kind: 'file', path: 'bin/busybox', mode: 0o755, data: busybox },
  ];
  for (const applet of [...APPLETS].sort()) entries.push({ kind: 'symlink', path: `bin/${applet}`, target: 'busybox' });
  entries.push({ kind: 'file', path: 'init', mode: 0o755, data: new TextEncoder().encode(INIT_SCRIPTS[variant]) });
  return entries;
}

/**
 * The gzip-compressed initramfs of `variant`. The same busybox always gives
 * the same bytes (fixed mtimes and inode numbers; zlib writes no timestamp).
 * Changes nothing.
 */
export function buildInitramfs(variant: InitramfsVariant, busybox: Uint8Array): Uint8Array {
  return gzipSync(writeNewc(initramfsEntries(variant, busybox)), { level: 9 });
}

/**
 * A fingerprint of everything in the image but busybox's bytes (members,
 * modes, links, /init): sha256 of the uncompressed archive built around an
 * empty busybox. A cached image whose recipe differs is out of date with
 * this code. Changes nothing.
 */
export function initramfsRecipe(variant: InitramfsVariant): string {
  return createHash('sha256').update(writeNewc(initramfsEntries(variant, new Uint8Array(0)))).digest('hex');
}
