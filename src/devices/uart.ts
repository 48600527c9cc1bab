/**
 * A National Semiconductor PC16550D-compatible UART (the "16550A" Linux
 * detects), at eight ports from `base` (COM1 = 0x3f8 on IRQ 4).
 *
 *   offset  read                 write           DLAB=1
 *   0       RBR receive buffer   THR transmit    DLL divisor low
 *   1       IER                  IER             DLM divisor high
 *   2       IIR                  FCR
 *   3       LCR                  LCR
 *   4       MCR                  MCR
 *   5       LSR                  (ignored)
 *   6       MSR                  (ignored)
 *   7       SCR scratch          SCR
 *
 *   IER  | 0 0 0 0 | EDSSI | ELSI | ETBEI | ERBFI |
 *   IIR  | FIFOs on (2 bits) | 0 0 | ID (3 bits) | /pending |
 *        ID in priority order: 011 line status, 010 RX data at the trigger
 *        level, 110 RX character timeout, 001 THR empty, 000 modem status
 *   FCR  | RX trigger (1/4/8/14) | 0 0 | DMA mode | TX reset | RX reset | FIFO enable |
 *   LCR  | DLAB | break | stick | even | parity | stop | word length (2 bits) |
 *   MCR  | 0 0 0 | LOOP | OUT2 | OUT1 | RTS | DTR |
 *   LSR  | RX FIFO error | TEMT | THRE | BI | FE | PE | OE | DR |
 *   MSR  | DCD | RI | DSR | CTS | DDCD | TERI | DDSR | DCTS |
 *
 * Transmission is instantaneous: a THR write hands the byte to `sink` at
 * once, so THRE and TEMT never clear and the THR-empty interrupt (when
 * enabled) is pending again right after each write, as a real 16550 would
 * be one character time later. It is cleared by reading IIR while it is the
 * reported source or by writing THR, and re-armed when ETBEI goes from 0 to
 * 1 (Linux's start-up test for UARTs that do not reassert THRE relies on
 * that).
 *
 * Reception: `receive` queues bytes in an unbounded backlog that feeds the
 * 16-byte RX FIFO (1 byte with the FIFO off) as room appears, so pasted input
 * is never overrun. RX-data interrupts follow the trigger level; below it a
 * character-timeout interrupt is raised once no character has entered or
 * left the FIFO for 4 character times at the programmed line speed (a
 * VirtualClock event).
 *
 * On a PC the UART's interrupt output reaches the ISA IRQ line only through
 * a buffer enabled by the OUT2 pin; in loopback mode the modem-control pins
 * are forced inactive, so the line stays low while internal interrupts (seen
 * in IIR) keep working. Outside loopback the modem inputs read as a
 * connected terminal: CTS, DSR and DCD on, RI off.
 *
 * Choices where the datasheet leaves room: the divisor after reset is 1
 * (115200 baud); all 8 data bits pass whatever the programmed word length;
 * with both RX-data (at the trigger level) and timeout conditions true IIR
 * reports RX data; an RX FIFO reset leaves the backlog, which refills the
 * FIFO; host input waits in the backlog while loopback is on; only loopback
 * transmission can overrun (LSR.OE) the receiver.
 */
import createDebug from 'debug';
import type { IoBus } from '../io/bus.js';
import type { TimerEvent, VirtualClock } from '../io/clock.js';
import type { IrqSink } from '../io/irq.js';

const log = createDebug('vmmu:uart');

/** UART input clock (1.8432 MHz) over the 16x oversampling: the baud rate at divisor 1 */
const BAUD_BASE = 115200;
const FIFO_SIZE = 16;
const TRIGGER_LEVELS = [1, 4, 8, 14];

const IER_ERBFI = 0x01;
const IER_ETBEI = 0x02;
const IER_ELSI = 0x04;
const IER_EDSSI = 0x08;

const IIR_NONE = 0x01;
const IIR_LINE = 0x06;
const IIR_RX = 0x04;
const IIR_TIMEOUT = 0x0c;
const IIR_THRE = 0x02;
const IIR_MODEM = 0x00;
const IIR_FIFO = 0xc0;

const FCR_ENABLE = 0x01;
const FCR_RX_RESET = 0x02;

const LCR_DLAB = 0x80;

const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;

