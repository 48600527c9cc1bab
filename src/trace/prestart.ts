/**
 * A text trace's parse thread started ahead of the stream that will use it
 * (stream.ts takes it): its start-up, a V8 engine and its modules, then
 * overlaps what comes first in the main thread (loading the command's
 * modules, detecting the trace's format, loading the Mmu). Apart from
 * stream.ts so that the command line can start it before it loads
 * anything else of the trace code.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { MAGIC_HEADER } from './format.js';
import { workerScript } from './threads.js';

/** A parse thread started before its trace was known, not yet taken by a stream. */
let spare: { worker: Worker; exited: boolean } | null = null;

/** Starts a parse thread for the next stream made. Until taken it does not keep the process alive. */
export function prestartParser(): void {
  if (spare !== null) return;
  const s = { worker: new Worker(workerScript(import.meta.url, 'parse-worker.js')), exited: false };
  s.worker.on('error', () => {}); // a stream that takes it sees the exit; one never taken is of no concern
  s.worker.on('exit', () => { s.exited = true; });
  s.worker.unref();
  spare = s;
}

/**
 * prestartParser, when `path` names a readable regular file that is not a
 * binary trace (which needs no parse thread). Anything else (no such file,
 * a directory, a pipe, whose opening could block and whose bytes a peek
 * would take from the command) starts nothing: the command reports it in
 * its own words.
 */
export function prestartParserFor(path: string | undefined): void {
  if (path === undefined || path.startsWith('-')) return;
  let fd: number;
  try {
    if (!statSync(path).isFile()) return;
    fd = openSync(path, 'r');
  } catch {
    return;
  }
  try {
    const b = Buffer.alloc(4);
    if (readSync(fd, b, 0, 4, 0) === 4 && b.readUInt32LE(0) === MAGIC_HEADER) return;
  } catch {
    return;
  } finally {
    closeSync(fd);
  }
  prestartParser();
}

/** The parse thread started ahead, if it is still there (and now keeps the process alive), or null. */
export function takePrestarted(): Worker | null {
  const s = spare;
  spare = null;
  if (s === null || s.exited) return null;
  s.worker.removeAllListeners();
  s.worker.ref();
  return s.worker;
}
