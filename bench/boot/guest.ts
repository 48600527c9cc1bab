/**
 * The two guests `npm run bench:boot` boots: Debian's 686 kernel (i686)
 * and its 64-bit cloud-amd64 kernel (x86_64), named as `vmmu boot --arch`
 * names them, each with the batch
 * initramfs of its architecture and the command line it was validated
 * with, and the CPU each engine gives it. Both come from `npm run guests`
 * (the 64-bit files in the cache's x86_64/, src/guests/x86_64.ts).
 */
import { findGuestFiles, guestCacheDir, type GuestFiles } from '../../src/guests/paths.js';
import { findGuestFiles64 } from '../../src/guests/x86_64.js';
import type { GuestArch } from '../../src/guests/init-scripts.js';
import type { BootArch } from '../../src/cli/arch.js';

export interface BootGuest {
  arch: BootArch;
  /** the architecture of its batch image's expected lines (src/guests/init-scripts.ts) */
  batchArch: GuestArch;
  /** the bzImage, the batch initramfs and the kernel command line */
  kernel: string;
  initrd: string;
  cmdline: string;
  /** `uname -r` */
  release: string;
  /** vmmu's CPU (`vmmu boot --cpu`; '' for its default) */
  vmmuCpu: string;
  /** the QEMU binary and CPU model */
  qemuBinary: string;
  qemuCpu: string;
  /** the i386 files in full (v86 needs SeaBIOS from them); null for x86_64 */
  files: GuestFiles | null;
}

/**
 * The 64-bit kernel's CPU, as test/machine/linux-boot-amd64.test.ts boots
 * it: long mode, and SSE and SSE2, which the x86-64 ABI makes
 * architectural (no PCIDs, 4-level paging).
 */
export const CPU_X86_64 = '+lm,+sse,+sse2';

/**
 * QEMU's CPU for each architecture: pentium3 for the 686 kernel (no
 * PAE-only or SSE2 assumptions), qemu64 for the 64-bit one (QEMU's
 * default x86-64 model: long mode, SSE to SSE3, no PCID, 4-level paging).
 */
export const QEMU_CPU: Record<BootArch, string> = { i686: 'pentium3', x86_64: 'qemu64' };
export const QEMU_BINARY: Record<BootArch, string> = { i686: 'qemu-system-i386', x86_64: 'qemu-system-x86_64' };

/** The guest of `arch`, or why its files are not ready (changes nothing). */
export function findBootGuest(arch: BootArch): { ok: true; guest: BootGuest } | { ok: false; reason: string } {
  const common = { arch, batchArch: (arch === 'i686' ? 'i386' : 'x86_64') as GuestArch, qemuBinary: QEMU_BINARY[arch], qemuCpu: QEMU_CPU[arch] };
  if (arch === 'i686') {
    const found = findGuestFiles();
    if (!found.ok) return found;
    const f = found.files;
    return {
      ok: true,
      guest: { ...common, kernel: f.kernels['686'], initrd: f.initramfs.batch, cmdline: f.cmdline, release: f.kernelReleases['686'], vmmuCpu: '', files: f },
    };
  }
  const f = findGuestFiles64(guestCacheDir());
  if (!f.ok) return f;
  return { ok: true, guest: { ...common, kernel: f.kernel, initrd: f.batch, cmdline: f.cmdline, release: f.release, vmmuCpu: CPU_X86_64, files: null } };
}

/** The guest of `arch`; throws with the reason when its files are not ready. */
export function bootGuest(arch: BootArch): BootGuest {
  const r = findBootGuest(arch);
  if (!r.ok) throw new Error(r.reason);
  return r.guest;
}
