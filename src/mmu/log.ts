/**
 * Debug logging (the `debug` package, DEBUG=vmmu:...) that loads the
 * package only when DEBUG is set: every replay thread (the main thread,
 * the parse thread, each worker) would otherwise spend about 20 ms of CPU
 * loading it, to log nothing.
 */
import { createRequire } from 'node:module';

export type Log = (formatter: unknown, ...args: unknown[]) => void;

const off: Log = () => {};

/** A logger for namespace `ns` (as `debug(ns)`), or a no-op when DEBUG is unset. */
export function createLog(ns: string): Log {
  if (!process.env.DEBUG) return off;
  const createDebug = createRequire(import.meta.url)('debug') as (ns: string) => Log;
  return createDebug(ns);
}
