/**
 * The PC's pair of Intel 8259A programmable interrupt controllers: the
 * master at ports 0x20-0x21 delivers IRQ 0-7, the slave at 0xa0-0xa1
 * delivers IRQ 8-15 and is cascaded into the master's input 2. The chipset's
 * edge/level control registers (ELCR, PIIX datasheet) sit at 0x4d0/0x4d1.
 *
 * Port decoding (A0 = port bit 0), after the 8259A datasheet:
 *
 *   A0=0 write, bit 4 = 1   ICW1   | 0 0 0 1 | LTIM | ADI | SNGL | IC4 |
 *   A0=0 write, bits 4:3=00 OCW2   | R | SL | EOI | 0 0 | L2 L1 L0 |
 *   A0=0 write, bits 4:3=01 OCW3   | 0 | ESMM | SMM | 0 1 | P | RR | RIS |
 *   A0=0 read               IRR or ISR (OCW3 RR/RIS), or the poll byte after OCW3 P
 *   A0=1 write              ICW2 (vector base, bits 7:3), ICW3, ICW4 during
 *                           initialisation; OCW1 (the mask register) afterwards
 *   A0=1 read               IMR
 *
 *   ICW4                    | 0 0 0 | SFNM | BUF | M/S | AEOI | uPM |
 *
 * Priority: input i has priority level (i - lowestPlus1) & 7, 0 the highest;
 * `lowestPlus1` (0 after ICW1, so IR0 highest and IR7 lowest) moves with the
 * rotate commands. A request is passed to the CPU only when its level is
 * higher than every in-service level (fully nested mode), except that special
 * mask mode ignores in-service levels that are masked, and special fully
 * nested mode lets a slave interrupt through while the cascade input is in
 * service.
 *
 * Deliberate departures from the silicon, all in the guest's favour:
 * - An edge-triggered request stays latched in IRR when its line falls
 *   before the acknowledge (the real part turns that into a spurious IR7).
 *   Device models may then pulse a line (raise, lower) and lose nothing.
 * - The cascade input follows the slave's INT output as a level whatever the
 *   master's trigger mode, so the master never misses a second slave request
 *   that arrives while the slave's output stays high.
 * - ISA IRQ 2 raised by a device is routed to IRQ 9, as the PC/AT bus wires
 *   its IRQ2 pin; input 2 of the master is the cascade only.
 */
import createDebug from 'debug';
import type { IoBus } from '../io/bus.js';
import type { InterruptController, IrqSink } from '../io/irq.js';

const log = createDebug('vmmu:pic');

/** the master input the slave's INT output is wired to */
const CASCADE_IRQ = 2;
/** ELCR bits that must stay 0 (edge): IRQ 0, 1, 2 on the master; 8 and 13 on the slave (PIIX ELCR1/ELCR2) */
const ELCR_MASK_MASTER = 0xf8;
const ELCR_MASK_SLAVE = 0xde;

/** Saved state of one 8259A (plain JSON). */
export interface PicChipState {
  irr: number; isr: number; imr: number; lines: number;
  base: number; icw3: number; initStep: number; icw4Needed: boolean; single: boolean; ltim: boolean;
  autoEoi: boolean; rotateOnAutoEoi: boolean; sfnm: boolean; icw4: number;
  lowestPlus1: number; readIsr: boolean; poll: boolean; specialMask: boolean; elcr: number;
}

/** Saved state of the pair. */
export interface PicState {
  master: PicChipState;
  slave: PicChipState;
}

/** One 8259A. Registers are 8-bit bit sets indexed by input number. */
class Chip8259 {
  /** interrupt request register */
  irr = 0;
  /** in-service register */
  isr = 0;
  /** interrupt mask register (OCW1) */
  imr = 0;
  /** current level of each input line, for edge detection */
  lines = 0;
  /** vector of input 0 (ICW2 bits 7:3) */
  base = 0;
  /** ICW3 as written: slave bit set on the master, cascade id on the slave */
  icw3 = 0;
  /** 0 when initialised; 1, 2, 3 while ICW2, ICW3, ICW4 are expected */
  initStep = 0;
  icw4Needed = false;
  single = false;
  /** ICW1.LTIM: every input level-triggered */
  ltim = false;
  autoEoi = false;
  rotateOnAutoEoi = false;
  /** ICW4.SFNM: special fully nested mode */
  sfnm = false;
  /** ICW4 as written (buffer/master bits are kept but change nothing here) */
  icw4 = 0;
  /** the input with the highest priority (one past the lowest) */
  lowestPlus1 = 0;
  /** OCW3: a read of the command port returns ISR instead of IRR */
  readIsr = false;
  /** OCW3 P: the next command-port read is a poll */
  poll = false;
  /** OCW3 special mask mode */
  specialMask = false;
  /** chipset edge/level control register: 1 = level-triggered input */
  elcr = 0;

