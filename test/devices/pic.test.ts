/**
 * The 8259A pair, driven through its ports the way Linux's i8259 driver and
 * a BIOS drive it.
 */
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../src/io/bus.js';
import { Pic } from '../../src/devices/pic.js';

/** Linux's init_8259A sequence (mask all, ICW1-ICW4 on both chips, restore masks), with the given vector bases. */
function linuxInit(bus: IoBus, masterBase = 0x20, slaveBase = 0x70, icw4 = 0x01, masks = [0xfb, 0xff]): void {
  bus.out8(0x21, 0xff);
  bus.out8(0xa1, 0xff);
  bus.out8(0x20, 0x11); // ICW1: edge, cascade, ICW4 follows
  bus.out8(0x21, masterBase); // ICW2
  bus.out8(0x21, 0x04); // ICW3: slave on IR2
  bus.out8(0x21, icw4); // ICW4: 8086 mode (+ auto-EOI when 0x03)
  bus.out8(0xa0, 0x11);
  bus.out8(0xa1, slaveBase);
  bus.out8(0xa1, 0x02); // ICW3: cascade identity 2
  bus.out8(0xa1, icw4);
  bus.out8(0x21, masks[0]);
  bus.out8(0xa1, masks[1]);
}

function setup(masks = [0x00, 0x00], icw4 = 0x01): { bus: IoBus; pic: Pic } {
  const bus = new IoBus();
  const pic = new Pic(bus);
  linuxInit(bus, 0x20, 0x70, icw4, masks);
  return { bus, pic };
}

/** Raises and lowers a line (an edge-triggered pulse). */
function pulse(pic: Pic, irq: number): void {
  pic.setIrq(irq, true);
  pic.setIrq(irq, false);
}

const readIsr = (bus: IoBus, port: number): number => {
  bus.out8(port, 0x0b);
  const v = bus.in8(port);
  bus.out8(port, 0x0a);
  return v;
};

