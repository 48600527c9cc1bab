/**
 * A writer for the cpio "newc" format (the SVR4 portable format without
 * checksums), the one the Linux kernel unpacks as an initramfs
 * (Documentation/driver-api/early-userspace/buffer-format.rst).
 *
 * Every member is a 110-byte ASCII header, the NUL-terminated name padded so
 * that header + name is a multiple of 4 bytes, then the data padded to a
 * multiple of 4. The header is the magic "070701" and 13 fields of 8
 * upper-case hex digits:
 *
 *   offset  field
 *   0       c_magic     "070701"
 *   6       c_ino       inode number (unique per member here: no hard links)
 *   14      c_mode      file type and permission bits (S_IFREG | 0755, ...)
 *   22      c_uid
 *   30      c_gid
 *   38      c_nlink     2 for directories, 1 otherwise
 *   46      c_mtime     seconds since the epoch (a fixed value: reproducible)
 *   54      c_filesize  data length (a symlink's data is its target)
 *   62      c_devmajor  device holding the file (0)
 *   70      c_devminor
 *   78      c_rdevmajor for a device node: its major
 *   86      c_rdevminor                   and minor
 *   94      c_namesize  name length including the NUL
 *   102     c_check     0 (only "070702" archives carry a checksum)
 *
 * The archive ends with a member named "TRAILER!!!". The kernel creates
 * members in order and never makes missing parent directories, so the
 * writer refuses a member whose parent was not listed before it.
 */

/** File-type bits of st_mode (POSIX, <sys/stat.h>). */
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

export const NEWC_MAGIC = '070701';
export const NEWC_HEADER_BYTES = 110;
export const NEWC_TRAILER = 'TRAILER!!!';

/** One archive member. `path` is relative ("bin/sh", no leading slash); `mode` holds permission bits only. */
export type CpioEntry =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; mode: number; data: Uint8Array }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev' | 'blockdev'; path: string; mode: number; major: number; minor: number };

export interface CpioOptions {
  /** c_mtime of every member; default 0, so the same members always give the same bytes */
  mtime?: number;
  /** owner of every member; default 0 (root) */
  uid?: number;
  gid?: number;
}

/** Raised for a member the kernel could not unpack (bad name, missing parent, oversized field). */
export class CpioError extends Error {
  override name = 'CpioError';
}

const MAX_FIELD = 0xffffffff;
const encoder = new TextEncoder();

/**
 * Builds a newc archive of `entries`, in their order, followed by the
 * trailer. Returns the uncompressed archive. Throws CpioError for an empty,
 * absolute, duplicate or ".."-containing path, a member whose parent
 * directory is not an earlier "dir" member, or a value that does not fit a
 * 32-bit field. Changes nothing.
 */
export function writeNewc(entries: readonly CpioEntry[], options: CpioOptions = {}): Uint8Array {
  const mtime = options.mtime ?? 0;
  const uid = options.uid ?? 0;
  const gid = options.gid ?? 0;
  const dirs = new Set<string>(['']);
  const seen = new Set<string>();
  const chunks: Uint8Array[] = [];
  let ino = 1;
  for (const entry of entries) {
    checkPath(entry.path, dirs, seen);
    seen.add(entry.path);
    let mode: number;
    let data: Uint8Array = EMPTY;
    let nlink = 1;
    let rdevMajor = 0;
    let rdevMinor = 0;
    switch (entry.kind) {
      case 'dir':
        mode = S_IFDIR | (entry.mode & 0o7777);
        nlink = 2;
        dirs.add(entry.path);
        break;
      case 'file':
        mode = S_IFREG | (entry.mode & 0o7777);
        data = entry.data;
        break;
      case 'symlink':
        if (entry.target.length === 0) throw new CpioError(`symlink ${entry.path} has an empty target`);
        mode = S_IFLNK | 0o777;
        data = encoder.encode(entry.target);
        break;
      case 'chardev':
      case 'blockdev':
        mode = (entry.kind === 'chardev' ? S_IFCHR : S_IFBLK) | (entry.mode & 0o7777);
        rdevMajor = entry.major;
        rdevMinor = entry.minor;
        break;
    }
    chunks.push(member(entry.path, [ino++, mode, uid, gid, nlink, mtime, data.length, 0, 0, rdevMajor, rdevMinor], data));
  }
  chunks.push(member(NEWC_TRAILER, [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0], EMPTY));
  return concat(chunks);
}

const EMPTY = new Uint8Array(0);

/** Header fields c_ino .. c_rdevminor, in order (c_namesize and c_check are added by `member`). */
type HeaderFields = [number, number, number, number, number, number, number, number, number, number, number];

function member(name: string, fields: HeaderFields, data: Uint8Array): Uint8Array {
  const nameBytes = encoder.encode(name);
  const headerAndName = NEWC_HEADER_BYTES + nameBytes.length + 1;
  const namePadded = pad4(headerAndName);
  const out = new Uint8Array(namePadded + pad4(data.length));
  let header = NEWC_MAGIC;
  for (const value of [...fields, nameBytes.length + 1, 0]) header += hex8(value, name);
  out.set(encoder.encode(header), 0);
  out.set(nameBytes, NEWC_HEADER_BYTES);
  // out[headerAndName - 1] is the name's NUL; the padding is zero too.
  out.set(data, namePadded);
  return out;
}

function hex8(value: number, name: string): string {
  if (!Number.isInteger(value) || value < 0 || value > MAX_FIELD) {
    throw new CpioError(`member ${name}: header value ${value} does not fit 8 hex digits`);
  }
  return value.toString(16).toUpperCase().padStart(8, '0');
}

function checkPath(path: string, dirs: Set<string>, seen: Set<string>): void {
  if (path.length === 0 || path.startsWith('/') || path.endsWith('/')) {
    throw new CpioError(`member path "${path}" must be relative, non-empty and not end in "/"`);
  }
  if (path.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new CpioError(`member path "${path}" has an empty, "." or ".." component`);
  }
  if (path === NEWC_TRAILER) throw new CpioError(`member path "${path}" is the trailer's name`);
  if (seen.has(path)) throw new CpioError(`member path "${path}" appears twice`);
  const slash = path.lastIndexOf('/');
  const parent = slash < 0 ? '' : path.slice(0, slash);
  if (!dirs.has(parent)) {
    throw new CpioError(`member ${path} comes before its directory ${parent}: the kernel would not create it`);
  }
}

const pad4 = (n: number): number => (n + 3) & ~3;

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const c of chunks) total += c.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
