/**
 * Runs the host's tools (apt-get, apt-cache, dpkg, dpkg-deb) and turns every
 * way they can fail into a GuestsError that names the command, its exit
 * status, the end of what it printed on stderr, and a hint.
 */
import { spawnSync } from 'node:child_process';
import createDebug from 'debug';
import { GuestsError } from './errors.js';

const log = createDebug('vmmu:guests');

export interface RunOptions {
  /** working directory (apt-get download writes there) */
  cwd?: string;
  /** appended to the failure message: what the user should check */
  hint?: string;
  /** exit statuses that are not failures (apt-get update returns 100 when only some lists failed) */
  okStatus?: readonly number[];
  /** give up after this many ms (default 15 minutes) */
  timeoutMs?: number;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** How much of stderr a failure message quotes. */
const STDERR_LINES = 12;

/** `cmd args...` as a user would type it (for messages). */
export function commandLine(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * Runs `cmd` with `args` (no shell) and returns its exit status and output.
 * Throws GuestsError when the program is not found, is killed, times out,
 * or exits with a status other than 0 and those in `okStatus`.
 */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): RunResult {
  const line = commandLine(cmd, args);
  log('run %s%s', line, options.cwd ? ` (in ${options.cwd})` : '');
  const result = spawnSync(cmd, args, {
    cwd: options.cwd,
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    timeout: options.timeoutMs ?? 15 * 60_000,
    env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' },
  });
  const hint = options.hint ? `; ${options.hint}` : '';
  if (result.error) {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new GuestsError(`${line} failed: ${cmd} is not installed on this host${hint}`);
    throw new GuestsError(`${line} failed: ${result.error.message}${hint}`);
  }
  if (result.signal) throw new GuestsError(`${line} was killed by ${result.signal}${hint}`);
  const status = result.status ?? -1;
  if (status !== 0 && !(options.okStatus ?? []).includes(status)) {
    const said = tail(result.stderr) || tail(result.stdout) || '(it printed nothing)';
    throw new GuestsError(`${line} failed (exit ${status}): ${said}${hint}`);
  }
  return { status, stdout: result.stdout, stderr: result.stderr };
}

/** The last lines of `text` that say something, joined with " | ", without apt's root-sandbox notice. */
export function tail(text: string): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.includes('unsandboxed as root'))
    .slice(-STDERR_LINES)
    .join(' | ');
}
