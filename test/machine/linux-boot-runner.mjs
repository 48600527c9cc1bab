// Boots one Debian kernel with the batch initramfs in one translation mode,
// with one CPU engine (interp, block or jit) and optionally a CPU feature
// specification (as `vmmu boot --cpu`), and prints the result as one JSON
// line. Run by linux-boot-*.test.ts in a
// child process on the compiled code (dist/), so the boot runs at full
// speed instead of through the test runner's module transform.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

const dist = new URL('../../dist/src/', import.meta.url);
const { Machine } = await import(new URL('machine/machine.js', dist));
const { guestFiles } = await import(new URL('guests/paths.js', dist));

const [flavour, mode, engine, cpu] = process.argv.slice(2);
const files = guestFiles();
let output = '';
const m = new Machine({ mode, engine, ...(cpu ? { cpu } : {}), memory: 256 << 20, startDate: new Date('2026-01-01T00:00:00Z'), serialOut: (b) => { output += String.fromCharCode(b); } });
m.loadLinux(readFileSync(files.kernels[flavour]), files.kernels[flavour], readFileSync(files.initramfs.batch), files.initramfs.batch, files.cmdline);
const r = m.run({ maxInstructions: 12e9 });
// What the guest is left with: all of its RAM, and the CPU's registers, EFLAGS and EIP.
const memoryHash = createHash('sha256').update(m.mmu.readPhysBytes(0, m.ramTop)).digest('hex');
const c = m.cpu;
const cpuState = [...c.reg32].map((v) => (v >>> 0).toString(16)).concat([(c.getFlags() >>> 0).toString(16), (c.eip >>> 0).toString(16)]).join(' ');
process.stdout.write(JSON.stringify({
  output,
  reason: r.reason + (r.detail ? `: ${r.detail}` : ''),
  instructions: r.instructions,
  seconds: r.seconds,
  release: files.kernelReleases[flavour],
  counters: m.mmu.countersByName(),
  memoryHash,
  cpuState,
  apic: m.lapic ? { ...m.lapic.counts, ioapicMessages: m.ioapic.messages } : null,
}) + '\n');
