/**
 * An independent newc reader for the tests: parses what cpio.ts writes
 * following the format description (not the writer's code), and insists on
 * every rule the kernel relies on (magic, hex fields, NUL-terminated names,
 * 4-byte alignment, the trailer at the end).
 */
export interface NewcMember {
  /** byte offset of the member's header */
  offset: number;
  name: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  devMajor: number;
  devMinor: number;
  rdevMajor: number;
  rdevMinor: number;
  check: number;
  data: Uint8Array;
}

const FIELDS = ['ino', 'mode', 'uid', 'gid', 'nlink', 'mtime', 'filesize', 'devMajor', 'devMinor', 'rdevMajor', 'rdevMinor', 'namesize', 'check'] as const;

/** Every member before the trailer, in order. Throws on any deviation from the format. */
export function readNewc(archive: Uint8Array): NewcMember[] {
  const text = new TextDecoder('latin1');
  const members: NewcMember[] = [];
  let at = 0;
  for (;;) {
    if (at % 4 !== 0) throw new Error(`member at ${at} is not 4-byte aligned`);
    if (at + 110 > archive.length) throw new Error(`archive ends at ${archive.length} without a trailer`);
    const header = text.decode(archive.subarray(at, at + 110));
    if (!header.startsWith('070701')) throw new Error(`bad magic at ${at}: ${header.slice(0, 6)}`);
    const v: Record<string, number> = {};
    FIELDS.forEach((f, i) => {
      const hex = header.slice(6 + 8 * i, 14 + 8 * i);
      if (!/^[0-9A-F]{8}$/.test(hex)) throw new Error(`field ${f} at ${at} is not 8 upper-case hex digits: ${hex}`);
      v[f] = parseInt(hex, 16);
    });
    const nameEnd = at + 110 + v.namesize! - 1;
    if (archive[nameEnd] !== 0) throw new Error(`name at ${at} is not NUL-terminated`);
    const name = new TextDecoder().decode(archive.subarray(at + 110, nameEnd));
    const dataAt = (nameEnd + 1 + 3) & ~3;
    for (let i = nameEnd + 1; i < dataAt; i++) if (archive[i] !== 0) throw new Error(`name padding of ${name} is not zero`);
    const data = archive.subarray(dataAt, dataAt + v.filesize!);
    const next = (dataAt + v.filesize! + 3) & ~3;
    for (let i = dataAt + v.filesize!; i < next; i++) if (archive[i] !== 0) throw new Error(`data padding of ${name} is not zero`);
    if (name === 'TRAILER!!!') {
      if (next !== archive.length) throw new Error(`${archive.length - next} bytes follow the trailer`);
      return members;
    }
    members.push({
      offset: at, name, ino: v.ino!, mode: v.mode!, uid: v.uid!, gid: v.gid!, nlink: v.nlink!, mtime: v.mtime!,
      devMajor: v.devMajor!, devMinor: v.devMinor!, rdevMajor: v.rdevMajor!, rdevMinor: v.rdevMinor!, check: v.check!, data,
    });
    at = next;
  }
}
