/**
 * The PC: guest RAM behind the MMU, the CPU, the port bus and the devices,
 * and the run loop that advances the deterministic virtual clock.
 *
 * RAM starts at 0 with the usual hole at 640 KiB..1 MiB (VGA memory and
 * ROMs read as open bus). Devices: master/slave 8259 PIC, 8254 PIT, a
 * 16550A UART at 0x3f8 (IRQ 4), the 0xe9 debug console, isa-debug-exit at
 * 0xf4. With the `apic` CPU feature, also a local APIC at 0xFEE00000, an
 * IOAPIC at 0xFEC00000 that every ISA interrupt line reaches as well as the
 * 8259s (IRQ 0 at pin 2), and the MP table that describes them in the BIOS
 * ROM (mptable.ts).
 */
import createDebug from 'debug';
import { Mmu, type MmioHandler, type MmuOptions } from '../mmu/index.js';
import type { ModeName } from '../mmu/index.js';
import { IoBus } from '../io/bus.js';
import { VirtualClock } from '../io/clock.js';
import { Pic } from '../devices/pic.js';
import { Pit } from '../devices/pit.js';
import { Uart } from '../devices/uart.js';
import { DebugConsole } from '../devices/debug-console.js';
import { DebugExit } from '../devices/debug-exit.js';
import { Rtc } from '../devices/rtc.js';
import { I8042 } from '../devices/i8042.js';
import { PciBus } from '../devices/pci.js';
import { PostPort } from '../devices/post.js';
import { FwCfg } from '../devices/fw-cfg.js';
import { LocalApic, LAPIC_BYTES } from '../devices/lapic.js';
import { IoApic, IOAPIC_BYTES, IOAPIC_DEFAULT_BASE } from '../devices/ioapic.js';
import type { InterruptController, IrqSink } from '../io/irq.js';
import { Cpu, CpuStop, type Engine } from '../cpu/cpu.js';
import { CpuFeatures } from '../cpu/features.js';
import { AR_CODE, AR_DB, AR_G, AR_P, AR_RW, AR_S, AR_ACCESSED, CR0_ET, CR0_PE, CS, DS, ES, FS, GS, SS, F_1 } from '../cpu/constants.js';
import { loadMultiboot, type MultibootModule } from './multiboot.js';
import { loadLinux, LINUX_BOOT_CS, LINUX_BOOT_DS } from './linux.js';
import { loadSegment } from '../cpu/segments.js';
import { isaIrqPin, writeMpTable } from './mptable.js';
import { WasmState } from '../cpu/wasm/state.js';

const log = createDebug('vmmu:machine');

/** Guest-physical range between 640 KiB and 1 MiB that is not RAM: VGA memory, then option and system ROMs. */
export const PC_HOLE = { gpa: 0xa0000, bytes: 0x60000 };
/** The VGA window (0xA0000-0xBFFFF): no device behind it, device memory (open bus) for the MMU. */
export const VGA_HOLE = { gpa: 0xa0000, bytes: 0x20000 };
/**
 * The option-ROM and system-BIOS area (0xC0000-0xFFFFF): read-only memory
 * (MmuOptions.rom), all ones as an erased flash part reads, so that the
 * guest's scans of it (Linux looks for MP, SMBIOS and other tables there)
 * read memory instead of taking a device exit per access; writes are
 * dropped as before.
 */
export const BIOS_ROM = { gpa: 0xc0000, bytes: 0x40000 };
/** Where the MP floating pointer and configuration table lie in the BIOS ROM (the apic feature; mptable.ts). */
export const MP_FLOATING_POINTER = 0xf0000;
export const MP_CONFIG_TABLE = 0xf0010;

