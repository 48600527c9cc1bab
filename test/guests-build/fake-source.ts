/**
 * A stand-in for Debian's archive: packages are JSON "debs" listing their
 * files, so the pipeline can be run end to end without apt or a network,
 * and every call it makes is counted.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { debFileName, type InstallProbe, type PackageInfo, type PackageSource } from '../../src/guests/apt.js';
import { GuestsError } from '../../src/guests/errors.js';

interface FakePackage {
  version: string;
  arch: string;
  depends: string;
  /** path inside the package -> content */
  files: Record<string, Uint8Array>;
}

/** 0x300 bytes with a bzImage setup header (protocol 2.15) and a version string at 0x280. */
export function fakeBzImage(release: string): Uint8Array {
  const image = new Uint8Array(0x300);
  const view = new DataView(image.buffer);
  image[0x1f1] = 1;
  view.setUint16(0x1fe, 0xaa55, true);
  view.setUint32(0x202, 0x53726448, true);
  view.setUint16(0x206, 0x020f, true);
  view.setUint16(0x20e, 0x80, true);
  image[0x211] = 0x01;
  image.set(new TextEncoder().encode(`${release} (fake) #1`), 0x280);
  return image;
}

/**
 * An ELF header of a 32-bit little-endian i386 executable, and some bytes;
 * with `applets`, followed by an applet name table laid out as busybox
 * lays it out (each name ended by a NUL, sorted) between other strings.
 */
export function fakeBusybox(marker = 'busybox', applets?: readonly string[]): Uint8Array {
  const elf = new Uint8Array(64);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  elf[16] = 2; // ET_EXEC
  elf[18] = 3; // EM_386
  elf.set(new TextEncoder().encode(marker), 32);
  if (!applets) return elf;
  const table = new TextEncoder().encode(`usage\0zz\0\0${[...applets].sort().join('\0')}\0\0%s: %s\0`);
  const out = new Uint8Array(elf.length + table.length);
  out.set(elf);
  out.set(table, elf.length);
  return out;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Bookworm as it looked when this was written, in miniature. */
export function bookworm(abi = '50', version = '6.1.176-1'): Map<string, FakePackage> {
  const kernel = (flavour: string): [string, FakePackage] => [`linux-image-6.1.0-${abi}-${flavour}`, {
    version, arch: 'i386', depends: 'kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool',
    files: {
      [`boot/vmlinuz-6.1.0-${abi}-${flavour}`]: fakeBzImage(`6.1.0-${abi}-${flavour}`),
      [`boot/config-6.1.0-${abi}-${flavour}`]: text(`CONFIG_X86_32=y\n# ${flavour}\n`),
      [`lib/modules/6.1.0-${abi}-${flavour}/modules.dep`]: text(''),
    },
  }];
  const meta = (flavour: string): [string, FakePackage] => [`linux-image-${flavour}`, {
    version, arch: 'i386', depends: `linux-image-6.1.0-${abi}-${flavour} (= ${version})`, files: {},
  }];
  const bios: Record<string, Uint8Array> = {};
  for (const f of ['bios.bin', 'bios-256k.bin', 'vgabios-stdvga.bin', 'vgabios-cirrus.bin', 'vgabios-qxl.bin']) {
    bios[`usr/share/seabios/${f}`] = text(`${f} image`);
  }
  return new Map([
    meta('686'), meta('686-pae'), kernel('686'), kernel('686-pae'),
    ['busybox-static', { version: '1:1.35.0-4+deb12u1+b1', arch: 'i386', depends: '', files: { 'bin/busybox': fakeBusybox() } }],
    ['seabios', { version: '1.16.2-1', arch: 'all', depends: '', files: bios }],
  ]);
}

/** A 64-bit x86-64 ELF header where fakeBusybox has an i386 one. */
export function fakeBusybox64(): Uint8Array {
  const b = fakeBusybox('busybox64');
  b[4] = 2; // ELFCLASS64
  b[18] = 62; // EM_X86_64
  return b;
}

/** The amd64 side of the archive: the cloud-amd64 kernels of ABI 50 and 51 (the metapackage on 51), busybox-static:amd64. */
export function amd64Archive(busybox = fakeBusybox64()): FakeSource {
  const kernel = (abi: string, version: string): [string, { version: string; arch: string; depends: string; files: Record<string, Uint8Array> }] => [`linux-image-6.1.0-${abi}-cloud-amd64`, {
    version, arch: 'amd64', depends: 'kmod',
    files: {
      [`boot/vmlinuz-6.1.0-${abi}-cloud-amd64`]: fakeBzImage(`6.1.0-${abi}-cloud-amd64`),
      [`boot/config-6.1.0-${abi}-cloud-amd64`]: text('CONFIG_X86_64=y\n'),
    },
  }];
  return new FakeSource(new Map([
    kernel('50', '6.1.176-1'), kernel('51', '6.1.180-1'),
    ['linux-image-cloud-amd64', { version: '6.1.180-1', arch: 'amd64', depends: 'linux-image-6.1.0-51-cloud-amd64 (= 6.1.180-1)', files: {} }],
    ['busybox-static', { version: '1:1.35.0-4+deb12u1+b1', arch: 'amd64', depends: '', files: { 'bin/busybox': busybox } }],
  ]));
}

export class FakeSource implements PackageSource {
  readonly calls: string[] = [];
  /** when set, download fails like apt-get does when the archive is unreachable */
  offline = false;

  constructor(public packages: Map<string, FakePackage> = bookworm()) {}

  prepare(): void {
    this.calls.push('prepare');
  }

  candidates(wanted: readonly { name: string; arch: string }[]): PackageInfo[] {
    this.calls.push(`candidates ${wanted.map((w) => w.name).join(' ')}`);
    return wanted.map(({ name, arch }) => {
      const p = this.packages.get(name);
      if (!p || (p.arch !== arch && arch !== 'all')) throw new GuestsError(`apt knows no package ${name}:${arch}`);
      return { name, arch: p.arch, version: p.version, depends: p.depends };
    });
  }

  download(pkgs: readonly PackageInfo[], dir: string): void {
    this.calls.push(`download ${pkgs.map((p) => p.name).join(' ')}`);
    const specs = pkgs.map((p) => `${p.name}:${p.arch}=${p.version}`).join(' ');
    if (this.offline) throw new GuestsError(`apt-get download ${specs} failed (exit 100): E: Failed to fetch; is Debian's archive reachable?`);
    for (const pkg of pkgs) {
      const p = this.packages.get(pkg.name);
      if (!p || p.version !== pkg.version) throw new GuestsError(`E: Version '${pkg.version}' for '${pkg.name}' was not found`);
      const files = Object.fromEntries(Object.entries(p.files).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
      writeFileSync(join(dir, debFileName(pkg)), JSON.stringify({ name: pkg.name, version: p.version, arch: p.arch, files }));
    }
  }

  debFields(debPath: string): { name: string; version: string; arch: string } {
    const deb = JSON.parse(readFileSync(debPath, 'utf8')) as { name: string; version: string; arch: string };
    return { name: deb.name, version: deb.version, arch: deb.arch };
  }

  extract(debPath: string, dir: string): void {
    this.calls.push(`extract ${debPath.split('/').pop()}`);
    const deb = JSON.parse(readFileSync(debPath, 'utf8')) as { files: Record<string, string> };
    for (const [path, b64] of Object.entries(deb.files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), Buffer.from(b64, 'base64'));
    }
  }

  probeInstall(name: string): InstallProbe {
    this.calls.push(`probe ${name}`);
    return { candidate: '1:7.2+dfsg-7+deb12u18', installed: null, installable: true, note: '' };
  }
}
