/**
 * Real Linux: a Debian bookworm kernel (from `npm run guests`) booted to the
 * batch initramfs's final marker under naive, shadow and slat translation.
 * Each boot must print every expected line and end with the kernel's
 * "System halted"; the three modes must print exactly the same console
 * output (the virtual clock is deterministic, so even the kernel's
 * timestamps agree), execute the same number of instructions and leave
 * the same guest RAM (a SHA-256 of all of it) and registers. The 686 kernel
 * boots with `--cpu +apic` (the local APIC and IOAPIC, found through the MP
 * table: docs/cpu.md, "Interrupts"), the 686-pae kernel on the default CPU
 * (interrupts through the 8259s). Naive
 * boots with the interpreter, shadow with the wasm engine (src/cpu/wasm/,
 * the default) and slat with the jit (src/cpu/jit.ts), so the same
 * comparison checks the engines against each other too.
 *
 * Each boot runs in a child process on the compiled code (see
 * linux-boot-runner.mjs); one test file per kernel lets the two kernels boot
 * in parallel.
 */
import { describe, expect, it } from 'vitest';
import { MODE_NAMES } from '../../src/mmu/modes/mode.js';
import { missingBatchLines } from '../../src/guests/init-scripts.js';
import { bootLinux, type LinuxBoot } from './linux-boot-child.js';

/** The CPU each kernel boots with (`--cpu`). */
export const CPU_OF_FLAVOUR: Record<string, string> = {
  '686': '+apic', '686-pae': '', 'cloud-amd64': '+lm,+sse,+sse2',
  // the same 64-bit kernel on a CPU with 5-level paging, PCIDs, INVPCID, 1 GiB pages, SMEP, SMAP, XSAVE and protection
  // keys: it turns on CR4.LA57, PCIDE, SMEP, SMAP, OSXSAVE and PKE
  'cloud-amd64-la57': '+lm,+sse,+sse2,+la57,+pcid,+invpcid,+pdpe1gb,+smep,+smap,+xsave,+pku',
};

/**
 * The CPU engine each kernel boots with in each mode: the interpreter (the
 * reference) under naive, the wasm engine (the default) under shadow, the
 * jit under slat. The block engine alone (blocks never compiled) is
 * not among them: it took longer than the interpreter's boot, the
 * suite's longest part, while its block loop (Cpu.runBlock) runs every
 * block the jit and wasm engines have not compiled yet, over a hundred
 * million instructions of each of their boots. It boots both kernels in
 * every mode in `npm run soak -- --only boot-matrix`, and runs every test
 * guest in every mode in engine-diff.
 */
export const ENGINE_OF: Record<string, Record<string, 'interp' | 'block' | 'jit' | 'wasm'>> = {
  '686': { naive: 'interp', shadow: 'wasm', slat: 'jit' },
  '686-pae': { naive: 'interp', shadow: 'wasm', slat: 'jit' },
  // 64-bit code runs in the interpreter's 64-bit loop under every engine (Cpu.runLong); the engines differ in the boot stub's 32-bit code
  'cloud-amd64': { naive: 'interp', shadow: 'wasm', slat: 'jit' },
  'cloud-amd64-la57': { naive: 'interp', shadow: 'wasm', slat: 'jit' },
};

const boot = (flavour: string, mode: string): Promise<LinuxBoot> => bootLinux(flavour, mode, ENGINE_OF[flavour]![mode]!, CPU_OF_FLAVOUR[flavour]!);

/** The MMU's counters worth reading after a boot, non-zero ones only. */
function countersLine(c: Record<string, number>): string {
  const names = Object.keys(c).filter((k) => /^(exit|shadow|ept)\./.test(k) && c[k]! > 0);
  return names.map((k) => `${k}=${c[k]}`).join(' ');
}

