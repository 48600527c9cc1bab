/**
 * Runs one engine of `npm run bench:boot` in a process of its own and sends
 * its EngineResult to the parent over the IPC channel, then exits. Started
 * by bench/boot.ts as `node dist/bench/boot/child.js NAME ARCH TIMEOUT_MS`; not
 * meant to be run by hand.
 *
 * A fresh process per engine: no engine inherits another's optimized code,
 * heap or wasm memory, and a vmmu run (synchronous) can be killed from
 * outside if its own time limit fails.
 */
import type { BootArch } from '../../src/cli/arch.js';
import { bootGuest } from './guest.js';
import { bootVmmu } from './vmmu.js';
import { bootV86 } from './v86.js';
import type { EngineName, EngineResult } from './engines.js';

async function runOne(name: EngineName, arch: BootArch, timeoutMs: number): Promise<EngineResult> {
  const guest = bootGuest(arch);
  const i686 = (): NonNullable<typeof guest.files> => {
    if (guest.files === null) throw new Error(`${name} boots the i686 guest only`);
    return guest.files;
  };
  switch (name) {
    case 'naive':
    case 'shadow':
    case 'slat':
      // vmmu boot's default: the Machine picks wasm for the benchmark's 256 MiB
      return bootVmmu(name, guest, timeoutMs, 'wasm');
    case 'shadow-jit':
      return bootVmmu('shadow', guest, timeoutMs, 'jit', name);
    case 'shadow-block':
      return bootVmmu('shadow', guest, timeoutMs, 'block', name);
    case 'shadow-interp':
      return bootVmmu('shadow', guest, timeoutMs, 'interp', name);
    case 'v86-jit':
      return bootV86(true, i686(), timeoutMs);
    case 'v86-nojit':
      return bootV86(false, i686(), timeoutMs);
    case 'qemu':
      throw new Error('QEMU runs from the parent process (it is a process of its own)');
  }
}

async function main(): Promise<void> {
  const [name, arch, timeout] = process.argv.slice(2);
  if (!process.send || !name || (arch !== 'i686' && arch !== 'x86_64') || !timeout) {
    console.error('bench/boot/child.js is started by `npm run bench:boot`, not by hand');
    process.exit(2);
  }
  let result: EngineResult;
  try {
    result = await runOne(name as EngineName, arch, Number(timeout));
  } catch (e) {
    result = { name: name as EngineName, arch, status: 'failed', reason: (e as Error).message.split('\n')[0] ?? String(e) };
  }
  process.send(result, () => process.exit(0));
}

void main();