export interface MachineOptions {
  mode: ModeName;
  /** guest RAM in bytes, the hole not counted (default 64 MiB) */
  memory?: number;
  /** everything the guest writes to the first serial port */
  serialOut?: (byte: number) => void;
  /** everything the guest writes to the 0xe9 debug console */
  debugOut?: (byte: number) => void;
  /** further MMU options (cost model, TLB geometry, shadow and slat options); 1 GiB pages follow the CPU's pdpe1gb feature (`cpu`), not an option here */
  mmu?: Omit<MmuOptions, 'mode' | 'guestMemory' | 'holes' | 'rom' | 'mmio' | 'gbPages'>;
  /** virtual nanoseconds per instruction (default 1) */
  nsPerInstruction?: number;
  /** everything the guest writes to the second serial port (default: dropped) */
  serial2Out?: (byte: number) => void;
  /** the date the CMOS clock holds at power-on (default: RTC_DEFAULT_START, a fixed date, so runs are reproducible) */
  startDate?: Date;
  /**
   * how the CPU runs instructions: the interpreter, decoded blocks, or
   * decoded blocks with the hot ones compiled to JavaScript or WebAssembly
   * (docs/cpu.md); the same results every way. Default: 'wasm', the
   * fastest, when guest and host memory fit in a WebAssembly memory
   * (4 GiB), else 'jit' (cpu.engine says which runs)
   */
  engine?: Engine;
  /** the CPU features CPUID advertises and the CPU allows: a CpuFeatures, or its specification such as '+smep,-pge' (default: features.ts's defaults) */
  cpu?: CpuFeatures | string;
}

/** Why a run stopped. */
export type StopReason = 'exit' | 'halted' | 'reset' | 'triple-fault' | 'instruction-limit' | 'time-limit' | 'idle';

export interface RunResult {
  reason: StopReason;
  /** isa-debug-exit status ((value << 1) | 1) when reason is 'exit' */
  exitStatus: number | null;
  instructions: number;
  /** wall-clock seconds */
  seconds: number;
  /** human-readable detail (the triple-fault report, the halt state) */
  detail: string;
}

export interface RunLimits {
  maxInstructions?: number;
  /** wall-clock milliseconds */
  maxMillis?: number;
  /**
   * Interactive pacing: when the CPU halts waiting for an interrupt whose
   * event lies beyond this virtual time (ns), stop with 'idle' instead of
   * skipping ahead, so a console can wait for input in real time.
   */
  idleBefore?: number;
}

export class Machine {
  readonly clock: VirtualClock;
  readonly io: IoBus;
  readonly mmu: Mmu;
  readonly pic: Pic;
  readonly pit: Pit;
  readonly uart: Uart;
  readonly debugConsole: DebugConsole;
  readonly debugExit: DebugExit;
  readonly uart2: Uart;
  readonly rtc: Rtc;
  readonly i8042: I8042;
  readonly pci: PciBus;
  readonly post: PostPort;
  readonly fwCfg: FwCfg;
  readonly cpu: Cpu;
  /** the local APIC and the IOAPIC (the apic CPU feature), else null */
  readonly lapic: LocalApic | null;
  readonly ioapic: IoApic | null;
  /** what the CPU asks for interrupts: the local APIC when there is one, else the 8259s */
  private readonly intc: InterruptController;
  /** the guest asked for a reset (8042, port 0xCF9): the run stops */
  private resetRequested = false;
  readonly memoryBytes: number;
  private exitStatus: number | null = null;

