/**
 * The local APIC and the IOAPIC (the `apic` CPU feature): register reset
 * values, interrupt priority (TPR, PPR, ISR, EOI), the timer against the
 * virtual clock, self IPIs, the redirection table's edge and level pins
 * with remote IRR, the 8259's path through LINT0, and the MP table an OS
 * finds them by, parsed here as Linux's mpparse does.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/io/clock.js';
import type { InterruptController } from '../../src/io/irq.js';
import { LocalApic, LAPIC_DEFAULT_BASE, LVT_LINT0, LVT_TIMER } from '../../src/devices/lapic.js';
import { cpuid, rdmsr } from '../../src/cpu/system.js';
import { FAULT } from '../../src/cpu/cpu.js';
import { IoApic } from '../../src/devices/ioapic.js';
import { Machine, MP_FLOATING_POINTER } from '../../src/machine/machine.js';
import { CpuFeatures } from '../../src/cpu/features.js';

class FakePic implements InterruptController {
  pending: number[] = [];
  hasInterrupt(): boolean { return this.pending.length > 0; }
  acknowledge(): number { return this.pending.shift() ?? 0x27; }
}

function setup(): { apic: LocalApic; io: IoApic; clock: VirtualClock; pic: FakePic; eois: number[] } {
  const clock = new VirtualClock();
  const pic = new FakePic();
  const eois: number[] = [];
  let io: IoApic | null = null;
  const apic = new LocalApic({ pic, clock, eoiBroadcast: (v) => { eois.push(v); io!.eoi(v); } });
  io = new IoApic(apic);
  return { apic, io, clock, pic, eois };
}

const reg = (a: LocalApic, off: number): number => a.read(off, 4) >>> 0;
const wr = (a: LocalApic, off: number, v: number): void => a.write(off, 4, v);
const ioWr = (io: IoApic, index: number, v: number): void => { io.write(0, 4, index); io.write(0x10, 4, v); };
const ioRd = (io: IoApic, index: number): number => { io.write(0, 4, index); return io.read(0x10, 4) >>> 0; };

describe('local APIC', () => {
  it('does it come up as a BIOS leaves it: enabled, virtual wire (LINT0 ExtINT, LINT1 NMI), the rest masked?', () => {
    const { apic } = setup();
    expect(reg(apic, 0x30)).toBe(0x50014);
    expect(reg(apic, 0xf0)).toBe(0x1ff);
    expect(reg(apic, 0x350)).toBe(0x8700);
    expect(reg(apic, 0x360)).toBe(0x8400);
    for (const off of [0x320, 0x330, 0x340, 0x370]) expect(reg(apic, off)).toBe(0x10000);
    expect(reg(apic, 0xe0)).toBe(0xffffffff);
    expect(apic.apicBase >>> 0).toBe(0xfee00900);
  });

  it('does it deliver the highest vector above the processor priority, nest, and end in service on EOI?', () => {
    const { apic } = setup();
    apic.accept(0x41, false);
    apic.accept(0x65, false);
    expect(apic.hasInterrupt()).toBe(true);
    expect(apic.acknowledge()).toBe(0x65);
    expect(reg(apic, 0xa0)).toBe(0x60); // PPR: the class in service
    // 0x41 is of a lower class than 0x65 in service: held.
    expect(apic.hasInterrupt()).toBe(false);
    apic.accept(0x6f, false);
    expect(apic.hasInterrupt()).toBe(false); // same class as the one in service
    apic.accept(0x71, false);
    expect(apic.acknowledge()).toBe(0x71);
    wr(apic, 0xb0, 0); // EOI ends 0x71
    expect(reg(apic, 0x100 + (0x71 >> 5) * 0x10) & (1 << (0x71 & 31))).toBe(0);
    wr(apic, 0xb0, 0); // EOI ends 0x65
    expect(apic.acknowledge()).toBe(0x6f);
    wr(apic, 0xb0, 0);
    expect(apic.acknowledge()).toBe(0x41);
  });

  it('does the task priority hold back vectors of its class and below?', () => {
    const { apic } = setup();
    wr(apic, 0x80, 0x50);
    apic.accept(0x55, false);
    expect(apic.hasInterrupt()).toBe(false);
    expect(reg(apic, 0xa0)).toBe(0x50);
    wr(apic, 0x80, 0x40);
    expect(apic.acknowledge()).toBe(0x55);
  });

  it('does the timer count down at the divided 1 GHz clock, fire once in one-shot mode and reload in periodic mode?', () => {
    const { apic, clock } = setup();
    wr(apic, 0x3e0, 0x3); // divide by 16
    wr(apic, 0x320, 0x30); // one-shot, vector 0x30, unmasked
    wr(apic, 0x380, 1000);
    clock.now = 1600;
    expect(reg(apic, 0x390)).toBe(900);
    expect(clock.nextEventTime()).toBe(16000);
    clock.now = 16000;
    clock.runDue();
    expect(reg(apic, 0x390)).toBe(0);
    expect(apic.acknowledge()).toBe(0x30);
    wr(apic, 0xb0, 0);
    expect(clock.nextEventTime()).toBe(Infinity);
    wr(apic, 0x320, 0x20031); // periodic, vector 0x31
    wr(apic, 0x380, 100); // at t = 16000: expiries every 1600 ns
    for (let k = 1; k <= 3; k++) {
      clock.now = 16000 + 1600 * k;
      clock.runDue();
      expect(apic.acknowledge()).toBe(0x31);
      wr(apic, 0xb0, 0);
    }
    clock.now += 800;
    expect(reg(apic, 0x390)).toBe(50);
    expect(apic.counts.timer).toBe(4);
  });

  it('does a masked timer count to zero without an interrupt?', () => {
    const { apic, clock } = setup();
    wr(apic, 0x3e0, 0xb); // divide by 1
    wr(apic, 0x320, 0x10040);
    wr(apic, 0x380, 10);
    clock.now = 10;
    clock.runDue();
    expect(reg(apic, 0x390)).toBe(0);
    expect(apic.hasInterrupt()).toBe(false);
  });

  it('does a software-disabled APIC mask every LVT entry and refuse to unmask them?', () => {
    const { apic } = setup();
    wr(apic, 0xf0, 0xff);
    expect(reg(apic, 0x350) & 0x10000).toBe(0x10000);
    wr(apic, 0x320, 0x30);
    expect(reg(apic, 0x320) & 0x10000).toBe(0x10000);
  });

  it('does the 8259 reach the CPU through LINT0 as ExtINT, and not once LINT0 is masked?', () => {
    const { apic, pic } = setup();
    pic.pending.push(0x20);
    expect(apic.hasInterrupt()).toBe(true);
    expect(apic.acknowledge()).toBe(0x20);
    wr(apic, 0x350, 0x10700);
    pic.pending.push(0x21);
    expect(apic.hasInterrupt()).toBe(false);
    expect(apic.lvt[LVT_LINT0]! & 0x10000).toBe(0x10000);
  });

  it('does the 8259 pass straight through when IA32_APIC_BASE disables the APIC, which then takes no interrupts?', () => {
    const { apic, pic } = setup();
    wr(apic, 0x350, 0x10700);
    expect(apic.writeBase(0xfee00000, 0)).toBe(true);
    expect(apic.hwEnabled).toBe(false);
    pic.pending.push(0x22);
    apic.accept(0x80, false);
    expect(apic.acknowledge()).toBe(0x22);
    expect(apic.hasInterrupt()).toBe(false);
    expect(apic.writeBase(0xfee00801, 0)).toBe(false); // a reserved bit
    // enabled again: in its power-up state (software-disabled, every LVT entry masked), not virtual wire
    expect(apic.writeBase(0xfee00800, 0)).toBe(true);
    expect(apic.hwEnabled).toBe(true);
    expect(reg(apic, 0xf0)).toBe(0xff);
    for (let off = 0x320; off <= 0x370; off += 0x10) expect(reg(apic, off) & 0x10000).toBe(0x10000);
  });

  it('does a logical destination in the cluster model match the cluster and a member bit?', () => {
    const { apic } = setup();
    wr(apic, 0xe0, 0x0fffffff); // cluster model
    wr(apic, 0xd0, 0x32000000); // cluster 3, member bit 1
    expect(apic.matches(0x32, true)).toBe(true);
    expect(apic.matches(0x36, true)).toBe(true);
    expect(apic.matches(0x34, true)).toBe(false);
    expect(apic.matches(0x22, true)).toBe(false);
    expect(apic.matches(0xff, true)).toBe(true);
  });

  it('does a fixed IPI to self (shorthand or its own ID) arrive, and one to all but self or to another ID find no one?', () => {
    const { apic } = setup();
    wr(apic, 0x300, 0x40000 | 0x50); // self
    expect(apic.acknowledge()).toBe(0x50);
    wr(apic, 0xb0, 0);
    wr(apic, 0x310, 0 << 24);
    wr(apic, 0x300, 0x51); // physical, APIC ID 0
    expect(apic.acknowledge()).toBe(0x51);
    wr(apic, 0xb0, 0);
    wr(apic, 0x300, 0xc4500); // INIT to all but self
    wr(apic, 0x300, 0xc4601); // start-up to all but self
    wr(apic, 0x310, 3 << 24);
    wr(apic, 0x300, 0x52); // physical, APIC ID 3
    expect(apic.hasInterrupt()).toBe(false);
    expect(reg(apic, 0x300) & 0x1000).toBe(0); // delivery status idle
  });

  it('does an illegal vector set the error status, latched by a write to the ESR?', () => {
    const { apic } = setup();
    wr(apic, 0x300, 0x40000 | 0x05);
    expect(reg(apic, 0x280)).toBe(0);
    wr(apic, 0x280, 0);
    expect(reg(apic, 0x280)).toBe(0x20);
    wr(apic, 0x280, 0);
    expect(reg(apic, 0x280)).toBe(0);
  });

  it('does the timer keep its count when the divider changes while it runs?', () => {
    const { apic, clock } = setup();
    wr(apic, 0x3e0, 0xb); // divide by 1
    wr(apic, 0x320, 0x10000 | LVT_TIMER);
    wr(apic, 0x380, 1000);
    clock.now = 400;
    wr(apic, 0x3e0, 0x0); // divide by 2
    expect(reg(apic, 0x390)).toBe(600);
    clock.now = 600;
    expect(reg(apic, 0x390)).toBe(500);
    expect(clock.nextEventTime()).toBe(400 + 1200);
  });
});

describe('IOAPIC', () => {
  it('does it identify itself and start with every entry masked?', () => {
    const { io } = setup();
    expect(ioRd(io, 1)).toBe(0x170011);
    for (let pin = 0; pin < 24; pin++) expect(ioRd(io, 0x10 + 2 * pin)).toBe(0x10000);
    ioWr(io, 0, 0x01000000);
    expect(ioRd(io, 0)).toBe(0x01000000);
  });

  it('does an edge pin send once per rising edge while unmasked, and lose an edge while masked?', () => {
    const { io, apic } = setup();
    ioWr(io, 0x10 + 4, 0x10033); // pin 2, vector 0x33, masked
    io.setPin(2, true);
    io.setPin(2, false);
    ioWr(io, 0x10 + 4, 0x33);
    expect(apic.hasInterrupt()).toBe(false);
    io.setPin(2, true);
    io.setPin(2, true);
    expect(apic.acknowledge()).toBe(0x33);
    wr(apic, 0xb0, 0);
    expect(apic.hasInterrupt()).toBe(false);
    io.setPin(2, false);
    io.setPin(2, true);
    expect(apic.acknowledge()).toBe(0x33);
  });

  it('does a level pin set remote IRR, and send again after the EOI while still asserted?', () => {
    const { io, apic, eois } = setup();
    ioWr(io, 0x10 + 2 * 9, 0x8000 | 0x49); // pin 9, level, vector 0x49
    io.setPin(9, true);
    expect(ioRd(io, 0x10 + 18) & 0x4000).toBe(0x4000);
    expect(apic.acknowledge()).toBe(0x49);
    wr(apic, 0xb0, 0);
    expect(eois).toEqual([0x49]);
    // still asserted: sent again, remote IRR set again
    expect(apic.acknowledge()).toBe(0x49);
    io.setPin(9, false);
    wr(apic, 0xb0, 0);
    expect(ioRd(io, 0x10 + 18) & 0x4000).toBe(0);
    expect(apic.hasInterrupt()).toBe(false);
  });

  it('does an active-low pin assert on a low input?', () => {
    const { io, apic } = setup();
    io.setPin(5, true);
    ioWr(io, 0x10 + 10, 0x2000 | 0x55); // active low, edge
    io.setPin(5, false);
    expect(apic.acknowledge()).toBe(0x55);
  });

  it('does a pin in ExtINT mode hand the next acknowledge to the 8259, with LINT0 masked?', () => {
    const { io, apic, pic } = setup();
    wr(apic, 0x350, 0x18700); // LINT0 masked: the 8259 no longer reaches the CPU by itself
    pic.pending.push(0x21);
    expect(apic.hasInterrupt()).toBe(false);
    ioWr(io, 0x10, 0x700); // pin 0: ExtINT, unmasked
    io.setPin(0, true);
    expect(apic.hasInterrupt()).toBe(true);
    expect(apic.acknowledge()).toBe(0x21);
    expect(apic.counts.extint).toBe(1);
    pic.pending.push(0x22);
    expect(apic.hasInterrupt()).toBe(false); // one acknowledge per message
  });

  it('does a message to another APIC ID, or in logical mode to a group this APIC is not in, go nowhere?', () => {
    const { io, apic } = setup();
    ioWr(io, 0x11 + 2 * 3, 0x05000000);
    ioWr(io, 0x10 + 2 * 3, 0x63); // physical, destination 5
    io.setPin(3, true);
    expect(apic.hasInterrupt()).toBe(false);
    wr(apic, 0xd0, 0x01000000); // logical ID bit 0, flat model
    ioWr(io, 0x11 + 2 * 4, 0x02000000);
    ioWr(io, 0x10 + 2 * 4, 0x800 | 0x64);
    io.setPin(4, true);
    expect(apic.hasInterrupt()).toBe(false);
    ioWr(io, 0x11 + 2 * 6, 0x03000000);
    ioWr(io, 0x10 + 2 * 6, 0x800 | 0x66);
    io.setPin(6, true);
    expect(apic.acknowledge()).toBe(0x66);
  });
});

describe('a machine with the apic feature', () => {
  it('does CPUID advertise the APIC only with the feature?', () => {
    expect(new CpuFeatures('').leaf1Edx & (1 << 9)).toBe(0);
    expect(new CpuFeatures('+apic').leaf1Edx & (1 << 9)).toBe(1 << 9);
  });

  it('does it put an MP table in the BIOS ROM that parses as Linux parses it, with the APIC and IOAPIC where the machine has them?', () => {
    const m = new Machine({ mode: 'shadow', cpu: '+apic' });
    const fp = m.mmu.readPhysBytes(MP_FLOATING_POINTER, 16);
    expect(Buffer.from(fp.subarray(0, 4)).toString('latin1')).toBe('_MP_');
    expect(fp.reduce((s, b) => s + b, 0) & 0xff).toBe(0);
    expect(fp[8]).toBe(1);
    expect(fp[12]! & 0x80).toBe(0); // virtual wire mode
    const at = fp[4]! | (fp[5]! << 8) | (fp[6]! << 16) | (fp[7]! << 24);
    const head = m.mmu.readPhysBytes(at, 44);
    expect(Buffer.from(head.subarray(0, 4)).toString('latin1')).toBe('PCMP');
    const len = head[4]! | (head[5]! << 8);
    const t = m.mmu.readPhysBytes(at, len);
    expect(t.reduce((s, b) => s + b, 0) & 0xff).toBe(0);
    expect((t[36]! | (t[37]! << 8) | (t[38]! << 16) | (t[39]! << 24)) >>> 0).toBe(0xfee00000);
    const count = t[34]! | (t[35]! << 8);
    const kinds: number[] = [];
    const irqToPin = new Map<number, number>();
    let ioapicAt = 0;
    for (let p = 44, k = 0; k < count; k++) {
      const type = t[p]!;
      kinds.push(type);
      if (type === 2) ioapicAt = (t[p + 4]! | (t[p + 5]! << 8) | (t[p + 6]! << 16) | (t[p + 7]! << 24)) >>> 0;
      if (type === 3) irqToPin.set(t[p + 5]!, t[p + 7]!);
      p += type === 0 ? 20 : 8;
    }
    expect(kinds.filter((k) => k === 0)).toHaveLength(1);
    expect(ioapicAt).toBe(0xfec00000);
    expect(irqToPin.get(0)).toBe(2);
    expect(irqToPin.get(4)).toBe(4);
    expect(irqToPin.has(2)).toBe(false);
    expect(kinds.filter((k) => k === 4)).toHaveLength(2);
  });

  it('does IA32_APIC_BASE move the registers to a free place above RAM, and refuse a base over RAM or over the IOAPIC?', () => {
    const m = new Machine({ mode: 'naive', cpu: '+apic' });
    const msr = m.cpu.apicBaseMsr!;
    expect(msr.write(0xfed00900, 0)).toBe(true);
    expect(m.mmu.readPhys(0xfed00030, 4) >>> 0).toBe(0x50014);
    expect(m.mmu.readPhys(0xfee00030, 4) >>> 0).toBe(0xffffffff);
    expect(msr.write(0x00100900, 0)).toBe(false);
    expect(msr.write(0xfec00900, 0)).toBe(false);
    expect(msr.read() >>> 0).toBe(0xfed00900);
    expect(m.mmu.readPhys(0xfed00030, 4) >>> 0).toBe(0x50014);
  });

  it('does CPUID.1:EDX.APIC follow the enable bit of IA32_APIC_BASE?', () => {
    const m = new Machine({ mode: 'naive', cpu: '+apic' });
    const leaf1Edx = (): number => { m.cpu.reg32[0] = 1; m.cpu.reg32[1] = 0; cpuid(m.cpu); return m.cpu.reg32[2]!; };
    expect(leaf1Edx() & (1 << 9)).toBe(1 << 9);
    m.cpu.reg32[1] = 0x1b;
    rdmsr(m.cpu);
    expect(m.cpu.reg32[0]! >>> 0).toBe(0xfee00900);
    expect(m.cpu.apicBaseMsr!.write(0xfee00100, 0)).toBe(true);
    expect(leaf1Edx() & (1 << 9)).toBe(0);
  });

  it('does an access to the APIC\'s registers bring the clock to the instruction and end the CPU\'s slice after it, as port I/O does?', () => {
    const m = new Machine({ mode: 'shadow', cpu: '+apic' });
    for (const [gpa, write] of [[LAPIC_DEFAULT_BASE + 0x390, false], [LAPIC_DEFAULT_BASE + 0x80, true], [0xfec00000, true]] as const) {
      m.cpu.sliceStart = 1000;
      m.cpu.executed = 7;
      m.cpu.budget = 500;
      m.cpu.pollIntr = false;
      if (write) m.mmu.writePhys(gpa, 4, 0);
      else m.mmu.readPhys(gpa, 4);
      expect([m.clock.now, m.cpu.budget, m.cpu.pollIntr]).toEqual([1007, 7, true]);
    }
  });

  it('does a machine without the feature have no MP table and no APIC registers, and refuse the MSR?', () => {
    const m = new Machine({ mode: 'naive' });
    expect(Buffer.from(m.mmu.readPhysBytes(MP_FLOATING_POINTER, 4)).toString('latin1')).not.toBe('_MP_');
    expect(m.lapic).toBeNull();
    expect(m.mmu.readPhys(0xfee00030, 4) >>> 0).toBe(0xffffffff);
    expect(m.cpu.apicBaseMsr).toBeNull();
    m.cpu.reg32[1] = 0x1b;
    expect(() => rdmsr(m.cpu)).toThrow(FAULT);
    expect([FAULT.vector, FAULT.errorCode]).toEqual([13, 0]); // #GP(0)
  });

  it('does the PIT reach the CPU through IOAPIC pin 2 once the guest routes it there?', () => {
    const m = new Machine({ mode: 'slat', cpu: '+apic' });
    const io = m.ioapic!;
    ioWr(io, 0x10 + 4, 0x30);
    // program the PIT: channel 0, mode 2 (a low pulse at each terminal count, OUT rising after it), a count of 100
    m.io.out8(0x43, 0x34);
    m.io.out8(0x40, 100);
    m.io.out8(0x40, 0);
    const sent = io.messages;
    for (let k = 0; k < 2; k++) {
      m.clock.now = m.clock.nextEventTime();
      m.clock.runDue();
    }
    expect(io.messages).toBe(sent + 1);
    expect(m.lapic!.hasInterrupt()).toBe(true);
    expect(m.lapic!.acknowledge()).toBe(0x30);
  });
});
