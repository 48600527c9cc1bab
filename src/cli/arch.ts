/**
 * `vmmu boot --arch i686|x86_64`: the architecture of the guest, by
 * `uname -m`'s names. It shapes the CPU (the features that architecture
 * cannot run without, under whatever `--cpu` adds or removes) and, with
 * neither --kernel nor --multiboot, picks the default guest of that
 * architecture from `npm run guests`: Debian's 686 kernel (i686, the
 * default) or its cloud-amd64 kernel (x86_64), each with the busybox shell
 * on a terminal and the batch initramfs (which runs its checks and powers
 * off) otherwise.
 *
 * Apart from main.ts so that the mapping is tested without a boot
 * (test/cli/arch.test.ts); loaded only by `vmmu boot`.
 */
import { CpuFeatureError, CpuFeatures } from '../cpu/features.js';
import { guestCacheDir, guestFiles } from '../guests/paths.js';
import { guestFiles64 } from '../guests/x86_64.js';
import { OptionError } from './options.js';

/** The architectures, the default first. */
export const BOOT_ARCHES = ['i686', 'x86_64'] as const;
export type BootArch = (typeof BOOT_ARCHES)[number];

/**
 * The features each architecture turns on before `--cpu` is applied, and
 * that `--cpu` may then not turn off (with why). x86-64 is long mode, and
 * SSE and SSE2 are part of it: every x86-64 processor has them, Debian's
 * 64-bit kernel checks for them before it starts (its boot stub halts
 * without a word when one is missing, docs/cpu.md "x86-64") and its user
 * space uses SSE2 from its first instructions. Long mode's paging is PAE
 * paging, so PAE (on by default) is needed too. i686 is the default CPU.
 */
export const ARCH_NEEDS: Readonly<Record<BootArch, readonly { feature: string; why: string }[]>> = {
  i686: [],
  x86_64: [
    { feature: 'lm', why: 'long mode: 64-bit code' },
    { feature: 'pae', why: 'long mode pages through PAE-format tables' },
    { feature: 'sse', why: 'every x86-64 processor has it, and the 64-bit kernel halts at once without it' },
    { feature: 'sse2', why: 'every x86-64 processor has it, and the 64-bit kernel halts at once without it' },
  ],
};

/** The --arch value: i686 when absent; an OptionError naming the values there are otherwise. */
export function parseArch(v: string | undefined): BootArch {
  if (v === undefined) return 'i686';
  if ((BOOT_ARCHES as readonly string[]).includes(v)) return v as BootArch;
  const hint = v === 'amd64' || v === 'x86-64' ? '; x86_64 is Debian\'s amd64' : /^i[3-5]86$/.test(v) ? '; i686 is Debian\'s i386 686 kernel' : '';
  throw new OptionError(`--arch: '${v}' is not one of ${BOOT_ARCHES.join(', ')} (uname -m's names${hint})`);
}

/**
 * The CPU of `arch` with the user's `--cpu` specification applied on top.
 * Throws OptionError when the specification turns off a feature the
 * architecture needs (naming the item, the feature and why), and for every
 * mistake CpuFeatures reports (prefixed "--cpu: ").
 */
export function archCpu(arch: BootArch, spec = ''): CpuFeatures {
  const needs = ARCH_NEEDS[arch];
  // The user's last word on each feature decides: "-sse,+sse" leaves it on.
  const last = new Map<string, string>();
  for (const raw of spec.split(',')) {
    const item = raw.trim();
    if (item.length > 1 && (item[0] === '+' || item[0] === '-')) last.set(item.slice(1).toLowerCase(), item);
  }
  for (const n of needs) {
    const item = last.get(n.feature);
    if (item?.[0] === '-') throw new OptionError(`--cpu ${item}: --arch ${arch} needs ${n.feature} (${n.why}), so --cpu cannot turn it off`);
  }
  const base = needs.filter((n) => !new CpuFeatures().has(n.feature)).map((n) => `+${n.feature}`).join(',');
  try {
    return new CpuFeatures(base === '' ? spec : spec === '' ? base : `${base},${spec}`);
  } catch (e) {
    if (e instanceof CpuFeatureError) throw new OptionError(`--cpu: ${e.message}`);
    throw e;
  }
}

/** What the default guest of an architecture boots. */
export interface DefaultGuest {
  kernel: string;
  initrd: string;
  /** the command line the guests were validated with (--append replaces it) */
  cmdline: string;
  /** for the banner: "Debian <release> with a busybox shell" */
  what: string;
}

/**
 * The default guest of `arch`: the shell image when `interactive` (a
 * person at a terminal), else the batch image. Throws GuestsMissingError
 * (naming what is missing and the `npm run guests` command that makes it)
 * when the cache (`cacheDir`, default $VMMU_GUEST_CACHE or
 * ~/.cache/vmmu/guests) is not ready.
 */
export function defaultGuest(arch: BootArch, interactive: boolean, cacheDir?: string): DefaultGuest {
  const image = interactive ? 'a busybox shell' : 'the batch initramfs (it runs its checks and powers off)';
  if (arch === 'x86_64') {
    const g = guestFiles64(cacheDir ?? guestCacheDir());
    return { kernel: g.kernel, initrd: interactive ? g.shell : g.batch, cmdline: g.cmdline, what: `Debian ${g.release} with ${image}` };
  }
  // without a directory, guestFiles' message says where the default is and how to change it
  const g = guestFiles(cacheDir === undefined ? {} : { cacheDir });
  return { kernel: g.kernels['686'], initrd: interactive ? g.initramfs.shell : g.initramfs.batch, cmdline: g.cmdline, what: `Debian ${g.kernelReleases['686']} with ${image}` };
}
