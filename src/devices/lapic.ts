/**
 * The local APIC of the one CPU, in xAPIC mode (Intel SDM vol. 3A, chapter
 * 11 in recent editions, "Advanced Programmable Interrupt Controller"): its
 * registers at 0xFEE00000 (memory-mapped, 16-byte aligned, read and written
 * as dwords), the interrupt request, in-service and trigger-mode registers
 * with their priority rules (TPR, PPR), EOI, the spurious-interrupt
 * register that enables it in software, the local vector table, the timer,
 * the error status register and the ICR, through which a CPU sends itself
 * interrupts. It is also the CPU's interrupt controller: it answers the
 * CPU's INTR questions, passing the 8259's requests through when LINT0 is
 * programmed for ExtINT (virtual wire mode) or when the APIC is disabled in
 * IA32_APIC_BASE.
 *
 *   0x020 ID (31:24)           0x030 version (RO)     0x080 TPR
 *   0x090 APR (RO)             0x0A0 PPR (RO)         0x0B0 EOI (WO)
 *   0x0D0 LDR (31:24)          0x0E0 DFR (31:28)      0x0F0 SVR
 *   0x100-0x170 ISR (RO)       0x180-0x1F0 TMR (RO)   0x200-0x270 IRR (RO)
 *   0x280 ESR                  0x300 ICR low          0x310 ICR high
 *   0x320 LVT timer            0x330 LVT thermal      0x340 LVT performance
 *   0x350 LVT LINT0            0x360 LVT LINT1        0x370 LVT error
 *   0x380 timer initial count  0x390 current (RO)     0x3E0 divide configuration
 *
 * Decisions where the SDM leaves room or the machine differs from silicon:
 * - The state at power-on is what a PC BIOS leaves for an operating system
 *   (MP specification 1.4, 3.6.2.2, virtual wire mode), with the values
 *   SeaBIOS writes under QEMU: enabled in IA32_APIC_BASE and in the SVR
 *   (spurious vector 0xFF), LINT0 ExtINT and LINT1 NMI, both
 *   level-triggered (0x8700, 0x8400), the other LVT entries masked. The
 *   machine has no BIOS to do it, and an 8259 request then reaches the CPU
 *   as it does on a PC. The 8259 reaches the CPU only through LINT0 in
 *   ExtINT mode (or with the APIC disabled): LINT0 programmed for fixed
 *   delivery does not turn its requests into that vector.
 * - The timer counts at 1 GHz before its divider (one count a virtual
 *   nanosecond, as the TSC), so its figures follow the deterministic
 *   virtual clock. No TSC-deadline mode (CPUID does not advertise it); mode
 *   10b is kept as written and behaves as one-shot.
 * - Accesses narrower than a dword read the bytes of the register and are
 *   ignored when written (the SDM leaves both undefined).
 * - NMI, SMI, INIT and start-up messages have no receiver: the CPU has no
 *   NMI input, and there are no other processors. An IPI to all but self,
 *   or to an APIC ID that is not this one, finds no one, and the ICR
 *   reads idle at once.
 * - Relocating the registers through IA32_APIC_BASE moves the MMIO window
 *   (machine.ts) to any free place above RAM; a base over RAM or over
 *   another device's registers is refused with #GP(0) (on a PC the window
 *   would hide what lies under it). Disabling the APIC there and enabling
 *   it again is allowed (processors before the Pentium 4 needed a reset
 *   for that).
 */
import createDebug from 'debug';
import type { TimerEvent, VirtualClock } from '../io/clock.js';
import type { InterruptController } from '../io/irq.js';

const log = createDebug('vmmu:lapic');

export const LAPIC_DEFAULT_BASE = 0xfee00000;
export const LAPIC_BYTES = 0x1000;
/** IA32_APIC_BASE bits: the bootstrap processor, global enable; the base is bits 35:12 */
export const APIC_BASE_BSP = 1 << 8;
export const APIC_BASE_EN = 1 << 11;
/** version register: an integrated xAPIC (0x14) with 6 LVT entries (max LVT 5) */
export const LAPIC_VERSION = 0x00050014;