  constructor(o: MachineOptions) {
    this.memoryBytes = o.memory ?? 64 << 20;
    if (this.memoryBytes < 2 << 20) throw new RangeError(`guest memory of ${this.memoryBytes} bytes is below the 2 MiB minimum`);
    this.clock = new VirtualClock(o.nsPerInstruction ?? 1);
    this.io = new IoBus();
    // The wasm engine keeps host memory and the software TLB in its WebAssembly memory (src/cpu/wasm/state.ts);
    // by default, where they do not fit there, the jit runs instead.
    let wasm = o.engine === 'wasm' || o.engine === undefined ? new WasmState(o.engine === undefined) : undefined;
    const features = o.cpu instanceof CpuFeatures ? o.cpu : new CpuFeatures(o.cpu ?? '');
    // 1 GiB pages exist for the guest exactly when CPUID says so (pdpe1gb): without it PS in a PDPTE is reserved.
    this.mmu = new Mmu({ ...o.mmu, mode: o.mode, guestMemory: this.memoryBytes, holes: [VGA_HOLE], rom: [BIOS_ROM], mmio: this.io.mmio, gbPages: features.pdpe1gb, ...(wasm !== undefined ? { arena: wasm.provide } : {}) });
    if (wasm !== undefined && wasm.memory === null) wasm = undefined;
    const engine: Engine = o.engine ?? (wasm !== undefined ? 'wasm' : 'jit');
    const rom = new Uint8Array(BIOS_ROM.bytes).fill(0xff);
    this.pic = new Pic(this.io);
    let irqs: IrqSink = this.pic;
    if (features.has('apic')) {
      const lapic = new LocalApic({ pic: this.pic, clock: this.clock, eoiBroadcast: (v) => ioapic.eoi(v) });
      const ioapic = new IoApic(lapic);
      this.lapic = lapic;
      this.ioapic = ioapic;
      this.io.registerMmio(lapic.base, LAPIC_BYTES, this.deviceRegisters(() => lapic.base, lapic), 'local APIC');
      this.io.registerMmio(IOAPIC_DEFAULT_BASE, IOAPIC_BYTES, this.deviceRegisters(() => IOAPIC_DEFAULT_BASE, ioapic), 'IOAPIC');
      const pic = this.pic;
      irqs = { setIrq(irq: number, level: boolean): void {
        pic.setIrq(irq, level);
        const pin = isaIrqPin(irq);
        if (pin >= 0) ioapic.setPin(pin, level);
      } };
      this.intc = lapic;
      writeMpTable(rom, BIOS_ROM.gpa, MP_FLOATING_POINTER - BIOS_ROM.gpa, MP_CONFIG_TABLE - BIOS_ROM.gpa, { signature: 0x683, features: features.leaf1Edx });
    } else {
      this.lapic = null;
      this.ioapic = null;
      this.intc = this.pic;
    }
    this.mmu.loadRom(BIOS_ROM.gpa, rom);
    this.pit = new Pit(this.io, this.clock, irqs);
    const serialOut = o.serialOut ?? ((): void => {});
    this.uart = new Uart(this.io, 0x3f8, 4, irqs, serialOut, this.clock);
    this.debugConsole = new DebugConsole(this.io, o.debugOut ?? serialOut);
    this.debugExit = new DebugExit(this.io, (status) => {
      this.exitStatus = status;
    });
    this.uart2 = new Uart(this.io, 0x2f8, 3, irqs, o.serial2Out ?? ((): void => {}), this.clock);
    this.rtc = new Rtc(this.io, this.clock, irqs, { ...(o.startDate ? { startDate: o.startDate } : {}), memoryBytes: this.memoryBytes + PC_HOLE.bytes });
    const reset = (): void => {
      this.resetRequested = true;
    };
    this.i8042 = new I8042(this.io, irqs, { onReset: reset });
    this.pci = new PciBus(this.io, { onReset: reset });
    this.post = new PostPort(this.io);
    this.fwCfg = new FwCfg(this.io, { ramBytes: this.memoryBytes });
    this.cpu = new Cpu({ mmu: this.mmu, io: this.io, clock: this.clock, pic: this.intc, features, engine, ...(wasm !== undefined ? { wasm } : {}) });
    this.cpu.ferrSink = (active: boolean): void => irqs.setIrq(13, active);
    const lapic = this.lapic;
    if (lapic !== null) {
      this.cpu.taskPriority = lapic; // CR8 is the TPR's priority class
      this.cpu.apicBaseMsr = {
        read: (): number => lapic.apicBase,
        write: (lo: number, hi: number): boolean => {
          const before = lapic.apicBase;
          // A new base over RAM is refused (see lapic.ts); over another device's registers too, below.
          const to = (lo & ~0xfff) >>> 0;
          if (to !== lapic.base && to < this.ramTop) return false;
          if (!lapic.writeBase(lo, hi)) return false;
          if (lapic.base === (before & ~0xfff) >>> 0) return true;
          try {
            this.io.moveMmio('local APIC', lapic.base);
          } catch {
            // A base over another device's registers is refused (#GP(0)), the APIC left where it was.
            lapic.apicBase = before;
            return false;
          }
          return true;
        },
      };
    }
  }

