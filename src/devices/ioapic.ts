/**
 * An I/O APIC (Intel 82093AA datasheet): 24 interrupt input pins, each with
 * a 64-bit redirection entry that sends the pin's interrupt to the local
 * APIC as a message, at 0xFEC00000 through an index and a data register.
 *
 *   0xFEC00000 IOREGSEL (the register index, bits 7:0)
 *   0xFEC00010 IOWIN    (the indexed register, dword accesses)
 *
 *   index 0x00 IOAPICID (bits 27:24)   0x01 IOAPICVER (RO: 0x00170011)
 *   index 0x02 IOAPICARB (RO)          0x10 + 2n, 0x11 + 2n redirection entry n
 *
 *   redirection entry: | destination (63:56) | ... | mask (16) | trigger (15) |
 *     remote IRR (14, RO) | polarity (13) | delivery status (12, RO) |
 *     destination mode (11) | delivery mode (10:8) | vector (7:0) |
 *
 * An edge-triggered pin sends one message per rising edge of its input
 * (after the polarity) while unmasked; an edge while masked is lost. A
 * level-triggered pin sends a message while its input is asserted, unmasked
 * and its remote IRR clear; the message sets remote IRR, and the local
 * APIC's EOI of the entry's vector clears it, after which a pin still
 * asserted sends again. Messages are delivered at once, so delivery status
 * always reads idle. This is the version without an EOI register (0x11):
 * the local APIC's EOI broadcast is how remote IRR clears.
 *
 * Messages with delivery mode NMI, SMI or INIT have no receiver (the CPU has
 * no NMI input, and there is one processor): they are dropped, with a
 * `vmmu:ioapic` debug line.
 */
import createDebug from 'debug';

const log = createDebug('vmmu:ioapic');

export const IOAPIC_DEFAULT_BASE = 0xfec00000;
export const IOAPIC_BYTES = 0x1000;
export const IOAPIC_PINS = 24;
export const IOAPIC_VERSION = 0x00170011;

const RE_MASK = 1 << 16, RE_LEVEL = 1 << 15, RE_REMOTE_IRR = 1 << 14, RE_ACTIVE_LOW = 1 << 13;
/** low-dword bits software writes: everything but delivery status and remote IRR */
const RE_WRITABLE_LO = 0x1afff;

/** Where the IOAPIC's messages go: the local APIC. */
export interface IoApicTarget {
  matches(dest: number, logical: boolean): boolean;
  accept(vector: number, level: boolean): void;
  acceptExtInt(): void;
}

export class IoApic {
  id = 0;
  private select = 0;
  /** redirection entries: low and high dwords */
  readonly lo = new Int32Array(IOAPIC_PINS);
  readonly hi = new Int32Array(IOAPIC_PINS);
  /** the electrical level of each input */
  private readonly input = new Uint8Array(IOAPIC_PINS);
  /** messages sent, for reports and tests */
  messages = 0;

  /** @param target the local APIC */
  constructor(private readonly target: IoApicTarget) {
    this.reset();
  }

  /** Power-on: every entry masked, edge, active high, vector 0. */
  reset(): void {
    this.id = 0;
    this.select = 0;
    this.lo.fill(RE_MASK);
    this.hi.fill(0);
    this.input.fill(0);
  }

  private asserted(pin: number): boolean {
    return (this.input[pin] !== 0) !== ((this.lo[pin]! & RE_ACTIVE_LOW) !== 0);
  }

  /** Drives input `pin` to `level` (true = high). */
  setPin(pin: number, level: boolean): void {
    if (pin < 0 || pin >= IOAPIC_PINS) return;
    const was = this.asserted(pin);
    this.input[pin] = level ? 1 : 0;
    const now = this.asserted(pin);
    const e = this.lo[pin]!;
    if (e & RE_LEVEL) {
      if (now) this.sendLevel(pin);
    } else if (now && !was && !(e & RE_MASK)) {
      this.send(pin);
    }
  }

  private sendLevel(pin: number): void {
    const e = this.lo[pin]!;
    if (!(e & RE_LEVEL) || e & RE_MASK || e & RE_REMOTE_IRR || !this.asserted(pin)) return;
    this.lo[pin] = e | RE_REMOTE_IRR;
    this.send(pin);
  }

  private send(pin: number): void {
    const e = this.lo[pin]!;
    const mode = (e >> 8) & 7;
    const vector = e & 0xff;
    const dest = (this.hi[pin]! >>> 24) & 0xff;
    const logical = (e & (1 << 11)) !== 0;
    this.messages++;
    if (mode === 7) {
      this.target.acceptExtInt();
    } else if (mode === 0 || mode === 1) {
      if (this.target.matches(dest, logical)) this.target.accept(vector, (e & RE_LEVEL) !== 0);
      else log('pin %d: destination 0x%s (%s) is no CPU', pin, dest.toString(16), logical ? 'logical' : 'physical');
    } else {
      log('pin %d: delivery mode %d has no receiver', pin, mode);
    }
  }

  /** The local APIC's EOI broadcast for `vector`: clears remote IRR of level entries with that vector; a pin still asserted sends again. */
  eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const e = this.lo[pin]!;
      if ((e & 0xff) === vector && e & RE_REMOTE_IRR) {
        this.lo[pin] = e & ~RE_REMOTE_IRR;
        this.sendLevel(pin);
      }
    }
  }

  readReg(index: number): number {
    if (index === 0) return this.id << 24;
    if (index === 1) return IOAPIC_VERSION;
    if (index === 2) return this.id << 24;
    if (index >= 0x10 && index < 0x10 + 2 * IOAPIC_PINS) {
      const pin = (index - 0x10) >> 1;
      return index & 1 ? this.hi[pin]! : this.lo[pin]!;
    }
    return 0;
  }

  writeReg(index: number, v: number): void {
    if (index === 0) {
      this.id = (v >>> 24) & 0xf;
    } else if (index >= 0x10 && index < 0x10 + 2 * IOAPIC_PINS) {
      const pin = (index - 0x10) >> 1;
      if (index & 1) {
        this.hi[pin] = v & 0xff000000;
      } else {
        const old = this.lo[pin]!;
        let e = (old & ~RE_WRITABLE_LO) | (v & RE_WRITABLE_LO);
        // Remote IRR belongs to level-triggered entries only.
        if (!(e & RE_LEVEL)) e &= ~RE_REMOTE_IRR;
        this.lo[pin] = e;
        // An entry unmasked (or made level) while its level input is asserted sends.
        this.sendLevel(pin);
      }
    }
  }

  /** MMIO read in the IOAPIC's window (`off` from its base). */
  read(off: number, size: 1 | 2 | 4): number {
    let v: number;
    if ((off & 0xff0) === 0) v = this.select;
    else if ((off & 0xff0) === 0x10) v = this.readReg(this.select);
    else return 0;
    v = v >>> ((off & 3) * 8);
    return size === 4 ? v | 0 : v & ((1 << (size * 8)) - 1);
  }

  write(off: number, size: 1 | 2 | 4, value: number): void {
    if ((off & 0xff0) === 0) {
      if ((off & 0xf) === 0) this.select = value & 0xff;
    } else if ((off & 0xfff) === 0x10 && size === 4) {
      this.writeReg(this.select, value | 0);
    } else {
      log('ignored %d-byte write at IOAPIC offset 0x%s', size, off.toString(16));
    }
  }
}
