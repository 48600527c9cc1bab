/**
 * QEMU's fw_cfg device, traditional interface (ports 0x510/0x511): the
 * signature, the feature bitmap, RAM size and CPU counts, as a test kernel
 * written for QEMU reads them; offsets reset on select; reads past an
 * item's end and of unknown keys give 0; data writes are ignored.
 */
import { describe, expect, it } from 'vitest';
import { IoBus } from '../../src/io/bus.js';
import { FwCfg, FW_CFG_FILE_DIR, FW_CFG_ID, FW_CFG_MAX_CPUS, FW_CFG_NB_CPUS, FW_CFG_NOGRAPHIC, FW_CFG_RAM_SIZE, FW_CFG_SIGNATURE } from '../../src/devices/fw-cfg.js';
import { Machine } from '../../src/machine/machine.js';

function read(bus: IoBus, key: number, n: number): number[] {
  bus.out16(0x510, key);
  return Array.from({ length: n }, () => bus.in8(0x511));
}

describe('fw_cfg', () => {
  const bus = new IoBus();
  new FwCfg(bus, { ramBytes: 6 * 2 ** 30 + 4096 });

  it('does key 0 read "QEMU", then zeros past its end?', () => {
    expect(String.fromCharCode(...read(bus, FW_CFG_SIGNATURE, 4))).toBe('QEMU');
    expect(read(bus, FW_CFG_SIGNATURE, 6).slice(4)).toEqual([0, 0]);
  });

  it('does the feature bitmap say traditional interface only (no DMA)?', () => {
    expect(read(bus, FW_CFG_ID, 4)).toEqual([1, 0, 0, 0]);
  });

  it('is RAM size a 64-bit little-endian count of bytes, above 4 GiB too?', () => {
    expect(read(bus, FW_CFG_RAM_SIZE, 8)).toEqual([0x00, 0x10, 0x00, 0x80, 0x01, 0, 0, 0]);
  });

  it('are the CPU counts 1, no-graphics 1, and the file directory empty (a big-endian count of 0)?', () => {
    expect(read(bus, FW_CFG_NB_CPUS, 2)).toEqual([1, 0]);
    expect(read(bus, FW_CFG_MAX_CPUS, 2)).toEqual([1, 0]);
    expect(read(bus, FW_CFG_NOGRAPHIC, 2)).toEqual([1, 0]);
    expect(read(bus, FW_CFG_FILE_DIR, 4)).toEqual([0, 0, 0, 0]);
  });

  it('does selecting again restart at offset 0, and an 8-bit select or a wide read behave as on QEMU\'s PC?', () => {
    bus.out16(0x510, FW_CFG_SIGNATURE);
    expect(bus.in8(0x511)).toBe(0x51); // 'Q'
    bus.out16(0x510, FW_CFG_SIGNATURE);
    expect(bus.in8(0x511)).toBe(0x51);
    bus.out8(0x510, FW_CFG_SIGNATURE);
    expect(bus.in16(0x510)).toBe(0x4551); // 'Q', 'E': both ports read data
  });

  it('does an unknown key read zeros, and a write to the data port change nothing?', () => {
    expect(read(bus, 0x1234, 3)).toEqual([0, 0, 0]);
    bus.out16(0x510, FW_CFG_SIGNATURE);
    bus.out8(0x511, 0x41);
    expect(String.fromCharCode(...Array.from({ length: 4 }, () => bus.in8(0x511)))).toBe('QEMU');
  });

  it('does a machine have it, with its RAM size (the PC hole not counted, as QEMU\'s -m)?', () => {
    const m = new Machine({ mode: 'shadow', memory: 32 << 20 });
    expect(read(m.io, FW_CFG_RAM_SIZE, 8)).toEqual([0, 0, 0, 2, 0, 0, 0, 0]);
    expect(m.io.ownerOf(0x510)).toBe('fw_cfg');
    expect(m.io.in8(0x514)).toBe(0xff); // no DMA interface
  });
});
