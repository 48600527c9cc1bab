/**
 * The Intel 8042 keyboard controller (ports 0x60 data, 0x64 status/command)
 * of a PS/2-style PC, with a PS/2 keyboard attached to its keyboard port and
 * nothing attached to its auxiliary (mouse) port.
 *
 *   status (0x64 read)  | PERR | TIMEOUT | AUXB | KEYLOCK | A2 | SYS | IBF | OBF |
 *     OBF      a byte waits in the output buffer (read it at 0x60)
 *     IBF      always 0: commands and data are taken at once
 *     SYS      command byte bit 2 (set by the BIOS after its self test)
 *     A2       the last write went to 0x64 (1) or 0x60 (0)
 *     KEYLOCK  1 = keyboard not inhibited by the key switch (always 1)
 *     AUXB     the byte in the output buffer came from the aux port
 *     TIMEOUT  the aux device did not answer (with AUXB, see below)
 *
 *   command byte (controller RAM byte 0)
 *            | 0 | XLATE | AUXDIS | KBDDIS | 0 | SYS | AUXINT | KBDINT |
 *
 *   output port | KBD DATA | KBD CLK | AUX-OBF (IRQ 12) | KBD-OBF (IRQ 1) |
 *               | AUX CLK | AUX DATA | A20 GATE | /RESET (0 resets the CPU) |
 *
 * Controller commands (0x64): 0x20-0x3f read RAM byte n (0x20: the command
 * byte), 0x60-0x7f write it (next byte at 0x60), 0xa4 password check (0xf1:
 * none), 0xa7/0xa8 disable/enable aux, 0xa9 aux interface test (0x00),
 * 0xaa self test (0x55), 0xab keyboard interface test (0x00), 0xad/0xae
 * disable/enable keyboard, 0xc0 read input port, 0xd0/0xd1 read/write output
 * port, 0xd2/0xd3 put the next byte in the output buffer as keyboard/aux
 * data, 0xd4 send the next byte to the aux device, 0xf0-0xff pulse the
 * output port bits whose command bit is 0 (0xfe pulses /RESET).
 *
 * Output buffer: one byte, as in the chip. Bytes waiting for it form two
 * queues: the controller's own replies (to 0x20, 0xaa, 0xd0, 0xd2-0xd4...),
 * which go first, and bytes the devices send, which wait while their port
 * is disabled in the command byte (the 8042 holds the clock line low, so a
 * device keeps its data). IRQ 1 follows "OBF with keyboard-side data and
 * KBDINT", IRQ 12 "OBF with aux data and AUXINT", as the output port wires
 * them; reading 0x60 drops the line and loads the next byte, which raises it
 * again, so each byte is one rising edge.
 *
 * Translation (XLATE): the controller turns the keyboard's scan code set 2
 * into set 1 through a fixed table, eating a 0xf0 break prefix and setting
 * bit 7 of the byte after it. Every byte from the keyboard goes through it,
 * replies included (so identify reads 0xab 0x41 rather than 0xab 0x83).
 *
 * The keyboard (after the IBM PS/2 keyboard reference): 0xff reset (0xfa
 * then BAT passed, 0xaa), 0xfe resend, 0xf6 defaults, 0xf5 disable scanning,
 * 0xf4 enable scanning, 0xf3 typematic (+ rate byte), 0xf2 identify (0xfa
 * 0xab 0x83), 0xf0 scan code set (+ 0 to read, 1-3 to select), 0xee echo
 * (0xee), 0xed LEDs (+ LED byte), 0xf7-0xfd set-3 key types (acknowledged);
 * anything else is answered 0xfe (resend). Every accepted byte is ACKed 0xfa.
 *
 * Choices where the documentation leaves room:
 * - The aux port exists but nothing is plugged into it: 0xa9 reports the
 *   lines fine (0x00) and 0xd3 loops bytes back as aux data with IRQ 12, so
 *   Linux's i8042 finds an AUX port; every byte sent to the device with 0xd4
 *   is answered 0xfe with AUXB and TIMEOUT set, which is how a PS/2
 *   controller reports a device that never clocks. psmouse's probe then
 *   fails at once and quietly.
 * - After "the BIOS": command byte 0x65 (XLATE, AUXDIS, SYS, KBDINT), output
 *   port 0xcf (A20 per the options, /RESET high), input port 0xa0.
 * - 0xaa leaves both interfaces disabled (command byte bits 4 and 5 set), as
 *   PC technical references describe the self test.
 * - A /RESET pulse or a 0 written to output-port bit 0 calls onReset once;
 *   the stored bit stays 1 (the reset would have restored it).
 * - 0xd2 bytes are not translated (they never cross the keyboard line).
 * - Replies come at once; no serial-line timing is modelled.
 */