  constructor(readonly name: string, readonly elcrMask: number, readonly isMaster: boolean) {}

  /** Power-on state (the datasheet leaves it undefined): initialised, edge-triggered, base vector 0, nothing masked. */
  reset(): void {
    this.irr = 0;
    this.isr = 0;
    this.imr = 0;
    this.base = 0;
    this.icw3 = 0;
    this.initStep = 0;
    this.icw4Needed = false;
    this.single = false;
    this.ltim = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.sfnm = false;
    this.icw4 = 0;
    this.lowestPlus1 = 0;
    this.readIsr = false;
    this.poll = false;
    this.specialMask = false;
    this.elcr = 0;
  }

  /** Input bits that are level-triggered. */
  levelBits(): number {
    return this.ltim ? 0xff : this.elcr;
  }

  /**
   * Sets input `n` to `level`. A level-triggered input's IRR bit follows the
   * line; an edge-triggered one is latched on a rising edge (and stays
   * latched; see the file comment).
   */
  setLine(n: number, level: boolean): void {
    const bit = 1 << n;
    if (this.levelBits() & bit) {
      if (level) this.irr |= bit;
      else this.irr &= ~bit;
    } else if (level && !(this.lines & bit)) {
      this.irr |= bit;
    }
    if (level) this.lines |= bit;
    else this.lines &= ~bit;
  }

  /** Priority level (0 highest) of the highest-priority bit set in `bits`, or 8 when none is. */
  private priorityOf(bits: number): number {
    if (bits === 0) return 8;
    let p = 0;
    while (!(bits & (1 << ((p + this.lowestPlus1) & 7)))) p++;
    return p;
  }

  /** The input this chip would interrupt with now, or -1: its INT output. */
  pending(): number {
    const req = this.irr & ~this.imr;
    if (req === 0) return -1;
    const p = this.priorityOf(req);
    let blocking = this.isr;
    if (this.specialMask) blocking &= ~this.imr;
    if (this.sfnm && this.isMaster) blocking &= ~this.icw3;
    return p < this.priorityOf(blocking) ? (p + this.lowestPlus1) & 7 : -1;
  }

