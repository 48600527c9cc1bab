/**
 * Reads the setup header of a Linux bzImage (Documentation/arch/x86/boot.rst),
 * to check that a downloaded vmlinuz is one and to record what vmmu's loader
 * will see.
 *
 *   offset  size  field
 *   0x1f1   1     setup_sects     512-byte sectors of real-mode setup after the boot sector (0 means 4)
 *   0x1fe   2     boot_flag       0xaa55
 *   0x202   4     header          "HdrS"
 *   0x206   2     version         boot protocol, major.minor as 0xMMmm
 *   0x20e   2     kernel_version  offset of a NUL-terminated version string, minus 0x200
 *   0x211   1     loadflags       bit 0 LOADED_HIGH: protected-mode code at 1 MiB (a bzImage)
 */

export interface BzImageInfo {
  /** "2.15" */
  bootProtocol: string;
  setupSects: number;
  /** "6.1.0-50-686 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.176-1 (2026-07-02)" */
  versionString: string;
}

const HDRS = 0x53726448;
const LOADED_HIGH = 0x01;

/**
 * The setup header of `image`. Returns null when it is not a bzImage (too
 * short, no boot flag, no "HdrS", protocol before 2.00, not loaded high).
 * Changes nothing.
 */
export function readBzImage(image: Uint8Array): BzImageInfo | null {
  if (image.length < 0x264) return null;
  const view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (view.getUint16(0x1fe, true) !== 0xaa55 || view.getUint32(0x202, true) !== HDRS) return null;
  const version = view.getUint16(0x206, true);
  if (version < 0x0200 || (image[0x211]! & LOADED_HIGH) === 0) return null;
  const setupSects = image[0x1f1] || 4;
  let versionString = '';
  const at = view.getUint16(0x20e, true) + 0x200;
  if (at > 0x200 && at < image.length) {
    const end = image.indexOf(0, at);
    versionString = new TextDecoder().decode(image.subarray(at, end < 0 ? Math.min(image.length, at + 256) : end));
  }
  return { bootProtocol: `${version >> 8}.${(version & 0xff).toString().padStart(2, '0')}`, setupSects, versionString };
}
