/**
 * Debian packages through the host's apt, downloaded and unpacked only:
 * nothing is ever installed into the host system. The pipeline sees this
 * through PackageSource, so its tests run on a fake one without apt.
 *
 * What touches the host: `dpkg --add-architecture i386` (only when i386 is
 * not already a foreign architecture) and `apt-get update`, both as root.
 * Run as another user, the pipeline uses apt's current lists and says what
 * to run as root when they lack i386.
 *
 * Each apt invocation re-reads every package list (seconds on a loaded
 * machine when apt keeps no binary cache), so look-ups and downloads are
 * made for all packages at once.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GuestsError } from './errors.js';
import { run, tail } from './run.js';

/** A package as apt's lists describe its candidate version. */
export interface PackageInfo {
  name: string;
  /** "i386" or "all" */
  arch: string;
  version: string;
  /** the Depends field, as written ("" when none or unknown) */
  depends: string;
}

export interface InstallProbe {
  candidate: string | null;
  installed: string | null;
  installable: boolean;
  note: string;
}

/** Where Debian packages come from. Each method throws GuestsError with the failed command and a hint. */
export interface PackageSource {
  /** Makes apt's lists cover i386. Called at most once per run, before the first look-up. */
  prepare(say: (line: string) => void): void;
  /**
   * The candidate version of each wanted package, in the same order ("all"
   * as arch for architecture-independent packages), in one look-up.
   */
  candidates(wanted: readonly { name: string; arch: string }[]): PackageInfo[];
  /** Downloads exactly these packages (name, arch, version) into `dir`, in one go. */
  download(pkgs: readonly PackageInfo[], dir: string): void;
  /** Package, Version and Architecture of a .deb. */
  debFields(debPath: string): { name: string; version: string; arch: string };
  /** Unpacks the .deb's data into `dir` (`dpkg-deb -x`), without installing it. */
  extract(debPath: string, dir: string): void;
  /** Whether `name` could be installed with apt here; installs nothing. */
  probeInstall(name: string): InstallProbe;
}

const ARCHIVE_HINT = 'is Debian\'s archive reachable, and did `apt-get update` succeed?';

/** apt's spelling of `name` for `arch` on the command line. */
export const aptSpec = (name: string, arch: string): string => (arch === 'all' ? name : `${name}:${arch}`);

/** The file name `apt-get download` gives a package: the version's ":" becomes "%3a". */
export const debFileName = (pkg: { name: string; version: string; arch: string }): string =>
  `${pkg.name}_${pkg.version.replace(/:/g, '%3a')}_${pkg.arch}.deb`;

/**
 * The real kernel package a Debian kernel metapackage depends on:
 * "linux-image-6.1.0-50-686 (= 6.1.176-1)" for flavour "686" gives
 * { name: "linux-image-6.1.0-50-686", version: "6.1.176-1" }. Returns null
 * when no dependency is a linux-image-<abi>-<flavour> package.
 */
export function kernelDependency(depends: string, flavour: string): { name: string; version: string | null } | null {
  const escaped = flavour.replace(/[-.]/g, '\\$&');
  const pattern = new RegExp(`^(linux-image-\\d[\\w.+]*-\\d+-${escaped})(?::\\w+)?\\s*(?:\\(\\s*=\\s*([^)\\s]+)\\s*\\))?$`);
  for (const alternative of depends.split(/[,|]/)) {
    const m = pattern.exec(alternative.trim());
    if (m) return { name: m[1]!, version: m[2] ?? null };
  }
  return null;
}