  /**
   * The MMIO handler of a device's registers at `base()`, given offsets
   * into its window. Every access first brings the virtual clock to the
   * accessing instruction and ends the CPU's slice after it, as port I/O
   * does (Cpu.syncClockForIo): a read of a counter is exact, and a write
   * that arms a timer or unblocks an interrupt is seen at the next
   * instruction boundary, under every engine.
   */
  private deviceRegisters(base: () => number, dev: { read(off: number, size: 1 | 2 | 4): number; write(off: number, size: 1 | 2 | 4, v: number): void }): MmioHandler {
    const sync = (): void => {
      this.cpu.syncClockForIo();
      this.cpu.pollIntr = true;
    };
    return {
      read: (g, n) => { sync(); return dev.read(g - base(), n); },
      write: (g, n, v) => { sync(); dev.write(g - base(), n, v); },
    };
  }

  /** Top of guest-physical memory used for RAM (the hole lies below it). */
  get ramTop(): number {
    return this.memoryBytes + PC_HOLE.bytes;
  }

  /**
   * Loads a Multiboot v1 kernel and sets the entry state of Multiboot
   * spec 3.2: EAX = 0x2BADB002, EBX = the info structure, flat 32-bit code
   * and data segments (base 0, limit 4 GiB), CR0.PE = 1, paging off,
   * EFLAGS.IF = 0. Throws MultibootError for a bad image.
   */
  loadMultiboot(image: Uint8Array, imageName: string, cmdline: string, modules: MultibootModule[] = []): void {
    const boot = loadMultiboot(this.mmu, {
      image, imageName, cmdline, modules,
      memory: { lowerBytes: PC_HOLE.gpa, upperBytes: this.ramTop - 0x100000, reserved: [] },
    });
    const c = this.cpu;
    c.reg32.fill(0);
    c.reg32[0] = boot.eax;
    c.reg32[3] = boot.ebx;
    c.cr0 = CR0_PE | CR0_ET;
    c.mmu.setPaging({ cr0: c.cr0, cr3Lo: 0, cr4: 0, efer: 0 });
    c.setFlags(F_1, -1);
    const code = AR_P | AR_S | AR_CODE | AR_RW | AR_ACCESSED | AR_DB | AR_G;
    const data = AR_P | AR_S | AR_RW | AR_ACCESSED | AR_DB | AR_G;
    c.updateMode();
    c.loadCache(CS, 0x08, 0, -1, code);
    for (const s of [DS, ES, FS, GS, SS]) c.loadCache(s, 0x10, 0, -1, data);
    c.gdtBase = 0;
    c.gdtLimit = 0;
    c.setCpl(0);
    c.updateMode();
    c.eip = boot.entry;
    log('multiboot %s: entry 0x%s, info at 0x%s', imageName, boot.entry.toString(16), boot.ebx.toString(16));
  }

  /**
   * The memory map handed to the kernel (e820): low RAM below the EBDA, the
   * EBDA and the BIOS area reserved, RAM from 1 MiB to the top.
   */
  e820(): { base: number; length: number; type: 1 | 2 }[] {
    return [
      { base: 0, length: 0x9fc00, type: 1 },
      { base: 0x9fc00, length: 0x400, type: 2 },
      { base: 0xf0000, length: 0x10000, type: 2 },
      { base: 0x100000, length: this.ramTop - 0x100000, type: 1 },
    ];
  }