/** LVT indices, in register order from 0x320 */
export const LVT_TIMER = 0, LVT_THERMAL = 1, LVT_PERF = 2, LVT_LINT0 = 3, LVT_LINT1 = 4, LVT_ERROR = 5;
const LVT_MASKED = 1 << 16;
const LVT_LEVEL = 1 << 15;
/** bits software may write in each LVT entry (delivery status and remote IRR are read-only) */
const LVT_WRITABLE = [0x600ff | LVT_MASKED, 0x007ff | LVT_MASKED, 0x007ff | LVT_MASKED, 0x0a7ff | LVT_MASKED, 0x0a7ff | LVT_MASKED, 0x000ff | LVT_MASKED];
/** delivery modes (SMI 2, INIT 5 and start-up 6 have no receiver here) */
const DM_FIXED = 0, DM_LOWEST = 1, DM_NMI = 4, DM_EXTINT = 7;
const SVR_ENABLE = 1 << 8;
/** ESR bits: send and receive illegal vector, illegal register address */
const ESR_SEND_ILLEGAL = 1 << 5, ESR_RECV_ILLEGAL = 1 << 6, ESR_ILLEGAL_REG = 1 << 7;

/** What the APIC needs from the machine. */
export interface LapicHost {
  /** the 8259 pair, reached through LINT0 (ExtINT) or when the APIC is disabled */
  pic: InterruptController;
  /** the virtual clock, brought to the accessing instruction before each register access (machine.ts) */
  clock: VirtualClock;
  /** An EOI of a level-triggered interrupt, broadcast to the IOAPIC. */
  eoiBroadcast(vector: number): void;
}

/** The divide configuration register's divisor (bits 3, 1:0). */
function divisorOf(dcr: number): number {
  const v = ((dcr >> 1) & 4) | (dcr & 3);
  return v === 7 ? 1 : 2 << v;
}

export class LocalApic implements InterruptController {
  /** IA32_APIC_BASE: the base address, BSP, EN */
  apicBase = LAPIC_DEFAULT_BASE | APIC_BASE_BSP | APIC_BASE_EN;
  id = 0;
  tpr = 0;
  ldr = 0;
  dfr = -1;
  svr = SVR_ENABLE | 0xff;
  readonly irr = new Int32Array(8);
  readonly isr = new Int32Array(8);
  readonly tmr = new Int32Array(8);
  /** errors since the last ESR write, and what the last write latched */
  private esrPending = 0;
  private esr = 0;
  icrLo = 0;
  icrHi = 0;
  readonly lvt = new Int32Array(6);
  dcr = 0;
  initialCount = 0;
  /** the timer: the count at `countStart` (virtual ns), 0 when stopped */
  private countFrom = 0;
  private countStart = 0;
  private readonly timer: TimerEvent;
  /** an IOAPIC pin in ExtINT mode asked for the 8259's vector */
  private extInt = false;
  /** deliveries counted for reports and tests */
  readonly counts = { timer: 0, accepted: 0, eoi: 0, ipi: 0, spurious: 0, extint: 0 };

  constructor(private readonly host: LapicHost) {
    this.timer = host.clock.timer('lapic-timer', (at) => this.timerFired(at));
    this.reset();
  }

  /** The state a PC BIOS leaves (see the file's comment): the power-up state, then virtual wire mode. */
  reset(): void {
    this.powerUp(LAPIC_DEFAULT_BASE | APIC_BASE_BSP | APIC_BASE_EN);
    this.svr = SVR_ENABLE | 0xff;
    // As SeaBIOS leaves them: ExtINT and NMI, level (for ExtINT the SDM makes the trigger level whatever the bit says).
    this.lvt[LVT_LINT0] = (DM_EXTINT << 8) | LVT_LEVEL;
    this.lvt[LVT_LINT1] = (DM_NMI << 8) | LVT_LEVEL;
  }