const LSR_DR = 0x01;
const LSR_OE = 0x02;
/** OE, PE, FE, BI: the error bits a LSR read clears and the line-status interrupt reports */
const LSR_ERRORS = 0x1e;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;

const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;
/** the modem inputs of a connected terminal */
const MSR_CONNECTED = MSR_CTS | MSR_DSR | MSR_DCD;

/** Saved state (plain JSON). */
export interface UartState {
  rx: number[]; backlog: number[]; rbr: number;
  ier: number; fcr: number; lcr: number; mcr: number; lsrErrors: number;
  msrInputs: number; msrDeltas: number; scr: number; dll: number; dlm: number;
  thrPending: boolean; timeoutPending: boolean; timeoutAt: number;
}

export class Uart {
  /** RX FIFO ring */
  private readonly rx = new Uint8Array(FIFO_SIZE);
  private rxHead = 0;
  private rxCount = 0;
  /** host input not yet in the FIFO; consumed from backlogHead */
  private backlog: number[] = [];
  private backlogHead = 0;
  /** the last byte read from RBR (read again when the FIFO is empty) */
  private rbr = 0;
  private ier = 0;
  /** FCR bits that persist: FIFO enable, DMA mode, trigger */
  private fcr = 0;
  private lcr = 0;
  private mcr = 0;
  /** LSR bits 4:1, cleared by reading LSR */
  private lsrErrors = 0;
  /** MSR bits 7:4: the modem inputs as the UART sees them */
  private msrInputs = MSR_CONNECTED;
  /** MSR bits 3:0, cleared by reading MSR */
  private msrDeltas = 0;
  private scr = 0;
  private dll = 1;
  private dlm = 0;
  /** the THR-empty interrupt condition */
  private thrPending = false;
  /** the character-timeout interrupt condition */
  private timeoutPending = false;
  private irqLevel = false;
  private readonly timer: TimerEvent;

  constructor(
    bus: IoBus,
    readonly base: number,
    readonly irq: number,
    private readonly irqSink: IrqSink,
    private readonly sink: (byte: number) => void,
    private readonly clock: VirtualClock,
  ) {
    this.timer = clock.timer(`uart@${base.toString(16)}`, () => this.onTimeout());
    bus.registerPorts(base, 8, {
      in8: (port) => this.read(port - base),
      out8: (port, v) => this.write(port - base, v),
    }, `uart@0x${base.toString(16)}`);
    this.reset();
  }

  /** Reset values from the datasheet's table; the host-side backlog is kept. */
  reset(): void {
    this.rxHead = 0;
    this.rxCount = 0;
    this.rbr = 0;
    this.ier = 0;
    this.fcr = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.lsrErrors = 0;
    this.msrInputs = MSR_CONNECTED;
    this.msrDeltas = 0;
    this.scr = 0;
    this.dll = 1;
    this.dlm = 0;
    this.thrPending = false;
    this.timeoutPending = false;
    this.clock.cancel(this.timer);
    this.fill();
    this.update();
  }

  /** Queues bytes from the host (a terminal, a pasted file) for the guest to receive. */
  receive(bytes: Uint8Array | number[]): void {
    for (let i = 0; i < bytes.length; i++) this.backlog.push(bytes[i] & 0xff);
    this.fill();
    this.update();
  }

  /** Bytes received but not yet read by the guest (FIFO and backlog). */
  pendingInput(): number {
    return this.rxCount + this.backlog.length - this.backlogHead;
  }

  private read(offset: number): number {
    switch (offset) {
      case 0: return this.lcr & LCR_DLAB ? this.dll : this.readRbr();
      case 1: return this.lcr & LCR_DLAB ? this.dlm : this.ier;
      case 2: return this.readIir();
      case 3: return this.lcr;
      case 4: return this.mcr;
      case 5: return this.readLsr();
      case 6: return this.readMsr();
      default: return this.scr;
    }
  }

  private write(offset: number, v: number): void {
    switch (offset) {
      case 0:
        if (this.lcr & LCR_DLAB) this.dll = v;
        else this.writeThr(v);
        break;
      case 1:
        if (this.lcr & LCR_DLAB) this.dlm = v;
        else this.writeIer(v);
        break;
      case 2: this.writeFcr(v); break;
      case 3:
        if ((this.lcr & LCR_DLAB) && !(v & LCR_DLAB) && log.enabled) log('0x%s: %d baud, LCR 0x%s', this.base.toString(16), BAUD_BASE / this.divisor(), v.toString(16));
        this.lcr = v;
        break;
      case 4: this.writeMcr(v); break;
      case 7: this.scr = v; break;
      default: // LSR and MSR writes are factory tests; ignored
    }
  }