  /** The INTA cycle for input `n`: IRR to ISR (unless auto-EOI). */
  ack(n: number): void {
    const bit = 1 << n;
    // IRR is cleared; a level-triggered input still high requests again at once
    this.irr &= ~bit;
    if (this.levelBits() & this.lines & bit) this.irr |= bit;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.lowestPlus1 = (n + 1) & 7;
    } else {
      this.isr |= bit;
    }
  }

  /** A poll (OCW3 P then a read): the acknowledge without a vector. Bit 7 = request, bits 2:0 = its input. */
  pollRead(): number {
    this.poll = false;
    const n = this.pending();
    if (n < 0) return 0;
    this.ack(n);
    return 0x80 | n;
  }

  readCommand(): number {
    if (this.poll) return this.pollRead();
    return this.readIsr ? this.isr : this.irr;
  }

  readData(): number {
    if (this.poll) return this.pollRead();
    return this.imr;
  }

  writeCommand(v: number): void {
    if (v & 0x10) this.icw1(v);
    else if (v & 0x08) this.ocw3(v);
    else this.ocw2(v);
  }

  writeData(v: number): void {
    switch (this.initStep) {
      case 1: // ICW2: vector base; the low 3 bits are the input number
        this.base = v & 0xf8;
        this.initStep = this.single ? (this.icw4Needed ? 3 : 0) : 2;
        break;
      case 2: // ICW3
        this.icw3 = v;
        this.initStep = this.icw4Needed ? 3 : 0;
        break;
      case 3: // ICW4
        this.icw4 = v;
        this.autoEoi = (v & 0x02) !== 0;
        this.sfnm = (v & 0x10) !== 0;
        this.initStep = 0;
        if (!(v & 0x01)) log('%s: ICW4 selects 8080 mode; treated as 8086 mode', this.name);
        break;
      default: // OCW1
        this.imr = v;
    }
    if (this.initStep === 0 && log.enabled) {
      log('%s: base 0x%s imr 0x%s%s', this.name, this.base.toString(16), this.imr.toString(16), this.autoEoi ? ' auto-EOI' : '');
    }
  }

  /**
   * ICW1 starts initialisation. The 8259A datasheet lists its effects: the
   * edge sense is reset (an input already high must fall and rise again),
   * IMR is cleared, IR7 gets the lowest priority, special mask mode is
   * cleared and status read is set to IRR; with IC4 = 0 the ICW4 functions
   * are all zero.
   */
  private icw1(v: number): void {
    this.ltim = (v & 0x08) !== 0;
    this.single = (v & 0x02) !== 0;
    this.icw4Needed = (v & 0x01) !== 0;
    this.initStep = 1;
    this.irr = this.levelBits() & this.lines;
    this.isr = 0;
    this.imr = 0;
    this.lowestPlus1 = 0;
    this.specialMask = false;
    this.readIsr = false;
    this.poll = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.sfnm = false;
    this.icw4 = 0;
    log('%s: ICW1 0x%s', this.name, v.toString(16));
  }

  /** OCW2: end of interrupt and priority rotation, selected by bits 7:5 (R, SL, EOI). */
  private ocw2(v: number): void {
    const level = v & 7;
    switch (v >> 5) {
      case 0b001: { // non-specific EOI: the highest-priority in-service level
        const n = this.highestInService();
        if (n >= 0) this.isr &= ~(1 << n);
        break;
      }
      case 0b011: // specific EOI
        this.isr &= ~(1 << level);
        break;
      case 0b101: { // rotate on non-specific EOI: the level just ended becomes the lowest
        const n = this.highestInService();
        if (n >= 0) {
          this.isr &= ~(1 << n);
          this.lowestPlus1 = (n + 1) & 7;
        }
        break;
      }
      case 0b100: // rotate in auto-EOI mode (set)
        this.rotateOnAutoEoi = true;
        break;
      case 0b000: // rotate in auto-EOI mode (clear)
        this.rotateOnAutoEoi = false;
        break;
      case 0b111: // rotate on specific EOI
        this.isr &= ~(1 << level);
        this.lowestPlus1 = (level + 1) & 7;
        break;
      case 0b110: // set priority: `level` becomes the lowest
        this.lowestPlus1 = (level + 1) & 7;
        break;
      default: // 0b010: no operation
    }
  }

  private highestInService(): number {
    for (let p = 0; p < 8; p++) {
      const n = (p + this.lowestPlus1) & 7;
      if (this.isr & (1 << n)) return n;
    }
    return -1;
  }

  /** OCW3: register read select, poll, special mask mode. */
  private ocw3(v: number): void {
    if (v & 0x04) this.poll = true;
    if (v & 0x02) this.readIsr = (v & 0x01) !== 0;
    if (v & 0x40) this.specialMask = (v & 0x20) !== 0;
  }

  save(): PicChipState {
    return {
      irr: this.irr, isr: this.isr, imr: this.imr, lines: this.lines,
      base: this.base, icw3: this.icw3, initStep: this.initStep, icw4Needed: this.icw4Needed, single: this.single, ltim: this.ltim,
      autoEoi: this.autoEoi, rotateOnAutoEoi: this.rotateOnAutoEoi, sfnm: this.sfnm, icw4: this.icw4,
      lowestPlus1: this.lowestPlus1, readIsr: this.readIsr, poll: this.poll, specialMask: this.specialMask, elcr: this.elcr,
    };
  }

  restore(s: PicChipState): void {
    this.irr = s.irr & 0xff;
    this.isr = s.isr & 0xff;
    this.imr = s.imr & 0xff;
    this.lines = s.lines & 0xff;
    this.base = s.base & 0xf8;
    this.icw3 = s.icw3 & 0xff;
    this.initStep = s.initStep;
    this.icw4Needed = s.icw4Needed;
    this.single = s.single;
    this.ltim = s.ltim;
    this.autoEoi = s.autoEoi;
    this.rotateOnAutoEoi = s.rotateOnAutoEoi;
    this.sfnm = s.sfnm;
    this.icw4 = s.icw4;
    this.lowestPlus1 = s.lowestPlus1 & 7;
    this.readIsr = s.readIsr;
    this.poll = s.poll;
    this.specialMask = s.specialMask;
    this.elcr = s.elcr & this.elcrMask;
  }
}