import createDebug from 'debug';
import type { IoBus } from '../io/bus.js';
import type { IrqSink } from '../io/irq.js';

const log = createDebug('vmmu:i8042');

export const I8042_DATA_PORT = 0x60;
export const I8042_COMMAND_PORT = 0x64;
export const KBD_IRQ = 1;
export const AUX_IRQ = 12;

const STR_OBF = 0x01;
const STR_SYS = 0x04;
const STR_A2 = 0x08;
const STR_KEYLOCK = 0x10;
const STR_AUXB = 0x20;
const STR_TIMEOUT = 0x40;

const CTR_KBDINT = 0x01;
const CTR_AUXINT = 0x02;
const CTR_SYS = 0x04;
const CTR_KBDDIS = 0x10;
const CTR_AUXDIS = 0x20;
const CTR_XLATE = 0x40;

const OUT_RESET = 0x01;
const OUT_A20 = 0x02;
const OUT_KBD_OBF = 0x10;
const OUT_AUX_OBF = 0x20;

/** command byte as a BIOS leaves it */
const CTR_BIOS = CTR_XLATE | CTR_AUXDIS | CTR_SYS | CTR_KBDINT;
/** input port: keyboard not inhibited, colour display, no manufacturing jumper */
const INPUT_PORT = 0xa0;

/** queue entry flags (bits above the data byte) */
const Q_AUX = 0x100;
const Q_TIMEOUT = 0x200;

/** keyboard replies */
const KBD_ACK = 0xfa;
const KBD_RESEND = 0xfe;
const KBD_BAT_OK = 0xaa;
/** power-on typematic setting: 10.9 characters/s after 500 ms */
const KBD_TYPEMATIC_DEFAULT = 0x2b;

/**
 * The 8042's set 2 -> set 1 translation of bytes 0x00-0x7f (IBM PS/2
 * keyboard controller; the Microsoft "Keyboard Scan Code Specification"
 * lists the same pairs key by key). It maps 0x01-0x7f one to one onto
 * 0x01-0x7f, and 0x00 to 0xff. Bytes from 0x80 up pass unchanged, except
 * 0x83 (F7, the one set 2 make code above 0x7f), which becomes 0x41.
 */
export const XLATE_TABLE: readonly number[] = [
  0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29, 0x59,
  0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x5a, 0x66, 0x71, 0x2c, 0x1f, 0x1e, 0x11, 0x03, 0x5b,
  0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14, 0x13, 0x06, 0x5d,
  0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x72, 0x32, 0x24, 0x16, 0x08, 0x09, 0x5f,
  0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x60, 0x6c, 0x34, 0x35, 0x26, 0x27, 0x19, 0x0c, 0x61,
  0x6d, 0x73, 0x28, 0x74, 0x1a, 0x0d, 0x62, 0x6e, 0x3a, 0x36, 0x1c, 0x1b, 0x75, 0x2b, 0x63, 0x76,
  0x55, 0x56, 0x77, 0x78, 0x79, 0x7a, 0x0e, 0x7b, 0x7c, 0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x7f, 0x6f,
  0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45, 0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x54,
];

export interface I8042Options {
  /** the machine is asked to reset (output port /RESET pulsed or written 0) */
  onReset?: () => void;
  /** the A20 gate (output port bit 1) changed */
  onA20?: (enabled: boolean) => void;
  /** A20 gate after power-on and reset (default true, as a BIOS leaves it for an OS) */
  a20?: boolean;
}

/** Saved state of the keyboard (plain JSON). */
export interface Ps2KeyboardState {
  scanning: boolean; scanSet: number; leds: number; typematic: number; expecting: number; lastSent: number;
}

/** Saved state of the controller (plain JSON). */
export interface I8042State {
  ram: number[]; outputPort: number; obf: boolean; outByte: number; outFlags: number; a2: boolean;
  pendingCommand: number; replies: number[]; deviceBytes: number[]; xlatBreak: boolean;
  keyboard: Ps2KeyboardState;
}

/** A PS/2 keyboard: answers the host's commands; `send` puts its bytes on the line to the controller. */
class Ps2Keyboard {
  scanning = true;
  scanSet = 2;
  leds = 0;
  typematic = KBD_TYPEMATIC_DEFAULT;
  /** a command waiting for its parameter byte (0xed, 0xf0, 0xf3), or 0 */
  expecting = 0;
  /** the last byte sent, for 0xfe (resend) */
  lastSent = KBD_ACK;

  constructor(private readonly send: (byte: number) => void, private readonly clearOutput: () => void) {}

