/**
 * The applets a busybox binary provides, read from the binary itself rather
 * than by running it: the guests' busybox is an i386 executable, and a host
 * that cannot execute i386 code (an x86-64 kernel built without 32-bit
 * support, an arm64 machine) must still be able to check it.
 *
 * busybox keeps its applet names in one table in its read-only data: the
 * names, each ended by a NUL, sorted by byte value so that the binary can
 * search them ("[", "[[", "acpid", ..., "zcat"). `--list` prints exactly that
 * table. The reader takes the longest run of NUL-ended strings that look
 * like command names and ascend strictly: nothing else in the binary is a
 * sorted list of hundreds of such names.
 */

/** Fewer names than this in the longest sorted run: not an applet table. */
export const MIN_APPLET_TABLE = 16;
/** Longest applet name accepted (busybox's are well under this). */
const MAX_NAME = 32;

/** A byte that may appear in an applet name: a-z, 0-9, '_', '-', '.', '[' and ']'. */
function nameByte(b: number): boolean {
  return (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x5f || b === 0x2d || b === 0x2e || b === 0x5b || b === 0x5d;
}

/** Byte-wise comparison of two ASCII names, as the binary's own search compares them. */
function before(a: string, b: string): boolean {
  return a < b; // code-unit order, which for ASCII is byte order
}

/**
 * The applet names of a busybox binary in table order, or null when no
 * table is found (not a busybox, or one built in a way this reader does not
 * know).
 */
export function readAppletNames(binary: Uint8Array): string[] | null {
  let best: string[] = [];
  let run: string[] = [];
  let start = 0; // first byte of the current token
  let ok = true; // every byte of the current token so far is a name byte
  for (let i = 0; i < binary.length; i++) {
    const b = binary[i]!;
    if (b !== 0) {
      if (ok && !nameByte(b)) ok = false;
      continue;
    }
    // a token [start, i) ended by a NUL
    const len = i - start;
    if (ok && len > 0 && len <= MAX_NAME) {
      const name = String.fromCharCode(...binary.subarray(start, i));
      const prev = run[run.length - 1];
      if (prev !== undefined && !before(prev, name)) {
        if (run.length > best.length) best = run;
        run = [];
      }
      run.push(name);
    } else {
      if (run.length > best.length) best = run;
      run = [];
    }
    start = i + 1;
    ok = true;
  }
  if (run.length > best.length) best = run;
  return best.length >= MIN_APPLET_TABLE ? best : null;
}
