/**
 * The 8042 keyboard controller and its PS/2 keyboard, driven through ports
 * 0x60/0x64 the way Linux's i8042 and atkbd drivers probe them.
 */
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../src/io/bus.js';
import { VirtualClock } from '../../src/io/clock.js';
import { I8042, XLATE_TABLE, type I8042Options } from '../../src/devices/i8042.js';
import { RecordingIrqSink } from './helpers.js';

const DATA = 0x60;
const CMD = 0x64;
const STR_OBF = 0x01, STR_SYS = 0x04, STR_A2 = 0x08, STR_KEYLOCK = 0x10, STR_AUXB = 0x20, STR_TIMEOUT = 0x40;

function setup(options: I8042Options = {}): { bus: IoBus; irqs: RecordingIrqSink; kbc: I8042; resets: number[]; a20: boolean[] } {
  const bus = new IoBus();
  const irqs = new RecordingIrqSink(new VirtualClock());
  const resets: number[] = [];
  const a20: boolean[] = [];
  const kbc = new I8042(bus, irqs, { onReset: () => resets.push(1), onA20: (on) => a20.push(on), ...options });
  return { bus, irqs, kbc, resets, a20 };
}

/** Everything waiting in the output buffer, read as Linux's i8042_flush does. */
function drain(bus: IoBus): number[] {
  const got: number[] = [];
  for (let i = 0; i < 64 && bus.in8(CMD) & STR_OBF; i++) got.push(bus.in8(DATA));
  return got;
}

/** A controller command with optional data bytes, then every byte it puts in the output buffer. */
function command(bus: IoBus, c: number, ...params: number[]): number[] {
  bus.out8(CMD, c);
  for (const p of params) bus.out8(DATA, p);
  return drain(bus);
}

/** Bytes to the keyboard, then its answers. */
function toKeyboard(bus: IoBus, ...bytes: number[]): number[] {
  for (const b of bytes) bus.out8(DATA, b);
  return drain(bus);
}