  reset(): void {
    this.scanning = true;
    this.defaults();
    this.expecting = 0;
    this.lastSent = KBD_ACK;
  }

  private defaults(): void {
    this.scanSet = 2;
    this.leds = 0;
    this.typematic = KBD_TYPEMATIC_DEFAULT;
  }

  private reply(...bytes: number[]): void {
    for (const b of bytes) {
      this.lastSent = b;
      this.send(b);
    }
  }

  /** A byte from the host. */
  receive(v: number): void {
    if (this.expecting !== 0 && v < 0x80) {
      const cmd = this.expecting;
      this.expecting = 0;
      if (cmd === 0xed) {
        this.leds = v & 7;
        this.reply(KBD_ACK);
      } else if (cmd === 0xf3) {
        this.typematic = v & 0x7f;
        this.reply(KBD_ACK);
      } else if (v === 0) { // 0xf0 0: report the set in use
        this.reply(KBD_ACK, this.scanSet);
      } else if (v <= 3) {
        this.scanSet = v;
        this.reply(KBD_ACK);
      } else {
        this.reply(KBD_RESEND);
      }
      return;
    }
    // a command byte cancels a parameter still awaited
    this.expecting = 0;
    switch (v) {
      case 0xff: // reset: ACK, then the basic assurance test
        this.clearOutput();
        this.reset();
        this.reply(KBD_ACK, KBD_BAT_OK);
        break;
      case 0xfe: // resend
        this.send(this.lastSent);
        break;
      case 0xf6: // set defaults, keep scanning
        this.defaults();
        this.scanning = true;
        this.reply(KBD_ACK);
        break;
      case 0xf5: // defaults and stop scanning
        this.clearOutput();
        this.defaults();
        this.scanning = false;
        this.reply(KBD_ACK);
        break;
      case 0xf4: // start scanning, with an empty buffer
        this.clearOutput();
        this.scanning = true;
        this.reply(KBD_ACK);
        break;
      case 0xf3: case 0xf0: case 0xed:
        this.expecting = v;
        this.reply(KBD_ACK);
        break;
      case 0xf2: // identify: an MF2 keyboard
        this.reply(KBD_ACK, 0xab, 0x83);
        break;
      case 0xee: // echo
        this.reply(0xee);
        break;
      case 0xf7: case 0xf8: case 0xf9: case 0xfa: case 0xfb: case 0xfc: case 0xfd:
        this.reply(KBD_ACK); // set-3 key types: accepted, no effect
        break;
      default:
        this.reply(KBD_RESEND);
    }
    if (log.enabled) log('keyboard <- 0x%s', v.toString(16));
  }

  save(): Ps2KeyboardState {
    return { scanning: this.scanning, scanSet: this.scanSet, leds: this.leds, typematic: this.typematic, expecting: this.expecting, lastSent: this.lastSent };
  }

  restore(s: Ps2KeyboardState): void {
    this.scanning = s.scanning;
    this.scanSet = s.scanSet;
    this.leds = s.leds;
    this.typematic = s.typematic;
    this.expecting = s.expecting;
    this.lastSent = s.lastSent;
  }
}

export class I8042 {
  /** controller RAM; byte 0 is the command byte */
  private readonly ram = new Uint8Array(32);
  /** output port bits as written (bits 4 and 5 are computed on read) */
  private outputPort = 0;
  private obf = false;
  /** the output buffer; kept after a read (a read with OBF clear returns it again) */
  private outByte = 0;
  /** Q_AUX / Q_TIMEOUT of the byte in the output buffer */
  private outFlags = 0;
  /** status A2: the last write was to the command port */
  private a2 = false;
  /** a controller command waiting for its data byte, or 0 */
  private pendingCommand = 0;
  /** controller replies waiting for the output buffer (byte | Q_ flags) */
  private replies: number[] = [];
  /** bytes sent by the devices, waiting for the output buffer (byte | Q_ flags) */
  private deviceBytes: number[] = [];
  /** translation saw a 0xf0 prefix: the next keyboard byte is a break code */
  private xlatBreak = false;
  private kbdIrq = false;
  private auxIrq = false;
  private readonly a20AtReset: boolean;
  private readonly keyboard: Ps2Keyboard;

