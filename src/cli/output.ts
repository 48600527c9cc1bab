/**
 * Output files (record -o, compare -o, boot --record), written so that
 * nothing the user has is lost and nothing half-written is left behind:
 *
 * - checked before any work: the directory exists and takes new files, the
 *   name is not a directory, and it is not one of the command's inputs (the
 *   same file by device and inode, whatever the name); an existing file is
 *   only replaced with --force;
 * - written to a temporary file in the same directory (".NAME.PID.XXXX.tmp"),
 *   renamed over the final name only when complete, so a failure, a full
 *   disk, SIGINT or SIGTERM leaves the previous file (or none) and no
 *   temporary file;
 * - every failure is an OutputError naming the option, the file and the
 *   reason (no space left on device, read-only file system, ...).
 *
 * A device or a pipe given as the output (/dev/null, /dev/stdout) is
 * written directly: there is nothing to replace.
 */
import { accessSync, closeSync, constants, fchmodSync, fsyncSync, openSync, realpathSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { TraceSink } from '../trace/writer.js';
import { errnoText, InputError } from './config.js';

/** An output that cannot be written: the option, the file and why. Exit status 1, no stack trace. */
export class OutputError extends InputError {}

/** An input file of the command, by the option that named it (for "is the same file as" messages). */
export interface NamedInput {
  option: string;
  path: string;
}

/** A checked output: where it goes and how. */
export interface OutputTarget {
  /** the name as the user gave it */
  path: string;
  /** the option that named it, e.g. "record -o" */
  option: string;
  /** the file to replace: the path, or the file a symbolic link points to */
  target: string;
  /** a device or pipe: written in place, never renamed over */
  direct: boolean;
  /** the mode of the file being replaced, kept on the new one */
  mode?: number;
}

function fail(option: string, path: string, why: string): never {
  throw new OutputError(`${option} ${path}: ${why}`);
}

function statOrNull(path: string): Stats | null {
  return statSync(path, { throwIfNoEntry: false }) ?? null;
}

/**
 * Checks an output before the command does any work. Throws OutputError:
 * the directory is missing or does not take new files, the name is a
 * directory, the file is one of `inputs`, or it exists and `force` is off.
 */
export function checkOutput(path: string, option: string, force: boolean, inputs: readonly NamedInput[] = []): OutputTarget {
  if (path === '') fail(option, "''", 'an empty file name');
  let st: Stats | null;
  try {
    st = statOrNull(path);
  } catch (e) {
    fail(option, path, `cannot use this name: ${errnoText(e)}`);
  }
  if (st !== null) {
    if (st.isDirectory()) fail(option, path, 'is a directory; give a file name');
    for (const input of inputs) {
      let ist: Stats | null = null;
      try {
        ist = statOrNull(input.path);
      } catch {
        ist = null;
      }
      if (ist !== null && ist.dev === st.dev && ist.ino === st.ino) {
        const same = input.path === path ? 'is also the input' : `is the same file as ${input.path}, the input`;
        fail(option, path, `${same} of ${input.option}; writing it would destroy the input: choose another name`);
      }
    }
    if (!st.isFile()) return { path, option, target: path, direct: true };
    if (!force) throw new OutputError(`${path} exists, and ${option} does not replace files: remove it, choose another name, or add --force`);
  }
  // A symbolic link stays a link: the file it points to is replaced.
  const target = st !== null ? realpathSync(path) : path;
  const dir = dirname(target);
  let dst: Stats | null;
  try {
    dst = statOrNull(dir);
  } catch (e) {
    fail(option, path, `cannot use the directory ${dir}: ${errnoText(e)}`);
  }
  if (dst === null) fail(option, path, `the directory ${dir} does not exist`);
  if (!dst.isDirectory()) fail(option, path, `${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    fail(option, path, `cannot create files in ${dir}: ${errnoText(e)}`);
  }
  return { path, option, target, direct: false, ...(st !== null ? { mode: st.mode & 0o7777 } : {}) };
}

/**
 * 8 random hex digits. Web Crypto's, which Node loads when first used,
 * not node:crypto, whose 20-odd modules every command importing this one
 * would compile at start-up (about 6 ms).
 */
function randomHex(): string {
  const b = globalThis.crypto.getRandomValues(new Uint8Array(4));
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

/** An output being written: to its temporary file until commit() renames it into place. */
export class PendingOutput {
  /** the file being written: the temporary file, or the device itself */
  readonly tempPath: string;
  private fd: number | null;
  private error: OutputError | null = null;
  private finished = false;

  constructor(readonly t: OutputTarget) {
    this.tempPath = t.direct ? t.target : join(dirname(t.target), `.${basename(t.target)}.${process.pid}.${randomHex()}.tmp`);
    // The handlers first: a signal that comes the moment the file exists
    // must find them there (the default action would leave the file).
    watchSignals();
    try {
      this.fd = openSync(this.tempPath, t.direct ? 'w' : 'wx', 0o666);
    } catch (e) {
      if (pending.size === 0) unwatchSignals();
      throw new OutputError(`${t.option} ${t.path}: cannot create ${t.direct ? 'it' : `the temporary file ${this.tempPath}`}: ${errnoText(e)}`);
    }
    if (!t.direct) pending.add(this);
  }

  /** The message for a failure of the output, naming the option and the file. */
  failure(e: unknown, doing = 'cannot write'): OutputError {
    if (e instanceof OutputError) return e;
    return new OutputError(`${this.t.option} ${this.t.path}: ${doing}: ${errnoText(e)}${this.t.direct ? '' : '; nothing was written under that name'}`);
  }

  /** Writes bytes at the end. Throws OutputError (and every later write is dropped: the run is ending). */
  write(data: Uint8Array | string): void {
    if (this.error !== null || this.fd === null) return;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
    } catch (e) {
      this.error = this.failure(e);
      throw this.error;
    }
  }

  /** A sink for a TraceWriter: closing it leaves the file for commit() or abort(). */
  sink(): TraceSink {
    return { write: (b) => this.write(b), close: () => {} };
  }

  /**
   * Whether `e` is a failure of this output (a write to its file, or an
   * error naming its temporary file), translated; otherwise `e` itself.
   */
  translate(e: unknown): unknown {
    if (e instanceof OutputError) return e;
    const err = e as NodeJS.ErrnoException;
    if (err !== null && typeof err === 'object' && typeof err.code === 'string' && (err.path === this.tempPath || err.syscall === 'write' || err.syscall === 'fsync')) return this.failure(e);
    return e;
  }

  /**
   * Makes the output whole: flushes it to the disk and renames it over the
   * final name. Throws OutputError (the temporary file removed) when any
   * write failed or the rename does.
   */
  commit(): void {
    if (this.finished) return;
    if (this.error !== null) {
      this.abort();
      throw this.error;
    }
    try {
      if (this.t.mode !== undefined) fchmodSync(this.fd!, this.t.mode);
      if (!this.t.direct) fsyncSync(this.fd!);
      closeSync(this.fd!);
      this.fd = null;
    } catch (e) {
      this.abort();
      throw this.failure(e);
    }
    if (!this.t.direct) {
      try {
        renameSync(this.tempPath, this.t.target);
      } catch (e) {
        this.abort();
        throw this.failure(e, 'cannot move the finished file into place');
      }
    }
    this.finish();
  }

  /** Drops the output: closes and removes the temporary file. The previous file, if any, is untouched. Idempotent. */
  abort(): void {
    if (this.finished) return;
    if (this.fd !== null) {
      try { closeSync(this.fd); } catch { /* closing is all that is left to do */ }
      this.fd = null;
    }
    if (!this.t.direct) rmSync(this.tempPath, { force: true });
    this.finish();
  }

  private finish(): void {
    this.finished = true;
    pending.delete(this);
    if (pending.size === 0) unwatchSignals();
  }
}

/**
 * Runs `body` with a fresh output for `t`, commits it when `body` returns
 * (unless `body` aborted it) and aborts it when `body` throws; a failure
 * of the output itself comes out as an OutputError.
 */
export async function withOutput<T>(t: OutputTarget, body: (out: PendingOutput) => Promise<T> | T): Promise<T> {
  const out = new PendingOutput(t);
  let r: T;
  try {
    r = await body(out);
  } catch (e) {
    out.abort();
    throw out.translate(e);
  }
  out.commit();
  return r;
}

// ---------------------------------------------------------------------
// Temporary files and signals
// ---------------------------------------------------------------------

const pending = new Set<PendingOutput>();
let watching = false;

/** Removes every temporary file still open (at exit, and on a fatal signal). */
function removeTemporaries(): void {
  for (const p of [...pending]) p.abort();
}

/**
 * SIGTERM, and SIGINT when nothing else handles it (`vmmu boot` ends its
 * run in order on Ctrl-C, and aborts its output itself), remove the
 * temporary files, then end the process by the same signal.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (signal === 'SIGINT' && process.listenerCount('SIGINT') > 1) return;
  removeTemporaries();
  unwatchSignals();
  process.kill(process.pid, signal);
}

function watchSignals(): void {
  if (watching) return;
  watching = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function unwatchSignals(): void {
  if (!watching) return;
  watching = false;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}

process.on('exit', removeTemporaries);
