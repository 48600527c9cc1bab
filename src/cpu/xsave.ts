/**
 * XSAVE and XRSTOR (NP 0F AE /4 and /5; XSAVE64 and XRSTOR64 with REX.W in
 * 64-bit mode), with the xsave feature: the standard (non-compacted) format
 * of the XSAVE area (SDM vol. 1, 13.4), for the state components this CPU
 * has: x87 (0) and SSE (1) in the legacy region, as FXSAVE lays them out
 * (the FPU's saveLegacy and restoreLegacy), and PKRU (9) at 0A80H (CPUID
 * leaf 0DH, system.ts). The XSAVE header is at 512: XSTATE_BV (bytes 7:0),
 * XCOMP_BV (15:8), then reserved bytes.
 *
 * Both decoders call these with the FPU's host set for the operand
 * (ops/fpu.ts: the core, with seg:off; long.ts: its 64-bit linear host), so
 * the same code serves every mode and engine (the block, JIT and wasm
 * engines call the interpreter's handler for group 15).
 */
import { CR0_TS, CR4_OSXSAVE } from './constants.js';
import type { Cpu } from './cpu.js';
import type { FpuHost } from './fpu-host.js';
import { LEGACY_MXCSR, LEGACY_X87, LEGACY_XMM } from './fpu.js';
import { XCR0_PKRU, XCR0_SSE, XCR0_X87 } from './features.js';

/** the XSAVE header's offset in the area (SDM vol. 1, 13.4.2) */
export const XSAVE_HEADER = 512;
/** PKRU's offset in the standard format (CPUID.(0DH,9):EBX), and its size, 8 */
export const XSAVE_PKRU_OFFSET = 0xa80;
/** AVX (XCR0 bit 2): never supported here, named for XSETBV's rule and the MXCSR rule */
const XCR0_AVX = 4;

/**
 * The size of a standard-format XSAVE area for the components in `mask`
 * (CPUID.(0DH,0):EBX and ECX): the legacy region and the header (576), or up
 * to the end of PKRU (0A88H) when it is in the mask.
 */
export function xsaveAreaSize(mask: number): number {
  return mask & XCR0_PKRU ? XSAVE_PKRU_OFFSET + 8 : XSAVE_HEADER + 64;
}

/**
 * The faults of XSAVE and XRSTOR before any memory access, in the SDM's
 * order (vol. 1, 13.7 and 13.8): #UD while CR4.OSXSAVE = 0 (always without the
 * feature), #NM with CR0.TS = 1 (CR0.EM does not matter), #GP(0) for an area
 * whose linear address `lin` is not 64-byte aligned. The callers raise #UD
 * for LOCK, for the 66, F2 and F3 prefixes and for a register operand.
 */
function checks(c: Cpu, lin: number): void {
  if (!(c.cr4 & CR4_OSXSAVE)) c.ud();
  if (c.cr0 & CR0_TS) c.trap(7);
  if (lin & 63) c.gp(0);
}

/**
 * XSAVE (SDM vol. 1, 13.7; vol. 2C, XSAVE): saves the components of
 * RFBM = EDX:EAX & XCR0 and sets their XSTATE_BV bits, leaving the others'
 * bits (read from memory and written back) and the rest of the header alone.
 * XSTATE_BV[i] is XINUSE[i], which this CPU keeps at 1 for every component
 * (vol. 1, 13.6 allows 1 for a component in its initial configuration), so
 * a requested component is always written. The legacy region: the x87
 * state with RFBM[0], the XMM registers with RFBM[1], MXCSR and MXCSR_MASK
 * with RFBM[1] or RFBM[2] (vol. 1, 13.7); bytes 511:416 are not written.
 * `mode` is FXSAVE's: 0 outside 64-bit mode, 1 in it, 2 for XSAVE64.
 */
