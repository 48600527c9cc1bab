/**
 * QEMU's firmware configuration device (fw_cfg), its traditional I/O-port
 * interface as on QEMU's PC: test kernels written for QEMU read their RAM
 * size and CPU count from it.
 *
 * Ports (QEMU's docs/specs/fw_cfg.rst, "Register Locations", x86):
 * - 0x510, the selector: a 16-bit write selects an item and sets the data
 *   offset to 0 (an 8-bit write selects the item of that byte's value).
 * - 0x511, the data register: each byte read returns the selected item's
 *   byte at the offset and advances it; past the item's end, and for a key
 *   that names no item, reads return 0. Writes are ignored, as since
 *   QEMU 2.4 (items are read-only here). As in QEMU's PC, where both ports
 *   are one 2-byte region, an 8-bit read of 0x510 also reads data.
 *
 * Items: the signature "QEMU" (key 0x00), the feature bitmap (0x01: bit 0,
 * the traditional interface; no DMA interface, so bit 1 is clear and port
 * 0x514 is not decoded), RAM size (0x03, 64-bit little-endian: the
 * machine's RAM, as QEMU's `-m`), no graphics (0x04, 16-bit: 1, vmmu has
 * no display), the boot CPU count (0x05) and the maximum CPU count (0x0f,
 * both 16-bit: 1), and an empty file directory (0x19: a 32-bit big-endian
 * count of 0). Multi-byte integers of the well-known items are
 * little-endian; the file directory is big-endian, as the spec says.
 */
import createDebug from 'debug';
import type { IoBus } from '../io/bus.js';

const log = createDebug('vmmu:fw-cfg');

export const FW_CFG_PORT = 0x510;

export const FW_CFG_SIGNATURE = 0x00;
export const FW_CFG_ID = 0x01;
export const FW_CFG_RAM_SIZE = 0x03;
export const FW_CFG_NOGRAPHIC = 0x04;
export const FW_CFG_NB_CPUS = 0x05;
export const FW_CFG_MAX_CPUS = 0x0f;
export const FW_CFG_FILE_DIR = 0x19;

export interface FwCfgOptions {
  /** bytes of guest RAM (FW_CFG_RAM_SIZE) */
  ramBytes: number;
  /** CPUs (FW_CFG_NB_CPUS, FW_CFG_MAX_CPUS; default 1) */
  cpus?: number;
}

function le(value: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = value;
  for (let i = 0; i < bytes; i++) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

export class FwCfg {
  private readonly items = new Map<number, Uint8Array>();
  /** the selected key, and the data offset within its item */
  private key = 0;
  private offset = 0;

  constructor(bus: IoBus, o: FwCfgOptions) {
    const cpus = o.cpus ?? 1;
    if (!Number.isSafeInteger(o.ramBytes) || o.ramBytes < 0) throw new RangeError(`fw_cfg RAM size ${o.ramBytes} is not a whole number of bytes`);
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 0xffff) throw new RangeError(`fw_cfg CPU count ${cpus} is outside 1..65535`);
    this.items.set(FW_CFG_SIGNATURE, new TextEncoder().encode('QEMU'));
    this.items.set(FW_CFG_ID, le(1, 4));
    this.items.set(FW_CFG_RAM_SIZE, le(o.ramBytes, 8));
    this.items.set(FW_CFG_NOGRAPHIC, le(1, 2));
    this.items.set(FW_CFG_NB_CPUS, le(cpus, 2));
    this.items.set(FW_CFG_MAX_CPUS, le(cpus, 2));
    this.items.set(FW_CFG_FILE_DIR, new Uint8Array(4)); // count 0, big-endian
    bus.registerPorts(FW_CFG_PORT, 2, {
      in8: () => this.readData(),
      out8: (port, v) => {
        if (port === FW_CFG_PORT) this.select(v);
        // a data write: ignored
      },
      out16: (port, v) => {
        if (port === FW_CFG_PORT) this.select(v);
      },
    }, 'fw_cfg');
  }

  private select(key: number): void {
    this.key = key & 0xffff;
    this.offset = 0;
    log('select 0x%s', this.key.toString(16));
  }

  private readData(): number {
    const item = this.items.get(this.key);
    if (item === undefined || this.offset >= item.length) return 0;
    return item[this.offset++]!;
  }

  /** The selection is the only state; a reset selects the signature. */
  reset(): void {
    this.key = 0;
    this.offset = 0;
  }

  save(): object {
    return { key: this.key, offset: this.offset };
  }

  restore(state: object): void {
    const s = state as { key: number; offset: number };
    this.key = s.key;
    this.offset = s.offset;
  }
}