/** The stanzas of `apt-cache show` / `dpkg-deb -f` output, each as a field map (continuation lines joined). */
export function parseStanzas(text: string): Map<string, string>[] {
  const stanzas: Map<string, string>[] = [];
  let fields = new Map<string, string>();
  let last = '';
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (fields.size > 0) stanzas.push(fields);
      fields = new Map();
      last = '';
      continue;
    }
    if (/^\s/.test(line) && last) {
      fields.set(last, `${fields.get(last)}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon);
    fields.set(last, line.slice(colon + 1).trim());
  }
  if (fields.size > 0) stanzas.push(fields);
  return stanzas;
}

/** The first stanza (empty when there is none). */
export const parseStanza = (text: string): Map<string, string> => parseStanzas(text)[0] ?? new Map<string, string>();

/** PackageSource over the host's apt-get, apt-cache, dpkg and dpkg-deb. */
export class AptSource implements PackageSource {
  /** the user is root: may add the architecture and update the lists */
  private readonly root = typeof process.getuid === 'function' && process.getuid() === 0;

  prepare(say: (line: string) => void): void {
    const foreign = run('dpkg', ['--print-foreign-architectures'], { hint: 'this needs a Debian host with dpkg' }).stdout;
    if (!foreign.split(/\s+/).includes('i386')) {
      if (!this.root) {
        throw new GuestsError('i386 is not a dpkg architecture on this host and this is not root: run '
          + '`sudo dpkg --add-architecture i386 && sudo apt-get update` once, then `npm run guests` again');
      }
      say('dpkg --add-architecture i386');
      run('dpkg', ['--add-architecture', 'i386']);
    }
    if (!this.root) {
      say('not root: using apt\'s current package lists (run `sudo apt-get update` if a download fails)');
      return;
    }
    say('apt-get update');
    // 100: some lists failed (a mirror mid-sync, an unreachable suite); the others are usable.
    const update = run('apt-get', ['update'], { okStatus: [100], hint: ARCHIVE_HINT });
    if (update.status !== 0) {
      const errors = update.stderr.split('\n').filter((l) => /^(E|W):/.test(l)).map((l) => l.trim());
      say(`apt-get update reported errors, going on with the lists it has: ${errors.join(' | ') || tail(update.stderr)}`);
    }
  }

  candidates(wanted: readonly { name: string; arch: string }[]): PackageInfo[] {
    if (wanted.length === 0) return [];
    const specs = wanted.map((w) => aptSpec(w.name, w.arch));
    // Unknown packages are left out of the output (exit 100 when none is known).
    const show = run('apt-cache', ['show', '--no-all-versions', ...specs], { okStatus: [100], hint: ARCHIVE_HINT });
    const stanzas = parseStanzas(show.stdout);
    const missing: string[] = [];
    const found: PackageInfo[] = [];
    wanted.forEach((w, i) => {
      const f = stanzas.find((st) => st.get('Package') === w.name && (w.arch === 'all' || st.get('Architecture') === w.arch));
      const version = f?.get('Version');
      if (!f || !version) missing.push(specs[i]!);
      else found.push({ name: w.name, arch: f.get('Architecture') ?? w.arch, version, depends: f.get('Depends') ?? '' });
    });
    if (missing.length > 0) {
      throw new GuestsError(`apt knows no package ${missing.join(', ')}${show.stderr.trim() ? ` (${tail(show.stderr)})` : ''}; `
        + `is i386 enabled (dpkg --print-foreign-architectures) and ${ARCHIVE_HINT}`);
    }
    return found;
  }

  download(pkgs: readonly PackageInfo[], dir: string): void {
    if (pkgs.length === 0) return;
    const specs = pkgs.map((p) => `${aptSpec(p.name, p.arch)}=${p.version}`);
    run('apt-get', ['-o', 'APT::Sandbox::User=root', 'download', ...specs], { cwd: dir, hint: ARCHIVE_HINT });
    for (const p of pkgs) {
      const path = join(dir, debFileName(p));
      if (existsSync(path)) continue;
      const found = readdirSync(dir).filter((f) => f.startsWith(`${p.name}_`) && f.endsWith('.deb'));
      throw new GuestsError(`apt-get download ${specs.join(' ')} succeeded but ${path} is not there (found: ${found.join(', ') || 'nothing'})`);
    }
  }

  debFields(debPath: string): { name: string; version: string; arch: string } {
    const f = parseStanza(run('dpkg-deb', ['-f', debPath, 'Package', 'Version', 'Architecture'], {
      hint: `${debPath} may be truncated; delete it and run again`,
    }).stdout);
    return { name: f.get('Package') ?? '', version: f.get('Version') ?? '', arch: f.get('Architecture') ?? '' };
  }

  extract(debPath: string, dir: string): void {
    run('dpkg-deb', ['-x', debPath, dir], { hint: `${debPath} may be truncated; delete it and run again` });
  }

  probeInstall(name: string): InstallProbe {
    const policy = run('apt-cache', ['policy', name], { hint: ARCHIVE_HINT }).stdout;
    const value = (key: string): string | null => {
      const v = new RegExp(`^\\s*${key}:\\s*(\\S+)`, 'm').exec(policy)?.[1];
      return v && v !== '(none)' ? v : null;
    };
    const simulate = run('apt-get', ['install', '-s', '-y', name], { okStatus: [100] });
    const installable = simulate.status === 0 && value('Candidate') !== null;
    return {
      candidate: value('Candidate'),
      installed: value('Installed'),
      installable,
      note: installable ? '' : tail(simulate.stderr) || 'no candidate version',
    };
  }
}
