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
// the 64-bit kernel (cloud-amd64, and cloud-amd64-la57: the same kernel on another CPU) and its batch image are in the cache's x86_64/ (src/guests/x86_64.ts)
const x64 = flavour.startsWith('cloud-amd64');
let kernel, batch, cmdline, release;
if (x64) {
  const { findGuestFiles64 } = await import(new URL('guests/x86_64.js', dist));
  const { guestCacheDir } = await import(new URL('guests/paths.js', dist));
  const f = findGuestFiles64(guestCacheDir());
  if (!f.ok) throw new Error(f.reason);
  ({ kernel, batch, cmdline, release } = f);
} else {
  const files = guestFiles();
  ({ cmdline } = files);
  kernel = files.kernels[flavour];
  batch = files.initramfs.batch;
  release = files.kernelReleases[flavour];
}
let output = '';
const m = new Machine({ mode, engine, ...(cpu ? { cpu } : {}), memory: 256 << 20, startDate: new Date('2026-01-01T00:00:00Z'), serialOut: (b) => { output += String.fromCharCode(b); } });
m.loadLinux(readFileSync(kernel), kernel, readFileSync(batch), batch, cmdline);
const r = m.run({ maxInstructions: 12e9 });
// What the guest is left with: all of its RAM, and the CPU's registers, EFLAGS and EIP.
const memoryHash = createHash('sha256').update(m.mmu.readPhysBytes(0, m.ramTop)).digest('hex');
const c = m.cpu;
// (with the 64-bit kernel also R8-R15, the sixteen high halves and RIP's)
const regs = x64 ? [...c.reg32, ...c.regX, ...c.regHi] : [...c.reg32];
const cpuState = regs.map((v) => (v >>> 0).toString(16)).concat([(c.getFlags() >>> 0).toString(16), (c.eip >>> 0).toString(16)], x64 ? [(c.ripHi >>> 0).toString(16)] : []).join(' ');
process.stdout.write(JSON.stringify({
  output,
  reason: r.reason + (r.detail ? `: ${r.detail}` : ''),
  instructions: r.instructions,
  seconds: r.seconds,
  release,
  counters: m.mmu.countersByName(),
  memoryHash,
  cpuState,
  cr4: c.cr4 >>> 0,
  apic: m.lapic ? { ...m.lapic.counts, ioapicMessages: m.ioapic.messages } : null,
}) + '\n');