export class Pic implements IrqSink, InterruptController {
  readonly master = new Chip8259('master', ELCR_MASK_MASTER, true);
  readonly slave = new Chip8259('slave', ELCR_MASK_SLAVE, false);
  /** the master's INT output, recomputed after every change so the CPU's check is one load */
  private intr = false;

  constructor(bus: IoBus) {
    bus.registerPorts(0x20, 2, {
      in8: (port) => this.after(port & 1 ? this.master.readData() : this.master.readCommand()),
      out8: (port, v) => {
        if (port & 1) this.master.writeData(v);
        else this.master.writeCommand(v);
        this.update();
      },
    }, 'pic-master');
    bus.registerPorts(0xa0, 2, {
      in8: (port) => this.after(port & 1 ? this.slave.readData() : this.slave.readCommand()),
      out8: (port, v) => {
        if (port & 1) this.slave.writeData(v);
        else this.slave.writeCommand(v);
        this.update();
      },
    }, 'pic-slave');
    bus.registerPorts(0x4d0, 2, {
      in8: (port) => (port & 1 ? this.slave.elcr : this.master.elcr),
      out8: (port, v) => {
        const chip = port & 1 ? this.slave : this.master;
        chip.elcr = v & chip.elcrMask;
        // an input switched to level follows its line from now on
        chip.irr = (chip.irr & ~chip.elcr) | (chip.elcr & chip.lines);
        this.update();
      },
    }, 'elcr');
    this.reset();
  }

  /** Power-on state of both chips. Input line levels are wires outside the chips and are kept. */
  reset(): void {
    this.master.reset();
    this.slave.reset();
    this.update();
  }

  /** Sets ISA line `irq` (0..15). IRQ 2 is routed to IRQ 9 (see the file comment). */
  setIrq(irq: number, level: boolean): void {
    if (irq === CASCADE_IRQ) irq = 9;
    if (irq < 8) this.master.setLine(irq, level);
    else this.slave.setLine(irq & 7, level);
    this.update();
  }

  /** Whether the master's INT output is high. */
  hasInterrupt(): boolean {
    return this.intr;
  }

  /**
   * The INTA cycle: returns the vector of the highest-priority deliverable
   * request and moves it from IRR to ISR (on the master, and on the slave
   * for IRQ 8-15). With nothing deliverable the answer is the chip's IR7
   * vector (IRQ 7, or IRQ 15 when the master chose the cascade but the
   * slave has nothing) and no ISR bit of that chip is set, as the 8259A does
   * for a request withdrawn before INTA.
   */
  acknowledge(): number {
    const m = this.master;
    const n = m.pending();
    let vector: number;
    if (n < 0) {
      vector = m.base + 7;
    } else if (n === CASCADE_IRQ && !m.single) {
      const s = this.slave;
      const n2 = s.pending();
      if (n2 >= 0) s.ack(n2);
      vector = s.base + (n2 >= 0 ? n2 : 7);
      m.ack(n);
    } else {
      m.ack(n);
      vector = m.base + n;
    }
    this.update();
    return vector;
  }

  /** Recomputes the cascade input and INT after a change. */
  private update(): void {
    const m = this.master;
    const bit = 1 << CASCADE_IRQ;
    if (m.single) {
      // ICW1.SNGL: no slave is wired in; input 2 is unused
    } else if (this.slave.pending() >= 0) {
      m.irr |= bit;
      m.lines |= bit;
    } else {
      m.irr &= ~bit;
      m.lines &= ~bit;
    }
    this.intr = m.pending() >= 0;
  }

  /** A port read may acknowledge (poll); keep INT in step. */
  private after(value: number): number {
    this.update();
    return value;
  }

  save(): PicState {
    return { master: this.master.save(), slave: this.slave.save() };
  }

  restore(state: object): void {
    const s = state as PicState;
    this.master.restore(s.master);
    this.slave.restore(s.slave);
    this.update();
  }
}