  /** The power-up state (SDM 11.4.7.1: software-disabled, every LVT entry masked, nothing pending), with IA32_APIC_BASE `apicBase`. */
  private powerUp(apicBase: number): void {
    this.apicBase = apicBase;
    this.id = 0;
    this.tpr = 0;
    this.ldr = 0;
    this.dfr = -1;
    this.svr = 0xff;
    this.irr.fill(0);
    this.isr.fill(0);
    this.tmr.fill(0);
    this.esr = this.esrPending = 0;
    this.icrLo = this.icrHi = 0;
    this.lvt.fill(LVT_MASKED);
    this.dcr = 0;
    this.initialCount = 0;
    this.countFrom = 0;
    this.host.clock.cancel(this.timer);
    this.extInt = false;
  }

  get base(): number {
    return (this.apicBase & ~0xfff) >>> 0;
  }

  /** Enabled in IA32_APIC_BASE (the global enable). */
  get hwEnabled(): boolean {
    return (this.apicBase & APIC_BASE_EN) !== 0;
  }

  /** Enabled in software (SVR bit 8) as well. */
  get enabled(): boolean {
    return this.hwEnabled && (this.svr & SVR_ENABLE) !== 0;
  }

  // ---- priorities (SDM 11.8.3.1) ----

  private static highest(bits: Int32Array): number {
    for (let w = 7; w >= 0; w--) if (bits[w] !== 0) return w * 32 + 31 - Math.clz32(bits[w]!);
    return -1;
  }