describe('Linux\'s i8042 controller probe', () => {
  it('does an idle controller show an empty output buffer, an unlocked keyboard and the system flag, not the 0xff of an empty port?', () => {
    const { bus } = setup();
    const s = bus.in8(CMD);
    expect(s & STR_OBF).toBe(0);
    expect(s & (STR_KEYLOCK | STR_SYS)).toBe(STR_KEYLOCK | STR_SYS);
    expect(drain(bus)).toEqual([]);
  });

  it('does the self test answer 0x55 and the interface tests 0x00?', () => {
    const { bus } = setup();
    expect(command(bus, 0xaa)).toEqual([0x55]);
    expect(command(bus, 0xab)).toEqual([0x00]);
    expect(command(bus, 0xa9)).toEqual([0x00]);
  });

  it('does the command byte read as a BIOS left it (XLATE, AUXDIS, SYS, KBDINT), read back what is written, and set A2 per port?', () => {
    const { bus } = setup();
    expect(command(bus, 0x20)).toEqual([0x65]);
    bus.out8(CMD, 0x60);
    expect(bus.in8(CMD) & STR_A2).toBe(STR_A2);
    bus.out8(DATA, 0x50);
    expect(bus.in8(CMD) & STR_A2).toBe(0);
    expect(command(bus, 0x20)).toEqual([0x50]);
    expect(bus.in8(CMD) & STR_SYS).toBe(0); // status SYS follows command byte bit 2
    command(bus, 0x60, 0x47);
    expect(command(bus, 0x20)).toEqual([0x47]);
    command(bus, 0x7f, 0x99); // other controller RAM bytes
    expect(command(bus, 0x3f)).toEqual([0x99]);
  });

  it('do 0xad/0xae and 0xa7/0xa8 set and clear command byte bits 4 and 5 (i8042_toggle_aux\'s check)?', () => {
    const { bus } = setup();
    command(bus, 0x60, 0x00);
    command(bus, 0xad);
    command(bus, 0xa7);
    expect(command(bus, 0x20)).toEqual([0x30]);
    command(bus, 0xae);
    expect(command(bus, 0x20)).toEqual([0x20]);
    command(bus, 0xa8);
    expect(command(bus, 0x20)).toEqual([0x00]);
  });

  it('does the self test leave both interfaces disabled?', () => {
    const { bus } = setup();
    command(bus, 0xaa);
    expect(command(bus, 0x20)[0] & 0x30).toBe(0x30);
  });

  it('does an aux loopback come back as aux data (AUXB) with IRQ 12 when AUXINT is set (the AUX IRQ test), and the MUX probe see no MUX?', () => {
    const { bus, irqs } = setup();
    command(bus, 0x60, 0x47); // AUX enabled, both interrupts
    bus.out8(CMD, 0xd3);
    bus.out8(DATA, 0xa5);
    expect(bus.in8(CMD) & (STR_OBF | STR_AUXB)).toBe(STR_OBF | STR_AUXB);
    expect(irqs.levels[12]).toBe(true);
    expect(irqs.levels[1]).toBe(false);
    expect(bus.in8(DATA)).toBe(0xa5);
    expect(irqs.levels[12]).toBe(false);
    // i8042_set_mux_mode: a MUX answers the third loop byte with its version instead
    expect([0xf0, 0x56, 0xa4].map((b) => command(bus, 0xd3, b)[0])).toEqual([0xf0, 0x56, 0xa4]);
  });

  it('is a byte sent to the empty aux port answered 0xfe with AUXB and TIMEOUT, on IRQ 12?', () => {
    const { bus, irqs } = setup();
    command(bus, 0x60, 0x47);
    bus.out8(CMD, 0xd4);
    bus.out8(DATA, 0xf2); // psmouse's GETID
    expect(bus.in8(CMD) & (STR_OBF | STR_AUXB | STR_TIMEOUT)).toBe(STR_OBF | STR_AUXB | STR_TIMEOUT);
    expect(irqs.levels[12]).toBe(true);
    expect(bus.in8(DATA)).toBe(0xfe);
    expect(bus.in8(CMD) & (STR_OBF | STR_TIMEOUT)).toBe(0);
  });

  it('does 0xd2 put a byte in the output buffer as keyboard data, untranslated, on IRQ 1?', () => {
    const { bus, irqs } = setup();
    bus.out8(CMD, 0xd2);
    bus.out8(DATA, 0x1c);
    expect(irqs.levels[1]).toBe(true);
    expect(bus.in8(CMD) & STR_AUXB).toBe(0);
    expect(bus.in8(DATA)).toBe(0x1c);
  });

  it('does the full Linux sequence (stable CTR reads, disable, write, enable keyboard port, atkbd probe) see an AT translated set 2 keyboard?', () => {
    const { bus, irqs } = setup();
    expect(drain(bus)).toEqual([]);
    const ctr = command(bus, 0x20)[0];
    expect(command(bus, 0x20)[0]).toBe(ctr);
    let c = (ctr | 0x10) & ~0x01; // kbd interface and interrupt off
    expect(bus.in8(CMD) & STR_KEYLOCK).toBe(STR_KEYLOCK); // no "Keylock active" warning
    expect(c & 0x40).toBe(0x40); // translated: i8042_direct stays false
    command(bus, 0x60, c);
    c = (c & ~0x10) | 0x01; // i8042_enable_kbd_port
    command(bus, 0x60, c);
    // atkbd_probe: GETID; then deactivate, reset state (LEDs, typematic), activate
    const edgesBefore = irqs.risingEdges(1).length;
    bus.out8(DATA, 0xf2);
    const id: number[] = [];
    while (irqs.levels[1]) id.push(bus.in8(DATA)); // the interrupt handler, one byte per edge
    expect(id).toEqual([0xfa, 0xab, 0x41]);
    expect(irqs.risingEdges(1).length - edgesBefore).toBe(3);
    expect(toKeyboard(bus, 0xf5)).toEqual([0xfa]);
    expect(toKeyboard(bus, 0xed, 0x00)).toEqual([0xfa, 0xfa]);
    expect(toKeyboard(bus, 0xf3, 0x00)).toEqual([0xfa, 0xfa]);
    expect(toKeyboard(bus, 0xf4)).toEqual([0xfa]);
  });
});