  private readRbr(): number {
    if (this.rxCount > 0) {
      this.rbr = this.rx[this.rxHead];
      this.rxHead = (this.rxHead + 1) & (FIFO_SIZE - 1);
      this.rxCount--;
    }
    this.timeoutPending = false;
    this.fill();
    this.armTimeout();
    this.update();
    return this.rbr;
  }

  private readIir(): number {
    const id = this.interruptId();
    if (id === IIR_THRE) {
      this.thrPending = false;
      this.update();
    }
    return id | (this.fcr & FCR_ENABLE ? IIR_FIFO : 0);
  }

  private readLsr(): number {
    const v = (this.rxCount > 0 ? LSR_DR : 0) | this.lsrErrors | LSR_THRE | LSR_TEMT;
    if (this.lsrErrors !== 0) {
      this.lsrErrors = 0;
      this.update();
    }
    return v;
  }

  private readMsr(): number {
    const v = this.msrInputs | this.msrDeltas;
    if (this.msrDeltas !== 0) {
      this.msrDeltas = 0;
      this.update();
    }
    return v;
  }

  private writeThr(v: number): void {
    if (this.mcr & MCR_LOOP) {
      // the transmitter's output is wired to the receiver's input
      if (this.rxCount < this.rxCapacity()) {
        this.push(v);
        this.armTimeout();
      } else {
        this.lsrErrors |= LSR_OE;
      }
    } else {
      this.sink(v);
    }
    // the byte is gone at once: THR is empty again
    this.thrPending = true;
    this.update();
  }

  private writeIer(v: number): void {
    const old = this.ier;
    this.ier = v & 0x0f;
    if ((this.ier & IER_ETBEI) && !(old & IER_ETBEI)) this.thrPending = true;
    this.update();
  }

  private writeFcr(v: number): void {
    const enable = v & FCR_ENABLE;
    // changing the FIFO enable bit empties the FIFOs; other bits need it set
    if (enable !== (this.fcr & FCR_ENABLE) || (enable && (v & FCR_RX_RESET))) this.clearRx();
    this.fcr = enable ? v & 0xc9 : 0;
    if (log.enabled) log('0x%s: FCR 0x%s', this.base.toString(16), v.toString(16));
    this.fill();
    this.armTimeout();
    this.update();
  }

  private writeMcr(v: number): void {
    this.mcr = v & 0x1f;
    let inputs = MSR_CONNECTED;
    if (this.mcr & MCR_LOOP) {
      // loopback: the modem outputs feed the modem inputs
      inputs = (this.mcr & MCR_RTS ? MSR_CTS : 0) | (this.mcr & MCR_DTR ? MSR_DSR : 0)
        | (this.mcr & MCR_OUT1 ? MSR_RI : 0) | (this.mcr & MCR_OUT2 ? MSR_DCD : 0);
    }
    const changed = inputs ^ this.msrInputs;
    // DCTS, DDSR, DDCD on any change; TERI only when RI goes from on to off
    this.msrDeltas |= ((changed & (MSR_CTS | MSR_DSR | MSR_DCD)) >> 4) | ((changed & this.msrInputs & MSR_RI) >> 4);
    this.msrInputs = inputs;
    this.fill();
    this.update();
  }

  private rxCapacity(): number {
    return this.fcr & FCR_ENABLE ? FIFO_SIZE : 1;
  }

  private push(v: number): void {
    this.rx[(this.rxHead + this.rxCount) & (FIFO_SIZE - 1)] = v;
    this.rxCount++;
  }

  private clearRx(): void {
    this.rxHead = 0;
    this.rxCount = 0;
    this.timeoutPending = false;
    this.clock.cancel(this.timer);
  }

  /** Moves backlog bytes into the receiver while it has room (not in loopback: the input pin is cut off). */
  private fill(): void {
    if (this.mcr & MCR_LOOP) return;
    const cap = this.rxCapacity();
    let moved = false;
    while (this.rxCount < cap && this.backlogHead < this.backlog.length) {
      this.push(this.backlog[this.backlogHead++]);
      moved = true;
    }
    if (this.backlogHead === this.backlog.length) {
      this.backlog.length = 0;
      this.backlogHead = 0;
    } else if (this.backlogHead > 4096) {
      this.backlog = this.backlog.slice(this.backlogHead);
      this.backlogHead = 0;
    }
    if (moved) this.armTimeout();
  }