  /**
   * Loads a Linux bzImage (and initrd) with the 32-bit boot protocol and
   * sets its entry state (Documentation/arch/x86/boot.rst, "32-bit Boot
   * Protocol"): the loader's GDT in GDTR, CS = __BOOT_CS, DS = ES = SS =
   * __BOOT_DS, flat; paging off, interrupts off; ESI = boot_params;
   * EBP = EDI = EBX = 0. Throws LinuxBootError for a bad image.
   */
  loadLinux(kernel: Uint8Array, kernelName: string, initrd: Uint8Array | undefined, initrdName: string | undefined, cmdline: string): void {
    const boot = loadLinux(this.mmu, {
      kernel, kernelName, cmdline, e820: this.e820(), ramTop: this.ramTop,
      ...(initrd !== undefined ? { initrd, initrdName: initrdName ?? 'initrd' } : {}),
    });
    const c = this.cpu;
    c.reg32.fill(0);
    c.reg32[6] = boot.bootParams;
    c.cr0 = CR0_PE | CR0_ET;
    c.mmu.setPaging({ cr0: c.cr0, cr3Lo: 0, cr4: 0, efer: 0 });
    c.setFlags(F_1, -1);
    c.gdtBase = boot.gdtBase;
    c.gdtLimit = boot.gdtLimit;
    c.updateMode();
    c.setCpl(0);
    // Load the segments from the loader's GDT, through the normal descriptor checks.
    loadSegment(c, DS, LINUX_BOOT_DS);
    loadSegment(c, ES, LINUX_BOOT_DS);
    loadSegment(c, SS, LINUX_BOOT_DS);
    loadSegment(c, FS, LINUX_BOOT_DS);
    loadSegment(c, GS, LINUX_BOOT_DS);
    const code = AR_P | AR_S | AR_CODE | AR_RW | AR_ACCESSED | AR_DB | AR_G;
    c.loadCache(CS, LINUX_BOOT_CS, 0, -1, code);
    c.updateMode();
    c.eip = boot.entry;
    log('linux %s: entry 0x%s, boot_params at 0x%s', kernelName, boot.entry.toString(16), boot.bootParams.toString(16));
  }

  /**
   * Runs until the guest exits through isa-debug-exit, halts with
   * interrupts disabled, triple-faults, or a limit is reached.
   */
  run(limits: RunLimits = {}): RunResult {
    const start = performance.now();
    const maxInstr = limits.maxInstructions ?? Infinity;
    const deadline = limits.maxMillis === undefined ? Infinity : start + limits.maxMillis;
    const cpu = this.cpu;
    const clock = this.clock;
    const ns = clock.nsPerInstruction;
    let instructions = 0;
    let checks = 0;
    // The wall clock is read every 64 steps, or sooner once 2^18 instructions ran
    // since the last reading: a busy guest's steps are up to 2^20 instructions
    // each, and 64 of them are seconds, not the milliseconds asked for.
    let checkedAt = 0;
    const result = (reason: StopReason, detail = ''): RunResult => ({
      reason, exitStatus: this.exitStatus, instructions, seconds: (performance.now() - start) / 1000, detail,
    });
    try {
      for (;;) {
        if (this.exitStatus !== null) return result('exit');
        if (this.resetRequested) return result('reset', 'the guest asked for a system reset');
        if (instructions >= maxInstr) return result('instruction-limit');
        if (deadline !== Infinity && ((++checks & 63) === 0 || instructions - checkedAt >= 1 << 18)) {
          checkedAt = instructions;
          if (performance.now() > deadline) return result('time-limit');
        }
        const next = clock.nextEventTime();
        if (cpu.halted) {
          if (!cpu.canWake()) return result('halted', `CPU halted with interrupts disabled at ${cpu.segSel[CS]!.toString(16)}:${(cpu.eip >>> 0).toString(16)}`);
          if (!this.intc.hasInterrupt()) {
            if (limits.idleBefore !== undefined && next > limits.idleBefore) return result('idle');
            if (next === Infinity) return result('halted', 'CPU halted waiting for an interrupt, and no timer is armed');
            // HLT: skip to the next event instead of spinning.
            if (next > clock.now) clock.now = next;
            clock.runDue();
          }
          cpu.pollIntr = true;
          cpu.run(1);
          instructions += cpu.executed;
          clock.now = cpu.sliceStart + cpu.executed * ns;
          continue;
        }
        let budget = next === Infinity ? 1 << 20 : Math.ceil((next - clock.now) / ns);
        if (budget < 1) budget = 1;
        if (budget > 1 << 20) budget = 1 << 20;
        if (budget > maxInstr - instructions) budget = Math.max(1, maxInstr - instructions);
        const n = cpu.run(budget);
        instructions += n;
        clock.now = cpu.sliceStart + n * ns;
        clock.runDue();
        cpu.pollIntr = true;
      }
    } catch (e) {
      if (e instanceof CpuStop) return result('triple-fault', `${e.message}\n${e.report}`);
      throw e;
    }
  }
}