describe('initialisation and delivery', () => {
  it('does Linux\'s init followed by an IRQ 0 edge give vector 0x20 with ISR bit 0 set, and does an EOI clear it?', () => {
    const { bus, pic } = setup([0xfa, 0xff]);
    expect(pic.hasInterrupt()).toBe(false);
    pic.setIrq(0, true);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x20);
    expect(readIsr(bus, 0x20)).toBe(0x01);
    expect(bus.in8(0x20)).toBe(0x00); // IRR (the default read) no longer holds it
    expect(pic.hasInterrupt()).toBe(false);
    bus.out8(0x20, 0x20); // non-specific EOI
    expect(readIsr(bus, 0x20)).toBe(0x00);
  });

  it('does the mask register read back what Linux\'s probe writes?', () => {
    const bus = new IoBus();
    new Pic(bus);
    bus.out8(0xa1, 0xff);
    bus.out8(0x21, 0xfb);
    expect(bus.in8(0x21)).toBe(0xfb);
    expect(bus.in8(0xa1)).toBe(0xff);
  });

  it('does a masked IRQ stay in IRR without interrupting, and interrupt once unmasked?', () => {
    const { bus, pic } = setup([0xff, 0xff]);
    pulse(pic, 1);
    expect(pic.hasInterrupt()).toBe(false);
    expect(bus.in8(0x20) & 0x02).toBe(0x02);
    bus.out8(0x21, 0xfd);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x21);
  });

  it('does IRQ 12 cascade through IRQ 2 to vector 0x74, with Linux\'s specific EOIs clearing both ISR bits?', () => {
    const { bus, pic } = setup([0xfb, 0xef]);
    pulse(pic, 12);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x74);
    expect(readIsr(bus, 0xa0)).toBe(0x10);
    expect(readIsr(bus, 0x20)).toBe(0x04);
    bus.out8(0xa0, 0x60 + 4); // specific EOI for slave IR4
    bus.out8(0x20, 0x60 + 2); // specific EOI for the cascade
    expect(readIsr(bus, 0xa0)).toBe(0);
    expect(readIsr(bus, 0x20)).toBe(0);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('does a masked cascade input hold back slave interrupts?', () => {
    const { bus, pic } = setup([0xff, 0x00]);
    pulse(pic, 8);
    expect(pic.hasInterrupt()).toBe(false);
    bus.out8(0x21, 0xfb);
    expect(pic.acknowledge()).toBe(0x70);
  });

  it('does a device raising ISA IRQ 2 arrive as IRQ 9, as on the AT bus?', () => {
    const { pic } = setup();
    pulse(pic, 2);
    expect(pic.acknowledge()).toBe(0x71);
  });

  it('does ICW1 clear the mask, the requests and the in-service bits?', () => {
    const { bus, pic } = setup([0xf0, 0x00]);
    pulse(pic, 1);
    pulse(pic, 4);
    pic.acknowledge();
    bus.out8(0x20, 0x11);
    bus.out8(0x21, 0x08);
    bus.out8(0x21, 0x04);
    bus.out8(0x21, 0x01);
    expect(bus.in8(0x21)).toBe(0);
    expect(bus.in8(0x20)).toBe(0);
    expect(readIsr(bus, 0x20)).toBe(0);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('does ICW2 set the vector base of a bare-metal remap (0x08 -> 0x20, 0x70 -> 0x28)?', () => {
    const bus = new IoBus();
    const pic = new Pic(bus);
    linuxInit(bus, 0x20, 0x28, 0x01, [0, 0]);
    pulse(pic, 15);
    expect(pic.acknowledge()).toBe(0x2f);
  });
});

describe('priority', () => {
  it('does an in-service IRQ block lower ones but let higher ones through (fully nested mode)?', () => {
    const { bus, pic } = setup();
    pulse(pic, 3);
    expect(pic.acknowledge()).toBe(0x23);
    pulse(pic, 5);
    expect(pic.hasInterrupt()).toBe(false);
    pulse(pic, 1);
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x21);
    bus.out8(0x20, 0x20); // ends IRQ 1, the highest in service
    expect(readIsr(bus, 0x20)).toBe(0x08);
    expect(pic.hasInterrupt()).toBe(false);
    bus.out8(0x20, 0x20); // ends IRQ 3
    expect(pic.acknowledge()).toBe(0x25);
  });

  it('does the lowest-numbered of several pending IRQs win?', () => {
    const { pic } = setup();
    pulse(pic, 6);
    pulse(pic, 4);
    pulse(pic, 7);
    expect(pic.acknowledge()).toBe(0x24);
  });

  it('does rotate on non-specific EOI make the level just served the lowest?', () => {
    const { bus, pic } = setup();
    pulse(pic, 3);
    expect(pic.acknowledge()).toBe(0x23);
    bus.out8(0x20, 0xa0); // rotate on non-specific EOI: order is now 4 5 6 7 0 1 2 3
    pulse(pic, 1);
    pulse(pic, 6);
    expect(pic.acknowledge()).toBe(0x26);
    bus.out8(0x20, 0x20);
    expect(pic.acknowledge()).toBe(0x21);
  });

  it('does rotate on specific EOI and set priority move the lowest level?', () => {
    const { bus, pic } = setup();
    pulse(pic, 5);
    pic.acknowledge();
    bus.out8(0x20, 0xe0 | 5); // specific EOI for 5, and 5 becomes lowest: order 6 7 0 ...
    pulse(pic, 0);
    pulse(pic, 7);
    expect(pic.acknowledge()).toBe(0x27);
    bus.out8(0x20, 0x20);
    bus.out8(0x20, 0xc0 | 7); // set priority: 7 lowest, back to 0 highest
    pulse(pic, 7);
    expect(pic.acknowledge()).toBe(0x20);
  });

  it('does special mask mode let a lower IRQ through while a masked one is in service?', () => {
    const { bus, pic } = setup();
    pulse(pic, 3);
    pic.acknowledge();
    pulse(pic, 5);
    bus.out8(0x21, 0x08); // mask IRQ 3 (in service)
    expect(pic.hasInterrupt()).toBe(false);
    bus.out8(0x20, 0x68); // OCW3: set special mask mode
    expect(pic.hasInterrupt()).toBe(true);
    expect(pic.acknowledge()).toBe(0x25);
    bus.out8(0x20, 0x48); // reset special mask mode
    pulse(pic, 6);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('does auto-EOI mode deliver without setting ISR, so a lower IRQ follows with no EOI?', () => {
    const { bus, pic } = setup([0, 0], 0x03);
    pulse(pic, 1);
    expect(pic.acknowledge()).toBe(0x21);
    expect(readIsr(bus, 0x20)).toBe(0);
    pulse(pic, 6);
    expect(pic.acknowledge()).toBe(0x26);
  });

  it('does rotate in auto-EOI mode make each served level the lowest?', () => {
    const { bus, pic } = setup([0, 0], 0x03);
    bus.out8(0x20, 0x80); // set rotate in auto-EOI mode
    pulse(pic, 1);
    expect(pic.acknowledge()).toBe(0x21);
    pulse(pic, 0);
    pulse(pic, 4);
    expect(pic.acknowledge()).toBe(0x24);
  });
});

describe('triggering', () => {
  it('does an edge-triggered line held high request once, needing a new edge after the EOI?', () => {
    const { bus, pic } = setup();
    pic.setIrq(4, true);
    expect(pic.acknowledge()).toBe(0x24);
    bus.out8(0x20, 0x20);
    expect(pic.hasInterrupt()).toBe(false);
    pic.setIrq(4, false);
    pic.setIrq(4, true);
    expect(pic.acknowledge()).toBe(0x24);
  });

  it('does a level-triggered line (ELCR) request again after the EOI while it stays high?', () => {
    const { bus, pic } = setup();
    bus.out8(0x4d1, 0x08); // IRQ 11 level-triggered
    pic.setIrq(11, true);
    expect(pic.acknowledge()).toBe(0x73);
    bus.out8(0xa0, 0x20);
    bus.out8(0x20, 0x20);
    expect(pic.acknowledge()).toBe(0x73);
    bus.out8(0xa0, 0x20);
    bus.out8(0x20, 0x20);
    pic.setIrq(11, false);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('does ICW1.LTIM make every input level-triggered?', () => {
    const bus = new IoBus();
    const pic = new Pic(bus);
    bus.out8(0x20, 0x19);
    bus.out8(0x21, 0x20);
    bus.out8(0x21, 0x04);
    bus.out8(0x21, 0x01);
    pic.setIrq(5, true);
    pic.setIrq(5, false);
    expect(pic.hasInterrupt()).toBe(false);
  });

  it('does the ELCR keep IRQ 0, 1, 2, 8 and 13 edge-triggered?', () => {
    const bus = new IoBus();
    new Pic(bus);
    bus.out8(0x4d0, 0xff);
    bus.out8(0x4d1, 0xff);
    expect(bus.in8(0x4d0)).toBe(0xf8);
    expect(bus.in8(0x4d1)).toBe(0xde);
  });
});

describe('spurious interrupts, status reads and polling', () => {
  it('does an acknowledge with nothing pending return the IRQ 7 vector without setting ISR?', () => {
    const { bus, pic } = setup();
    expect(pic.acknowledge()).toBe(0x27);
    expect(readIsr(bus, 0x20)).toBe(0);
  });

  it('does a level request withdrawn before the acknowledge become spurious IRQ 7?', () => {
    const { bus, pic } = setup();
    bus.out8(0x4d0, 0x20); // IRQ 5 level-triggered
    pic.setIrq(5, true);
    expect(pic.hasInterrupt()).toBe(true);
    pic.setIrq(5, false);
    expect(pic.acknowledge()).toBe(0x27);
    expect(readIsr(bus, 0x20)).toBe(0);
  });

  it('does OCW3 select IRR or ISR for command-port reads?', () => {
    const { bus, pic } = setup();
    pulse(pic, 6);
    pulse(pic, 3);
    pic.acknowledge(); // IRQ 3 to ISR
    bus.out8(0x20, 0x0a);
    expect(bus.in8(0x20)).toBe(0x40);
    bus.out8(0x20, 0x0b);
    expect(bus.in8(0x20)).toBe(0x08);
    expect(bus.in8(0x20)).toBe(0x08); // the selection persists
  });

  it('does poll mode return the pending level with bit 7 and serve it, then 0 when idle?', () => {
    const { bus, pic } = setup();
    pulse(pic, 5);
    bus.out8(0x20, 0x0c);
    expect(bus.in8(0x20)).toBe(0x85);
    expect(readIsr(bus, 0x20)).toBe(0x20);
    expect(pic.hasInterrupt()).toBe(false);
    bus.out8(0x20, 0x20);
    bus.out8(0x20, 0x0c);
    expect(bus.in8(0x20)).toBe(0x00);
  });
});

describe('snapshots', () => {
  it('does a restored PIC deliver the same pending interrupt and keep its in-service state?', () => {
    const { pic } = setup([0x00, 0xef]);
    pulse(pic, 3);
    pic.acknowledge();
    pulse(pic, 12);
    pulse(pic, 6);
    const state = JSON.parse(JSON.stringify(pic.save())) as object;
    const bus2 = new IoBus();
    const pic2 = new Pic(bus2);
    pic2.restore(state);
    expect(pic2.hasInterrupt()).toBe(true);
    expect(pic2.acknowledge()).toBe(0x74);
    expect(readIsr(bus2, 0x20)).toBe(0x0c);
    expect(bus2.in8(0xa1)).toBe(0xef);
    expect(pic.acknowledge()).toBe(0x74);
  });

  it('does reset return both chips to their power-on state?', () => {
    const { bus, pic } = setup([0x55, 0xaa]);
    pulse(pic, 1);
    pic.reset();
    expect(bus.in8(0x21)).toBe(0);
    expect(bus.in8(0xa1)).toBe(0);
    expect(pic.hasInterrupt()).toBe(false);
  });
});
