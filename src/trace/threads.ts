/**
 * Where the worker scripts are: next to the calling module in dist/, or in
 * dist/ when the caller runs as TypeScript source (the tests): worker
 * threads load the built JavaScript either way.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The path of worker script `name` (e.g. 'worker.js') for the module at `moduleUrl` in src/trace. */
export function workerScript(moduleUrl: string, name: string): string {
  const here = fileURLToPath(moduleUrl);
  if (here.endsWith('.ts')) return resolve(dirname(here), '../../dist/src/trace', name);
  return join(dirname(here), name);
}