  constructor(bus: IoBus, private readonly irq: IrqSink, private readonly options: I8042Options = {}) {
    this.a20AtReset = options.a20 ?? true;
    // the machine sets its A20 state from the same option: no callback at power-on
    this.outputPort = this.a20AtReset ? OUT_A20 : 0;
    this.keyboard = new Ps2Keyboard(
      (b) => this.deviceBytes.push(b),
      () => {
        this.deviceBytes = this.deviceBytes.filter((e) => (e & Q_AUX) !== 0);
      },
    );
    bus.registerPorts(I8042_DATA_PORT, 1, {
      in8: () => this.readData(),
      out8: (_port, v) => this.writeData(v),
    }, 'i8042-data');
    bus.registerPorts(I8042_COMMAND_PORT, 1, {
      in8: () => this.readStatus(),
      out8: (_port, v) => this.writeCommand(v),
    }, 'i8042-command');
    this.reset();
  }

  /** Controller and keyboard as a BIOS leaves them; nothing queued. Calls onA20 if the gate changes. */
  reset(): void {
    const hadA20 = (this.outputPort & OUT_A20) !== 0;
    this.ram.fill(0);
    this.ram[0] = CTR_BIOS;
    this.outputPort = 0xcd | (this.a20AtReset ? OUT_A20 : 0);
    this.obf = false;
    this.outByte = 0;
    this.outFlags = 0;
    this.a2 = false;
    this.pendingCommand = 0;
    this.replies = [];
    this.deviceBytes = [];
    this.xlatBreak = false;
    this.keyboard.reset();
    this.updateIrqs();
    if (hadA20 !== this.a20AtReset && this.options.onA20) this.options.onA20(this.a20AtReset);
  }

  /** Whether the A20 gate (output port bit 1) is on. */
  a20Enabled(): boolean {
    return (this.outputPort & OUT_A20) !== 0;
  }

  /**
   * Bytes a device sends to the controller (keyboard scan codes in the set it
   * uses, translated if XLATE is on; aux packets untranslated), queued behind
   * anything already waiting. The keyboard's own replies arrive this way.
   */
  receiveFromDevice(aux: boolean, bytes: ArrayLike<number>): void {
    for (let i = 0; i < bytes.length; i++) this.deviceBytes.push((bytes[i] & 0xff) | (aux ? Q_AUX : 0));
    this.fill();
  }

  private ctr(): number {
    return this.ram[0];
  }

  private readStatus(): number {
    let s = STR_KEYLOCK | (this.ctr() & CTR_SYS ? STR_SYS : 0) | (this.a2 ? STR_A2 : 0);
    if (this.obf) {
      s |= STR_OBF;
      if (this.outFlags & Q_AUX) s |= STR_AUXB;
      if (this.outFlags & Q_TIMEOUT) s |= STR_TIMEOUT;
    }
    return s;
  }

  private readData(): number {
    const v = this.outByte;
    if (this.obf) {
      this.obf = false;
      this.updateIrqs();
      this.fill();
    }
    return v;
  }

  private writeCommand(v: number): void {
    this.a2 = true;
    this.pendingCommand = 0;
    if (log.enabled) log('command 0x%s', v.toString(16));
    if (v >= 0x20 && v <= 0x3f) {
      this.reply(this.ram[v & 0x1f]);
      return;
    }
    if ((v >= 0x60 && v <= 0x7f) || v === 0xd1 || v === 0xd2 || v === 0xd3 || v === 0xd4) {
      this.pendingCommand = v;
      return;
    }
    if (v >= 0xf0) {
      // pulse the output port bits whose command bit is 0; only /RESET does anything
      if (!(v & OUT_RESET)) this.requestReset();
      return;
    }
    switch (v) {
      case 0xa4: this.reply(0xf1); break; // no password installed
      case 0xa7: this.setCtr(this.ctr() | CTR_AUXDIS); break;
      case 0xa8: this.setCtr(this.ctr() & ~CTR_AUXDIS); break;
      case 0xa9: this.reply(0x00); break; // aux clock and data lines fine
      case 0xaa:
        this.setCtr(this.ctr() | CTR_KBDDIS | CTR_AUXDIS);
        this.reply(0x55);
        break;
      case 0xab: this.reply(0x00); break; // keyboard lines fine
      case 0xad: this.setCtr(this.ctr() | CTR_KBDDIS); break;
      case 0xae: this.setCtr(this.ctr() & ~CTR_KBDDIS); break;
      case 0xc0: this.reply(INPUT_PORT); break;
      case 0xd0: this.reply(this.readOutputPort()); break;
      default: log('unsupported command 0x%s ignored', v.toString(16));
    }
  }

