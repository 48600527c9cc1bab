/**
 * The host's cpio (GNU cpio, Debian's `cpio` package), the tests' independent
 * reader of the archives src/guests/cpio.ts writes. It is a native program,
 * so it runs on every host, unlike the guests' i386 busybox. When it is
 * missing and the tests run as root (as `npm test` does on a fresh machine,
 * whose pretest already needs root for `npm run guests`), it is installed
 * with apt-get; otherwise the error says what to install.
 */
import { spawnSync } from 'node:child_process';

const APT_ENV = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };

function which(program: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${program}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

function apt(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=120', ...args], { encoding: 'utf8', env: APT_ENV, timeout: 300_000 });
  return { ok: r.status === 0, out: `${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim().split('\n').slice(-3).join(' / ') };
}

/** The path of the host's cpio, installing Debian's package first when it is missing and we are root. */
export function hostCpio(): string {
  const found = which('cpio');
  if (found) return found;
  const hint = 'the cpio tests need the host\'s cpio: install it with `apt-get install cpio` (as root)';
  if (process.getuid?.() !== 0 || !which('apt-get')) throw new Error(`${hint}; cpio is not on PATH`);
  let r = apt(['install', '-y', '--no-install-recommends', 'cpio']);
  if (!r.ok) {
    apt(['update']); // a fresh machine may have no package lists yet
    r = apt(['install', '-y', '--no-install-recommends', 'cpio']);
  }
  const installed = which('cpio');
  if (!installed) throw new Error(`${hint}; apt-get install cpio failed: ${r.out || '(it printed nothing)'}`);
  return installed;
}