describe('the keyboard', () => {
  it('does reset answer 0xfa then 0xaa (BAT passed)?', () => {
    const { bus } = setup();
    expect(toKeyboard(bus, 0xff)).toEqual([0xfa, 0xaa]);
  });

  it('does identify give 0xfa 0xab 0x83 without translation and 0xfa 0xab 0x41 with it?', () => {
    const { bus } = setup();
    expect(toKeyboard(bus, 0xf2)).toEqual([0xfa, 0xab, 0x41]);
    command(bus, 0x60, 0x05);
    expect(toKeyboard(bus, 0xf2)).toEqual([0xfa, 0xab, 0x83]);
  });

  it('do echo, scan-set query and selection, resend and an unknown command answer as a PS/2 keyboard does?', () => {
    const { bus } = setup();
    command(bus, 0x60, 0x05); // untranslated, to see the raw bytes
    expect(toKeyboard(bus, 0xee)).toEqual([0xee]);
    expect(toKeyboard(bus, 0xf0, 0x00)).toEqual([0xfa, 0xfa, 0x02]);
    expect(toKeyboard(bus, 0xf0, 0x03)).toEqual([0xfa, 0xfa]);
    expect(toKeyboard(bus, 0xf0, 0x00)).toEqual([0xfa, 0xfa, 0x03]);
    expect(toKeyboard(bus, 0xfe)).toEqual([0x03]);
    expect(toKeyboard(bus, 0xd7)).toEqual([0xfe]);
    expect(toKeyboard(bus, 0xed, 0xf2)).toEqual([0xfa, 0xfa, 0xab, 0x83]); // a command in place of the LED byte
    expect(toKeyboard(bus, 0xff)).toEqual([0xfa, 0xaa]);
    expect(toKeyboard(bus, 0xf0, 0x00)).toEqual([0xfa, 0xfa, 0x02]); // reset restores set 2
  });

  it('does each keyboard byte raise IRQ 1 only while KBDINT is set, and reading drop it?', () => {
    const { bus, irqs } = setup();
    command(bus, 0x60, 0x44); // KBDINT off
    bus.out8(DATA, 0xee);
    expect(irqs.levels[1]).toBe(false);
    expect(bus.in8(DATA)).toBe(0xee);
    command(bus, 0x60, 0x45);
    bus.out8(DATA, 0xee);
    expect(irqs.levels[1]).toBe(true);
    bus.in8(DATA);
    expect(irqs.levels[1]).toBe(false);
  });

  it('are keyboard bytes held while the keyboard interface is disabled, with controller replies still coming through, and delivered on enable?', () => {
    const { bus } = setup();
    command(bus, 0xad);
    bus.out8(DATA, 0xf2);
    expect(drain(bus)).toEqual([]);
    expect(command(bus, 0x20)).toEqual([0x75]);
    expect(command(bus, 0xae)).toEqual([0xfa, 0xab, 0x41]);
  });

  it('do controller replies go ahead of keyboard bytes already waiting?', () => {
    const { bus } = setup();
    bus.out8(DATA, 0xf2); // 0xfa in the buffer, 0xab 0x41 waiting
    bus.out8(CMD, 0x20);
    expect(drain(bus)).toEqual([0xfa, 0x65, 0xab, 0x41]);
  });
});