  private writeData(v: number): void {
    this.a2 = false;
    const cmd = this.pendingCommand;
    this.pendingCommand = 0;
    if (cmd === 0) {
      this.keyboard.receive(v);
      this.fill();
      return;
    }
    if (cmd >= 0x60 && cmd <= 0x7f) {
      if (cmd === 0x60) this.setCtr(v);
      else this.ram[cmd & 0x1f] = v;
      return;
    }
    switch (cmd) {
      case 0xd1: this.writeOutputPort(v); break;
      case 0xd2: this.reply(v); break;
      case 0xd3: this.reply(v | Q_AUX); break;
      default: // 0xd4: to the aux device, which is not there
        if (log.enabled) log('aux <- 0x%s: no device', v.toString(16));
        this.reply(KBD_RESEND | Q_AUX | Q_TIMEOUT);
    }
  }

  private setCtr(v: number): void {
    this.ram[0] = v;
    this.updateIrqs();
    this.fill();
  }

  private readOutputPort(): number {
    let v = this.outputPort & ~(OUT_KBD_OBF | OUT_AUX_OBF);
    if (this.obf) v |= this.outFlags & Q_AUX ? OUT_AUX_OBF : OUT_KBD_OBF;
    return v;
  }

  private writeOutputPort(v: number): void {
    const old = this.outputPort;
    this.outputPort = (v | OUT_RESET) & ~(OUT_KBD_OBF | OUT_AUX_OBF);
    if ((old ^ v) & OUT_A20) {
      log('A20 %s', v & OUT_A20 ? 'on' : 'off');
      this.options.onA20?.((v & OUT_A20) !== 0);
    }
    if (!(v & OUT_RESET)) this.requestReset();
  }

  private requestReset(): void {
    log('system reset requested');
    this.options.onReset?.();
  }

  /** A controller reply: ahead of device data. */
  private reply(entry: number): void {
    this.replies.push(entry);
    this.fill();
  }

  /** Loads the output buffer if it is empty and something may go in. */
  private fill(): void {
    while (!this.obf) {
      let entry: number;
      if (this.replies.length > 0) {
        entry = this.replies.shift()!;
      } else {
        const ctr = this.ctr();
        const i = this.deviceBytes.findIndex((e) => !((e & Q_AUX) ? ctr & CTR_AUXDIS : ctr & CTR_KBDDIS));
        if (i < 0) break;
        entry = this.deviceBytes.splice(i, 1)[0];
        if (!(entry & Q_AUX) && (ctr & CTR_XLATE)) {
          const b = entry & 0xff;
          if (b === 0xf0) {
            this.xlatBreak = true;
            continue;
          }
          entry = (b < 0x80 ? XLATE_TABLE[b] : b === 0x83 ? 0x41 : b) | (this.xlatBreak ? 0x80 : 0);
          this.xlatBreak = false;
        }
      }
      this.outByte = entry & 0xff;
      this.outFlags = entry & (Q_AUX | Q_TIMEOUT);
      this.obf = true;
      if (log.enabled) log('output buffer <- 0x%s%s', this.outByte.toString(16), entry & Q_AUX ? ' (aux)' : '');
    }
    this.updateIrqs();
  }

  private updateIrqs(force = false): void {
    const ctr = this.ctr();
    const aux = (this.outFlags & Q_AUX) !== 0;
    const kbd = this.obf && !aux && (ctr & CTR_KBDINT) !== 0;
    const mouse = this.obf && aux && (ctr & CTR_AUXINT) !== 0;
    if (kbd !== this.kbdIrq || force) {
      this.kbdIrq = kbd;
      this.irq.setIrq(KBD_IRQ, kbd);
    }
    if (mouse !== this.auxIrq || force) {
      this.auxIrq = mouse;
      this.irq.setIrq(AUX_IRQ, mouse);
    }
  }

  save(): I8042State {
    return {
      ram: Array.from(this.ram), outputPort: this.outputPort, obf: this.obf, outByte: this.outByte, outFlags: this.outFlags, a2: this.a2,
      pendingCommand: this.pendingCommand, replies: this.replies.slice(), deviceBytes: this.deviceBytes.slice(), xlatBreak: this.xlatBreak,
      keyboard: this.keyboard.save(),
    };
  }

  restore(state: object): void {
    const s = state as I8042State;
    for (let i = 0; i < 32; i++) this.ram[i] = s.ram[i] & 0xff;
    this.outputPort = s.outputPort & 0xff;
    this.obf = s.obf;
    this.outByte = s.outByte & 0xff;
    this.outFlags = s.outFlags & (Q_AUX | Q_TIMEOUT);
    this.a2 = s.a2;
    this.pendingCommand = s.pendingCommand;
    this.replies = s.replies.slice();
    this.deviceBytes = s.deviceBytes.slice();
    this.xlatBreak = s.xlatBreak;
    this.keyboard.restore(s.keyboard);
    // re-assert both lines: harmless if the interrupt controller was restored with them
    this.updateIrqs(true);
  }
}