  /** The processor-priority register: the higher of the task priority and the class of the highest interrupt in service. */
  ppr(): number {
    const isrv = LocalApic.highest(this.isr);
    const cls = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.tpr & 0xf0) >= cls ? this.tpr & 0xff : cls;
  }

  /** The highest requested vector whose class is above the PPR's, or -1. */
  private deliverable(): number {
    const v = LocalApic.highest(this.irr);
    if (v < 0 || (v & 0xf0) <= (this.ppr() & 0xf0)) return -1;
    return v;
  }

  /** Whether an 8259 request may reach the CPU: the APIC disabled in IA32_APIC_BASE, LINT0 unmasked for ExtINT, or an IOAPIC pin in ExtINT mode. */
  private picPassesThrough(): boolean {
    if (!this.hwEnabled) return true;
    const l0 = this.lvt[LVT_LINT0]!;
    return this.extInt || ((l0 & LVT_MASKED) === 0 && ((l0 >> 8) & 7) === DM_EXTINT);
  }

  hasInterrupt(): boolean {
    if (this.enabled && this.deliverable() >= 0) return true;
    return this.picPassesThrough() && this.host.pic.hasInterrupt();
  }

  /** The INTA cycle: the APIC's highest deliverable vector moves from IRR to ISR; else the 8259's vector; else the spurious vector. */
  acknowledge(): number {
    if (this.enabled) {
      const v = this.deliverable();
      if (v >= 0) {
        this.irr[v >> 5] = this.irr[v >> 5]! & ~(1 << (v & 31));
        this.isr[v >> 5] = this.isr[v >> 5]! | (1 << (v & 31));
        return v;
      }
    }
    if (this.picPassesThrough() && this.host.pic.hasInterrupt()) {
      this.extInt = false;
      this.counts.extint++;
      return this.host.pic.acknowledge();
    }
    this.counts.spurious++;
    return this.svr & 0xff;
  }

  // ---- accepting interrupts ----

  /** Whether a message for `dest` in physical (logical = false) or logical destination mode is for this APIC (SDM 11.6.2). */
  matches(dest: number, logical: boolean): boolean {
    if (!logical) return dest === 0xff || dest === this.id;
    if (dest === 0xff) return true;
    const ldr = (this.ldr >>> 24) & 0xff;
    if (((this.dfr >>> 28) & 0xf) === 0xf) return (ldr & dest) !== 0; // flat model
    return (ldr >>> 4) === (dest >>> 4) && (ldr & dest & 0xf) !== 0; // cluster model
  }

  /** A fixed (or lowest-priority) interrupt for `vector`, level- or edge-triggered (the TMR bit), from the IOAPIC, the LVT or an IPI. */
  accept(vector: number, level: boolean): void {
    if (!this.hwEnabled) return;
    if (vector < 16) {
      this.error(ESR_RECV_ILLEGAL);
      return;
    }
    const w = vector >> 5, b = 1 << (vector & 31);
    this.irr[w] = this.irr[w]! | b;
    this.tmr[w] = level ? this.tmr[w]! | b : this.tmr[w]! & ~b;
    this.counts.accepted++;
  }

  /** An IOAPIC pin in ExtINT mode: the next INTA goes to the 8259. */
  acceptExtInt(): void {
    if (this.hwEnabled) this.extInt = true;
  }

  private error(bits: number): void {
    this.esrPending |= bits;
    const e = this.lvt[LVT_ERROR]!;
    if (this.enabled && !(e & LVT_MASKED) && (e & 0xff) >= 16) this.accept(e & 0xff, false);
  }

  // ---- the timer (SDM 11.5.4) ----

  private now(): number {
    return this.host.clock.now;
  }

  /** The current-count register at virtual time `now`. */
  currentCount(now = this.now()): number {
    if (this.countFrom === 0) return 0;
    const elapsed = Math.floor((now - this.countStart) / divisorOf(this.dcr));
    return elapsed >= this.countFrom ? 0 : this.countFrom - elapsed;
  }

  /** Counts `count` from `now` at the present divisor and arms the expiry. */
  private startCount(count: number, now: number): void {
    this.countFrom = count;
    this.countStart = now;
    if (count === 0) this.host.clock.cancel(this.timer);
    else this.host.clock.arm(this.timer, now + count * divisorOf(this.dcr));
  }

  private timerFired(at: number): void {
    const t = this.lvt[LVT_TIMER]!;
    const periodic = ((t >> 17) & 3) === 1;
    if (periodic && this.initialCount !== 0) this.startCount(this.initialCount, at);
    else this.countFrom = 0;
    this.counts.timer++;
    if (this.enabled && !(t & LVT_MASKED)) this.accept(t & 0xff, false);
  }

  // ---- the ICR (SDM 11.6.1) ----

  private sendIpi(): void {
    const lo = this.icrLo;
    const vector = lo & 0xff, mode = (lo >> 8) & 7, logical = (lo & (1 << 11)) !== 0, shorthand = (lo >> 18) & 3;
    const self = shorthand === 1 || shorthand === 2 || (shorthand === 0 && this.matches((this.icrHi >>> 24) & 0xff, logical));
    this.counts.ipi++;
    if (!self) {
      log('IPI (mode %d, vector 0x%s) to no one', mode, vector.toString(16));
      return;
    }
    if (mode === DM_FIXED || mode === DM_LOWEST) {
      if (vector < 16) {
        this.error(ESR_SEND_ILLEGAL);
        return;
      }
      this.accept(vector, false);
    } else {
      log('IPI delivery mode %d to self: no receiver (see the file comment)', mode);
    }
  }

  // ---- IA32_APIC_BASE ----

  /** WRMSR IA32_APIC_BASE: returns false for reserved bits (the CPU raises #GP(0)); BSP is read-only. */
  writeBase(lo: number, hi: number): boolean {
    // MAXPHYADDR 36: bits 35:32 of the base in `hi`; only bases below 4 GiB are decoded here.
    if (hi !== 0 || (lo & 0x6ff) !== 0) return false;
    const wasEnabled = this.hwEnabled;
    const value = (lo & ~APIC_BASE_BSP) | (this.apicBase & APIC_BASE_BSP);
    // Disabling puts the APIC in its power-up state, the new base kept (SDM 11.4.3).
    if (wasEnabled && !(value & APIC_BASE_EN)) this.powerUp(value);
    else this.apicBase = value;
    return true;
  }

  // ---- the registers ----

  /** A dword read of register `off` (0..0xff0, 16-byte aligned). */
  readReg(off: number): number {
    switch (off) {
      case 0x20: return this.id << 24;
      case 0x30: return LAPIC_VERSION;
      case 0x80: return this.tpr;
      case 0x90: return 0; // APR: arbitration is a bus matter, one CPU here
      case 0xa0: return this.ppr();
      case 0xb0: return 0;
      case 0xd0: return this.ldr;
      case 0xe0: return this.dfr | 0x0fffffff;
      case 0xf0: return this.svr;
      case 0x280: return this.esr;
      case 0x300: return this.icrLo & ~(1 << 12); // delivery status: idle
      case 0x310: return this.icrHi;
      case 0x380: return this.initialCount;
      case 0x390: return this.currentCount();
      case 0x3e0: return this.dcr;
      default:
        if (off >= 0x100 && off < 0x280) {
          const bank = off < 0x180 ? this.isr : off < 0x200 ? this.tmr : this.irr;
          return bank[((off - 0x100) >> 4) & 7]!;
        }
        if (off >= 0x320 && off <= 0x370) return this.lvt[(off - 0x320) >> 4]!;
        this.error(ESR_ILLEGAL_REG);
        return 0;
    }
  }

  /** A dword write of register `off`. */
  writeReg(off: number, v: number): void {
    switch (off) {
      case 0x20: this.id = (v >>> 24) & 0xff; return;
      case 0x80: this.tpr = v & 0xff; return;
      case 0xb0: this.eoi(); return;
      case 0xd0: this.ldr = v & 0xff000000; return;
      case 0xe0: this.dfr = v | 0x0fffffff; return;
      case 0xf0: {
        this.svr = v & 0x3ff;
        // Software-disabled: every LVT entry masked (SDM 11.4.7.2).
        if (!(this.svr & SVR_ENABLE)) for (let i = 0; i < 6; i++) this.lvt[i] = this.lvt[i]! | LVT_MASKED;
        return;
      }
      case 0x280:
        this.esr = this.esrPending;
        this.esrPending = 0;
        return;
      case 0x300: this.icrLo = v & 0x000ccfff; this.sendIpi(); return;
      case 0x310: this.icrHi = v & 0xff000000; return;
      case 0x380: this.initialCount = v >>> 0; this.startCount(this.initialCount, this.now()); return;
      case 0x3e0: {
        // Keep the count where it is and go on at the new rate.
        const now = this.now();
        const cur = this.currentCount(now);
        this.dcr = v & 0xb;
        if (this.countFrom !== 0) this.startCount(cur, now);
        return;
      }
      default:
        if (off >= 0x320 && off <= 0x370) {
          const i = (off - 0x320) >> 4;
          let e = (this.lvt[i]! & ~LVT_WRITABLE[i]!) | (v & LVT_WRITABLE[i]!);
          if (!(this.svr & SVR_ENABLE)) e |= LVT_MASKED;
          this.lvt[i] = e;
          return;
        }
        if (off === 0x30 || off === 0x90 || off === 0xa0 || off === 0x390 || (off >= 0x100 && off < 0x280)) return; // read-only
        this.error(ESR_ILLEGAL_REG);
    }
  }

  /** EOI: the highest in-service vector ends; a level-triggered one is broadcast to the IOAPIC. */
  private eoi(): void {
    const v = LocalApic.highest(this.isr);
    if (v < 0) return;
    const w = v >> 5, b = 1 << (v & 31);
    this.isr[w] = this.isr[w]! & ~b;
    this.counts.eoi++;
    if (this.tmr[w]! & b) this.host.eoiBroadcast(v);
  }

  /** The MMIO read of `size` bytes at offset `off` of the APIC's window. */
  read(off: number, size: 1 | 2 | 4): number {
    off &= 0xfff;
    const reg = this.readReg(off & 0xff0);
    const byte = off & 0xf;
    if (byte >= 4) return 0;
    const v = reg >>> (byte * 8);
    return size === 4 ? v | 0 : v & ((1 << (size * 8)) - 1);
  }

  /** The MMIO write at offset `off`: only an aligned dword writes a register. */
  write(off: number, size: 1 | 2 | 4, value: number): void {
    off &= 0xfff;
    if (size !== 4 || (off & 0xf) !== 0) {
      log('ignored %d-byte write at APIC offset 0x%s', size, off.toString(16));
      return;
    }
    this.writeReg(off, value | 0);
  }
}