export function xsave(c: Cpu, host: FpuHost, seg: number, off: number, lin: number, mode: number): void {
  checks(c, lin);
  const rfbm = c.reg32[0]! & c.xcr0;
  off >>>= 0;
  host.probe(seg, off, xsaveAreaSize(rfbm), true);
  const bvAt = (off + XSAVE_HEADER) >>> 0;
  const bv = host.read32(seg, bvAt);
  const parts = (rfbm & XCR0_X87 ? LEGACY_X87 : 0) | (rfbm & XCR0_SSE ? LEGACY_XMM : 0) | (rfbm & (XCR0_SSE | XCR0_AVX) ? LEGACY_MXCSR : 0);
  if (parts !== 0) c.fpu.saveLegacy(seg, off, mode, parts);
  if (rfbm & XCR0_PKRU) {
    host.write32(seg, (off + XSAVE_PKRU_OFFSET) >>> 0, c.mmu.pkru);
    host.write32(seg, (off + XSAVE_PKRU_OFFSET + 4) >>> 0, 0);
  }
  host.write32(seg, bvAt, bv | rfbm); // bits 63:32 of XSTATE_BV: no component there, left as they are
}

/**
 * XRSTOR, the standard form (SDM vol. 1, 13.8 and 13.8.1; vol. 2C, XRSTOR):
 * #GP(0), with nothing changed, if XSTATE_BV sets a bit XCR0 does not, or if
 * bytes 23:8 of the header (XCOMP_BV and the 8 bytes after it) are not 0 (a
 * set XCOMP_BV[63] asks for the compacted form, which this CPU does not
 * have: CPUID.(0DH,1):EAX[1] = 0). Then each component of RFBM is loaded
 * from the area if its XSTATE_BV bit is 1, else put in its initial
 * configuration (x87: as FNINIT with the registers 0; SSE: the XMM
 * registers 0; PKRU: 0). MXCSR is loaded from the area whenever RFBM[1] or
 * RFBM[2] is 1, whatever XSTATE_BV says (the standard form's rule; only the
 * compacted form sets it to 1F80H), #GP(0) for a reserved bit. PKRU goes to
 * the MMU as WRPKRU's does, which checks later accesses against it.
 */
export function xrstor(c: Cpu, host: FpuHost, seg: number, off: number, lin: number, mode: number): void {
  checks(c, lin);
  const rfbm = c.reg32[0]! & c.xcr0;
  off >>>= 0;
  const at = (n: number): number => (off + n) >>> 0;
  host.probe(seg, off, XSAVE_HEADER + 64, false);
  const bv = host.read32(seg, at(XSAVE_HEADER));
  const bvHi = host.read32(seg, at(XSAVE_HEADER + 4));
  let rsvd = 0;
  for (let n = 8; n < 24; n += 4) rsvd |= host.read32(seg, at(XSAVE_HEADER + n));
  if (bvHi !== 0 || bv & ~c.xcr0 || rsvd !== 0) c.gp(0);
  let pkru = 0;
  if (rfbm & bv & XCR0_PKRU) {
    host.probe(seg, at(XSAVE_PKRU_OFFSET), 8, false);
    pkru = host.read32(seg, at(XSAVE_PKRU_OFFSET));
  }
  const load = (rfbm & bv & XCR0_X87 ? LEGACY_X87 : 0) | (rfbm & bv & XCR0_SSE ? LEGACY_XMM : 0) | (rfbm & (XCR0_SSE | XCR0_AVX) ? LEGACY_MXCSR : 0);
  const init = (rfbm & ~bv & XCR0_X87 ? LEGACY_X87 : 0) | (rfbm & ~bv & XCR0_SSE ? LEGACY_XMM : 0);
  if ((load | init) !== 0) c.fpu.restoreLegacy(seg, off, mode, load, init); // its reads, and the MXCSR check, before any change
  if (rfbm & XCR0_PKRU) {
    c.endFetchRun(); // as WRPKRU: an observer sees this instruction's fetch before the register change
    c.mmu.writePkru(pkru);
  }
}