describe('translation', () => {
  it('does the table map 0x01-0x7f one to one onto 0x01-0x7f and 0x00 to 0xff, and agree with set 1 for sample keys?', () => {
    expect(XLATE_TABLE.length).toBe(128);
    expect(XLATE_TABLE[0]).toBe(0xff);
    expect([...XLATE_TABLE.slice(1)].sort((a, b) => a - b)).toEqual(Array.from({ length: 127 }, (_, i) => i + 1));
    // Esc, A, Enter, Space, F1, F12, keypad 0, Num Lock
    expect([0x76, 0x1c, 0x5a, 0x29, 0x05, 0x07, 0x70, 0x77].map((b) => XLATE_TABLE[b])).toEqual([0x01, 0x1e, 0x1c, 0x39, 0x3b, 0x58, 0x52, 0x45]);
  });

  it('does a set 2 make and break (0x1c, 0xf0 0x1c) reach the host as set 1 0x1e, 0x9e, and F7 (0x83) as 0x41?', () => {
    const { bus, kbc } = setup();
    kbc.receiveFromDevice(false, [0x1c, 0xf0, 0x1c, 0x83, 0xe0, 0x75, 0xe0, 0xf0, 0x75]);
    expect(drain(bus)).toEqual([0x1e, 0x9e, 0x41, 0xe0, 0x48, 0xe0, 0xc8]);
  });

  it('do bytes pass untouched with XLATE off, and aux bytes always?', () => {
    const { bus, kbc } = setup();
    command(bus, 0x60, 0x05);
    kbc.receiveFromDevice(false, [0x1c, 0xf0, 0x1c]);
    kbc.receiveFromDevice(true, [0x08, 0x01, 0xff]);
    expect(drain(bus)).toEqual([0x1c, 0xf0, 0x1c, 0x08, 0x01, 0xff]);
  });
});

describe('output port: A20 and reset', () => {
  it('does writing the output port gate A20 (Linux\'s 0xdd/0xdf) and read back through 0xd0?', () => {
    const { bus, kbc, a20 } = setup();
    expect(kbc.a20Enabled()).toBe(true);
    expect(command(bus, 0xd0)).toEqual([0xcf]);
    command(bus, 0xd1, 0xdd);
    expect(a20).toEqual([false]);
    expect(kbc.a20Enabled()).toBe(false);
    expect(command(bus, 0xd0)[0] & 0x03).toBe(0x01);
    command(bus, 0xd1, 0xdf);
    command(bus, 0xd1, 0xdf); // no change, no call
    expect(a20).toEqual([false, true]);
  });

  it('does 0xd0 show a full output buffer in bit 4 for keyboard data and bit 5 for aux data?', () => {
    const { bus } = setup();
    bus.out8(DATA, 0xee);
    expect(command(bus, 0xd0)).toEqual([0xee, 0xdf]); // the port was read while the echo sat in the buffer
    command(bus, 0x60, 0x45);
    bus.out8(CMD, 0xd3);
    bus.out8(DATA, 0x77);
    expect(command(bus, 0xd0)).toEqual([0x77, 0xef]);
    expect(command(bus, 0xd0)).toEqual([0xcf]);
  });

  it('does 0xfe (pulse /RESET) request a reset, and 0xff (pulse nothing) not?', () => {
    const { bus, resets } = setup();
    bus.out8(CMD, 0xff);
    expect(resets.length).toBe(0);
    for (let i = 0; i < 3; i++) bus.out8(CMD, 0xfe); // Linux's reboot tries up to 10 times
    expect(resets.length).toBe(3);
  });

  it('does writing 0 to output port bit 0 request a reset?', () => {
    const { bus, resets } = setup();
    command(bus, 0xd1, 0xce);
    expect(resets.length).toBe(1);
  });

  it('does a controller that started with A20 off report it, and reset bring it back with a callback?', () => {
    const { bus, kbc, a20 } = setup({ a20: false });
    expect(a20).toEqual([]);
    expect(command(bus, 0xd0)).toEqual([0xcd]);
    command(bus, 0xd1, 0xdf);
    kbc.reset();
    expect(a20).toEqual([true, false]);
  });
});

describe('snapshots', () => {
  it('does a restored controller keep its command byte, output buffer, waiting bytes and pending command?', () => {
    const a = setup();
    command(a.bus, 0x60, 0x47);
    a.bus.out8(DATA, 0xf2);
    a.bus.out8(CMD, 0x60); // a command byte write in flight
    const state = JSON.parse(JSON.stringify(a.kbc.save())) as object;
    const b = setup();
    b.kbc.restore(state);
    expect(b.irqs.levels[1]).toBe(true);
    b.bus.out8(DATA, 0x45);
    expect(drain(b.bus)).toEqual([0xfa, 0xab, 0x41]);
    expect(command(b.bus, 0x20)).toEqual([0x45]);
  });
});