export function linuxBootSuite(flavour: '686' | '686-pae' | 'cloud-amd64' | 'cloud-amd64-la57'): void {
  const cpu = CPU_OF_FLAVOUR[flavour]!;
  const arch = flavour.startsWith('cloud-amd64') ? 'x86_64' : 'i386';
  describe(`Debian ${flavour} kernel${cpu ? ` (--cpu ${cpu})` : ''}`, () => {
    const runs = new Map<string, LinuxBoot>();

    it.each(MODE_NAMES)('does it boot to the final marker and halt under %s translation?', async (mode) => {
      const b = await boot(flavour, mode);
      runs.set(mode, b);
      expect(missingBatchLines(b.output, arch), b.output.slice(-2000)).toEqual([]);
      expect(b.output).toContain(`Linux (none) ${b.release}`);
      expect(b.output).toMatch(/reboot: System halted/);
      expect(b.reason).toMatch(/^halted/);
      // Each mode does its own kind of work.
      if (mode === 'shadow') {
        expect(b.counters['exit.cr3']).toBeGreaterThan(1000);
        expect(b.counters['exit.hidden_pf']).toBeGreaterThan(1000);
        // Switching between address spaces must not rebuild shadow tables:
        // most CR3 loads find their root in the root cache. The PAE kernel
        // isolates its page tables from user space (PTI), so it loads CR3 on
        // every kernel entry and exit: many more loads, nearly all hits.
        const loads = b.counters['exit.cr3']!;
        const pti = flavour !== '686'; // the 686-pae and 64-bit kernels isolate their page tables from user space
        if (pti) expect(loads).toBeGreaterThan(50_000);
        expect(b.counters['shadow.root.hit']!).toBeGreaterThanOrEqual(loads * (pti ? 0.9 : 0.8));
      } else {
        expect(b.counters['exit.cr3']).toBe(0);
      }
      if (mode === 'slat') expect(b.counters['exit.ept_violation']).toBeGreaterThan(1000);
      if (flavour === 'cloud-amd64-la57') {
        // the kernel ran on 5-level tables with PCIDs, SMEP, SMAP and protection keys (CR4.LA57, PCIDE, OSXSAVE, SMEP,
        // SMAP and PKE at the end), and shadow saw its INVPCIDs
        for (const bit of [12, 17, 18, 20, 21, 22]) expect(b.cr4! & (1 << bit), `CR4 ${b.cr4?.toString(16)}, bit ${bit}`).not.toBe(0);
        if (mode === 'shadow') expect(b.counters['exit.invpcid']).toBeGreaterThan(1000);
      }
      if (mode === 'naive') expect(b.counters['exit.total']).toBe(0);
      if (cpu.includes('+apic')) {
        // The kernel ran on the APIC: its timer ticks and the IOAPIC's messages (the PIT through pin 2, the UART).
        expect(b.apic!.timer).toBeGreaterThan(100);
        expect(b.apic!.ioapicMessages).toBeGreaterThan(50);
        expect(b.apic!.eoi).toBeGreaterThan(200);
      } else {
        expect(b.apic).toBeNull();
      }
      console.log(`${flavour} ${mode} (${ENGINE_OF[flavour]![mode]}): ${b.instructions} instructions, ${b.seconds.toFixed(1)} s, ${(b.instructions / b.seconds / 1e6).toFixed(1)} MIPS\n${countersLine(b.counters)}`);
    }, 1_900_000);

    it('did all three modes (and all three engines) print the same console output, run the same instructions and leave the same memory and registers?', () => {
      const [naive, shadow, slat] = MODE_NAMES.map((m) => runs.get(m)!);
      expect(shadow.output).toBe(naive.output);
      expect(slat.output).toBe(naive.output);
      expect(shadow.instructions).toBe(naive.instructions);
      expect(slat.instructions).toBe(naive.instructions);
      expect(shadow.cpuState).toBe(naive.cpuState);
      expect(slat.cpuState).toBe(naive.cpuState);
      expect(shadow.memoryHash).toBe(naive.memoryHash);
      expect(slat.memoryHash).toBe(naive.memoryHash);
      // the same interrupts through the APIC (null without it)
      expect(shadow.apic).toEqual(naive.apic);
      expect(slat.apic).toEqual(naive.apic);
    });
  });
}
