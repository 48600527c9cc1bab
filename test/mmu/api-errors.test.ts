/**
 * Misuse of the vmmu/mmu API is refused at the boundary with an error that
 * names the argument, never rounded, defaulted or carried into guest memory.
 */
import { describe, expect, it } from 'vitest';
import { Mmu, type MmuOptions } from '../../src/mmu/index.js';

describe('what if an Mmu is created with a bad option?', () => {
  const cases: [string, MmuOptions, RegExp][] = [
    ['guestMemory of 1 byte', { guestMemory: 1 }, /guestMemory 1 is not a positive whole multiple of 4096/],
    ['guestMemory not page aligned', { guestMemory: 4097 }, /guestMemory 4097/],
    ['guestMemory 1.5', { guestMemory: 1.5 }, /guestMemory 1.5/],
    ['guestMemory -1', { guestMemory: -1 }, /guestMemory -1/],
    ['guestMemory NaN', { guestMemory: NaN }, /guestMemory NaN/],
    ['hostMemory NaN', { hostMemory: NaN }, /hostMemory NaN/],
    ['seed NaN', { seed: NaN }, /seed NaN is not a whole number/],
    ['seed -1', { seed: -1 }, /seed -1/],
    ['seed "x"', { seed: 'x' as unknown as number }, /seed "x"/],
    ['a misspelt option', { guestMemroy: 1 << 20 } as unknown as MmuOptions, /unknown Mmu option 'guestMemroy'/],
    ['overlapping holes', { guestMemory: 16 << 20, holes: [{ gpa: 0xa0000, bytes: 0x20000 }, { gpa: 0xb0000, bytes: 0x1000 }] }, /holes\[0\] and holes\[1\] overlap: 0xa0000\+0x20000 and 0xb0000\+0x1000/],
    ['a hole of 0 bytes', { holes: [{ gpa: 0xa0000, bytes: 0 }] }, /holes\[0\]\.bytes 0/],
    ['a hole at an unaligned gpa', { holes: [{ gpa: 0xa0001, bytes: 0x1000 }] }, /holes\[0\]\.gpa 655361 is not a page-aligned address/],
  ];
  it.each(cases)('%s', (_what, options, message) => {
    expect(() => new Mmu(options)).toThrow(message);
  });

  it('still accepts what is right', () => {
    expect(new Mmu({ guestMemory: 4096, seed: 0 }).map.ramBytes).toBe(4096);
    expect(new Mmu({ guestMemory: 1 << 20, seed: 0xffffffff, holes: [{ gpa: 0x1000, bytes: 0x1000 }, { gpa: 0x2000, bytes: 0x1000 }] }).map.ramBytes).toBe(1 << 20);
  });
});

describe('what if guest-physical memory is accessed with bad arguments?', () => {
  const mmu = new Mmu({ guestMemory: 1 << 20 });
  it.each([
    ['writePhys size 3', () => mmu.writePhys(0x1000, 3, 0x11223344), /writePhys: size 3 is not 1, 2 or 4/],
    ['writePhys size 8', () => mmu.writePhys(0x1000, 8, 0), /size 8/],
    ['writePhys at a negative gpa', () => mmu.writePhys(-4, 4, 0), /writePhys: gpa -4/],
    ['readPhys at -4', () => mmu.readPhys(-4, 4), /readPhys: gpa -4/],
    ['readPhys at NaN', () => mmu.readPhys(NaN, 4), /readPhys: gpa NaN/],
    ['readPhys at 1.5', () => mmu.readPhys(1.5, 1), /readPhys: gpa 1.5/],
    ['readPhys size 3', () => mmu.readPhys(0, 3 as 4), /readPhys: size 3/],
    ['readPhys beyond MAXPHYADDR', () => mmu.readPhys(2 ** 36, 1), /below 2\^36/],
    ['readPhysBytes of a negative length', () => mmu.readPhysBytes(0, -1), /length -1/],
    ['writePhysBytes at a negative gpa', () => mmu.writePhysBytes(-4096, new Uint8Array(4)), /writePhysBytes: gpa -4096/],
  ])('%s', (_what, f, message) => {
    expect(f).toThrow(message);
  });

  it('leaves memory untouched by a refused write, and the next frame untouched by a write at the end of one', () => {
    mmu.writePhys(0x1ffc, 4, 0x44332211);
    mmu.writePhys(0x2000, 4, 0x55555555);
    expect(() => mmu.writePhys(0x1ffe, 3, 0xaabbcc)).toThrow(RangeError);
    expect(mmu.readPhys(0x1ffc, 4)).toBe(0x44332211);
    expect(mmu.readPhys(0x2000, 4)).toBe(0x55555555);
    mmu.writePhys(0x1ffe, 2, 0xbbcc);
    expect(mmu.readPhys(0x1ffc, 4)).toBe(0xbbcc2211);
    expect(mmu.readPhys(0x2000, 4)).toBe(0x55555555);
  });
});

describe('what if setPrivilege gets something that is not a CPL?', () => {
  const mmu = new Mmu({ guestMemory: 1 << 20 });
  it.each([['3'], [7], [-1], [3.5], [NaN]])('cpl %s', (cpl) => {
    expect(() => mmu.setPrivilege(cpl as number, false)).toThrow(/setPrivilege: cpl .* is not 0, 1, 2 or 3/);
    expect(mmu.cpl).toBe(0);
  });
  it('ac that is not a boolean', () => {
    expect(() => mmu.setPrivilege(3, 1 as unknown as boolean)).toThrow(/setPrivilege: ac must be a boolean/);
    expect(mmu.cpl).toBe(0);
  });
});