  /** 16-bit divisor latch; 0 counts as 65536 */
  private divisor(): number {
    return (this.dll | (this.dlm << 8)) || 0x10000;
  }

  /** Virtual ns one character takes on the line: start bit, data bits, parity, stop bits. */
  private charNs(): number {
    const lcr = this.lcr;
    const bits = 1 + 5 + (lcr & 3) + (lcr & 0x08 ? 1 : 0) + (lcr & 0x04 ? 2 : 1);
    return Math.ceil(bits * this.divisor() * 1e9 / BAUD_BASE);
  }

  /** Restarts the character-timeout count: 4 character times from now while the FIFO holds data. */
  private armTimeout(): void {
    if ((this.fcr & FCR_ENABLE) && this.rxCount > 0) this.clock.arm(this.timer, this.clock.now + 4 * this.charNs());
    else this.clock.cancel(this.timer);
  }

  private onTimeout(): void {
    if (this.rxCount > 0 && (this.fcr & FCR_ENABLE)) {
      this.timeoutPending = true;
      this.update();
    }
  }

  /** IIR bits 3:0: the highest-priority enabled interrupt condition, or IIR_NONE. */
  private interruptId(): number {
    const ier = this.ier;
    if ((ier & IER_ELSI) && (this.lsrErrors & LSR_ERRORS)) return IIR_LINE;
    if (ier & IER_ERBFI) {
      const trigger = this.fcr & FCR_ENABLE ? TRIGGER_LEVELS[this.fcr >> 6] : 1;
      if (this.rxCount >= trigger) return IIR_RX;
      if (this.timeoutPending) return IIR_TIMEOUT;
    }
    if ((ier & IER_ETBEI) && this.thrPending) return IIR_THRE;
    if ((ier & IER_EDSSI) && this.msrDeltas) return IIR_MODEM;
    return IIR_NONE;
  }

  /** Drives the IRQ line: an interrupt is pending and OUT2 enables the PC's buffer (never in loopback). */
  private update(force = false): void {
    const level = this.interruptId() !== IIR_NONE && (this.mcr & (MCR_OUT2 | MCR_LOOP)) === MCR_OUT2;
    if (level !== this.irqLevel || force) {
      this.irqLevel = level;
      this.irqSink.setIrq(this.irq, level);
    }
  }

  save(): UartState {
    const rx: number[] = [];
    for (let i = 0; i < this.rxCount; i++) rx.push(this.rx[(this.rxHead + i) & (FIFO_SIZE - 1)]);
    return {
      rx, backlog: this.backlog.slice(this.backlogHead), rbr: this.rbr,
      ier: this.ier, fcr: this.fcr, lcr: this.lcr, mcr: this.mcr, lsrErrors: this.lsrErrors,
      msrInputs: this.msrInputs, msrDeltas: this.msrDeltas, scr: this.scr, dll: this.dll, dlm: this.dlm,
      thrPending: this.thrPending, timeoutPending: this.timeoutPending,
      timeoutAt: Number.isFinite(this.timer.at) ? this.timer.at : -1,
    };
  }

  restore(state: object): void {
    const s = state as UartState;
    this.rxHead = 0;
    this.rxCount = 0;
    for (const b of s.rx.slice(0, FIFO_SIZE)) this.push(b & 0xff);
    this.backlog = s.backlog.slice();
    this.backlogHead = 0;
    this.rbr = s.rbr; this.ier = s.ier; this.fcr = s.fcr; this.lcr = s.lcr; this.mcr = s.mcr; this.lsrErrors = s.lsrErrors;
    this.msrInputs = s.msrInputs; this.msrDeltas = s.msrDeltas; this.scr = s.scr; this.dll = s.dll; this.dlm = s.dlm;
    this.thrPending = s.thrPending; this.timeoutPending = s.timeoutPending;
    if (s.timeoutAt >= 0) this.clock.arm(this.timer, s.timeoutAt);
    else this.clock.cancel(this.timer);
    // re-assert the line: harmless if the interrupt controller was restored with it
    this.update(true);
  }
}
