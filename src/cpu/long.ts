/**
 * 64-bit mode (IA-32e mode with CS.L = 1): the interpreter of the integer
 * core, entered only from Cpu.runLong while `Cpu.long64` holds, so the
 * 32-bit paths (interpreter, blocks, jit, wasm) stay as they are.
 *
 * Representation (docs/cpu.md, "x86-64"): every 64-bit value is a pair of
 * int32 halves. RAX..RDI keep their low halves in `reg32` (indices 0..7),
 * R8..R15 theirs in `regX`; the sixteen high halves are in `regHi`. RIP is
 * (`eip`, `ripHi`). Functions that produce a 64-bit value return the low
 * half and leave the high half in the module variable `V`.
 *
 * Decoding (SDM vol. 2A, 2.2.1): the legacy prefixes, then at most one REX
 * (40-4F; a REX not right before the opcode is ignored), operand size 32
 * (64 with REX.W, 16 with 66), address size 64 (32 with 67), ModR/M and SIB
 * with REX.R/X/B, RIP-relative addressing (mod 00, r/m 101), byte registers
 * SPL/BPL/SIL/DIL with any REX. Segment bases are 0 except FS and GS
 * (SDM vol. 3A, 3.2.4); no limit or type checks. Anything not implemented
 * here, and every opcode 64-bit mode removes, raises #UD.
 *
 * Exceptions and interrupts while IA-32e mode is active (64-bit or
 * compatibility mode) are delivered by `deliverLong` through 16-byte IDT
 * gates (SDM vol. 3A, 6.14), and IRETQ returns from them.
 */
import { ACC_FETCH, ACC_RMW_R, ACC_RMW_W, ACC_SIZE_SHIFT, ACC_WRITE, T_FAULT, T_MMIO } from '../mmu/index.js';
import {
  AR_CODE, AR_DB, AR_P, AR_S, CS, DS, ES, LDTR, F_AC, F_DF, F_IF, F_IOPL, F_NT, F_RF, F_TF, F_VM, FS, GS, SS, TR, V_DE, V_NP, V_SS, V_TS,
} from './constants.js';
import type { Cpu } from './cpu.js';
import { alu, divu64, DIVREM, mulFlags, MULHI, muls32, mulu32, neg, shift, shiftDouble, inc, dec } from './alu.js';
import {
  Alu64, alu64, bsf64, bswap64, bt64, btDisp64, div64, idiv64, imul64, inc64, dec64, mul64, neg64, shift64, shld64, shrd64, ea64,
} from './alu64.js';
import { OPCODES } from './execute.js';
import { cpuid, larLsl, rdmsr, rdpidCheck, rdpkru, rdtscp, readDr, verify, writeCr, writeDr, wrmsr, wrpkru, xgetbv, xsetbv } from './system.js';
import { xrstor, xsave } from './xsave.js';
import { popfMask } from './ops/system.js';
import { ioRead, ioWrite } from './ops/string-io.js';
import { rdtsc } from './system.js';
import { checkDirectCode, loadCs, loadSegment, nullInaccessibleSegments } from './segments.js';
import { CR4_LA57, CR4_PCIDE } from '../mmu/index.js';
import type { FpuHost } from './fpu-host.js';
import { SSE_MMX_FORMS, sseExec64, type SseLong } from './ops/sse.js';
import { CR0_EM, CR0_TS, CR4_OSFXSR } from './constants.js';
import { DESC, dplOf, markAccessed, readDescriptor, readSup64, writeSup64 } from './segments.js';

/** The high half of the last 64-bit value a function here returned. */
let V = 0;
const A = new Alu64();

/** CS.L in the cached access rights (descriptor bit 53, SDM vol. 3A, 3.4.5). */
export const AR_L = 1 << 21;

// ---- per-instruction decode state ----
let rex = 0;
/** operand size in bytes: 1, 2, 4 or 8 (set per opcode) */
let osz = 4;
let o16 = false;
let a64 = true;
/** FS or GS override, else -1 (the other overrides are no-ops) */
let seg = -1;
let rep = 0;
let isMem = false;
/** the ModR/M byte as fetched */
let mByte = 0;
/** LOCK (F0) came before the opcode */
let lock = false;
/** ModR/M reg field with REX.R; r/m register with REX.B */
let mReg = 0;
let mRm = 0;
/** the memory operand's linear address */
let eaLo = 0;
let eaHi = 0;
/** the memory operand's base is RSP or RBP (a non-canonical address is #SS: SDM vol. 3A, 6.15 "#SS") */
let eaStack = false;

/** The opcodes 64-bit mode removes (OpcodeEntry.long 'invalid'): #UD. */
let INVALID: Uint8Array | null = null;
function invalidOpcodes(): Uint8Array {
  // built on first use: execute.ts and this module import each other through cpu.ts
  const t = new Uint8Array(256);
  for (const e of OPCODES) if (e.map === 'one' && e.long === 'invalid') for (const op of e.opcodes) t[op] = 1;
  return (INVALID = t);
}

/**
 * The shift that keeps the sign-extended linear-address bits of a high half: 16 for 48-bit
 * addresses (bits 63:47 equal), 7 with 5-level paging (CR4.LA57: bits 63:56 equal; SDM vol. 3A,
 * 3.3.7.1, 4.5). LA57 cannot change while IA-32e mode is active, so it is read once per
 * instruction (execute64) and per delivery (deliverLong), the two ways into this module.
 */
let vaShift = 16;
const canonical = (hi: number): boolean => (hi << vaShift) >> vaShift === hi;

// =====================================================================
// Registers
// =====================================================================

export function regLo(c: Cpu, r: number): number {
  return r < 8 ? c.reg32[r]! : c.regX[r - 8]!;
}

function setLo(c: Cpu, r: number, v: number): void {
  if (r < 8) c.reg32[r] = v;
  else c.regX[r - 8] = v;
}

/** Register r at `size` bytes (1 and 2: zero-extended; 8: high half in V). */
function getReg(c: Cpu, r: number, size: number): number {
  switch (size) {
    case 1: return rex === 0 && r >= 4 && r < 8 ? (c.reg32[r - 4]! >>> 8) & 0xff : regLo(c, r) & 0xff;
    case 2: return regLo(c, r) & 0xffff;
    case 4: return regLo(c, r);
    default: V = c.regHi[r]!; return regLo(c, r);
  }
}

/** Writes register r at `size` bytes; a 32-bit write zeroes the high half (SDM vol. 1, 3.4.1.1), 8- and 16-bit writes keep the rest. */
function setReg(c: Cpu, r: number, size: number, lo: number, hi: number): void {
  switch (size) {
    case 1:
      if (rex === 0 && r >= 4 && r < 8) c.reg32[r - 4] = (c.reg32[r - 4]! & ~0xff00) | ((lo & 0xff) << 8);
      else setLo(c, r, (regLo(c, r) & ~0xff) | (lo & 0xff));
      return;
    case 2: setLo(c, r, (regLo(c, r) & ~0xffff) | (lo & 0xffff)); return;
    case 4: setLo(c, r, lo); c.regHi[r] = 0; return;
    default: setLo(c, r, lo); c.regHi[r] = hi;
  }
}

// =====================================================================
// Memory (linear addresses as pairs)
// =====================================================================

function rd(c: Cpu, lo: number, hi: number, size: number): number {
  const m = c.mmu;
  let v: number;
  switch (size) {
    case 1: v = m.read8(lo, hi); break;
    case 2: v = m.read16(lo, hi); break;
    case 4: v = m.read32(lo, hi); break;
    default:
      // one access of 8 bytes within a page (Mmu.read64), two across one
      v = m.read64(lo, hi);
      V = m.readHi;
  }
  if (m.faultVector !== 0) throw c.memFault();
  return v;
}

/**
 * The instruction being executed read its destination with rdw: its write
 * (wr) is that read-modify-write's write (ACC_RMW_W). Cleared by that
 * write, by execute64 and by deliverLong.
 */
let rmwRead = false;

/**
 * The read of a read-modify-write: translated for a write (SDM vol. 3A,
 * 4.7: the fault of a not-present page has W/R = 1), as the 32-bit CPU's
 * rdw8/16/32 do, and marked ACC_RMW_R so that the MMU counts the
 * instruction once (docs/cpu.md, "Faults"). 8 bytes within a page are one
 * access (Mmu.readAcc64); across a page, the high dword is checked as a
 * write again only where it reaches a page the low dword's check did not
 * cover (low dword at page offset 0xff9 to 0xffc), as CMPXCHG8B does in
 * the 32-bit CPU.
 */
function rdw(c: Cpu, lo: number, hi: number, size: number): number {
  const m = c.mmu;
  const acc = m.ctxAcc | ACC_WRITE | ACC_RMW_R;
  rmwRead = true;
  let v: number;
  if (size === 8) {
    const o = lo & 0xfff;
    v = m.readAcc64(lo, hi, acc, o >= 0xff9 && o <= 0xffc ? acc : m.ctxAcc);
    V = m.readHi;
  } else {
    v = m.readAcc(lo, hi, size as 1 | 2 | 4, acc);
  }
  if (m.faultVector !== 0) throw c.memFault();
  return v;
}

function wr(c: Cpu, lo: number, hi: number, size: number, v: number, vh: number): void {
  const m = c.mmu;
  if (rmwRead) {
    // a read-modify-write's write (its one write): rdw checked every page it touches as a write already
    rmwRead = false;
    const acc = m.ctxAcc | ACC_RMW_W;
    if (size === 8 && (lo & 0xfff) <= 0xff8) {
      // within a page: one write of 8 bytes (one notification of a watcher: Mmu.write64)
      m.writeAcc64(lo, hi, v, vh, acc);
    } else if (size === 8) {
      m.writeAcc(lo, hi, 4, v, acc);
      if (m.faultVector !== 0) throw c.memFault();
      m.writeAcc((lo + 4) | 0, (lo >>> 0) > 0xfffffffb ? (hi + 1) | 0 : hi, 4, vh, acc);
    } else {
      m.writeAcc(lo, hi, size as 1 | 2 | 4, v, acc);
    }
    if (m.faultVector !== 0) throw c.memFault();
    return;
  }
  switch (size) {
    case 1: m.write8(lo, hi, v); break;
    case 2: m.write16(lo, hi, v); break;
    case 4: m.write32(lo, hi, v); break;
    default: {
      // Within a page: one access of 8 bytes, as the processor makes it (a store to a write-protected guest table is one exit under shadow).
      if ((lo & 0xfff) <= 0xff8) {
        m.write64(lo, hi, v, vh);
        break;
      }
      const l2 = (lo + 4) | 0;
      const h2 = (lo >>> 0) > 0xfffffffb ? (hi + 1) | 0 : hi;
      // Across a page: translate the second half first, so that a fault there writes nothing.
      if (m.translate(l2, h2, m.ctxAcc | ACC_WRITE) === T_FAULT) throw c.memFault();
      m.write32(lo, hi, v);
      if (m.faultVector !== 0) throw c.memFault();
      m.write32(l2, h2, vh);
    }
  }
  if (m.faultVector !== 0) throw c.memFault();
}

/** A memory operand's address check: #SS(0) for a non-canonical stack reference (the MMU gives #GP(0) for the others). */
function eaCheck(c: Cpu): void {
  if (eaStack && !canonical(eaHi)) c.fault(V_SS, 0);
}

// =====================================================================
// Instruction fetch: the Cpu's fetch cache (fetchPage, fetchHpa), tagged with the high half (fetchHi) too
// =====================================================================

function fetch8(c: Cpu): number {
  const lo = c.eip;
  if ((lo & 0xfffff000) === c.fetchPage && c.ripHi === c.fetchHi) {
    c.eip = (lo + 1) | 0;
    if (c.eip === 0) c.ripHi = (c.ripHi + 1) | 0;
    return c.mem8[c.fetchHpa + (lo & 0xfff)]!;
  }
  const hi = c.ripHi;
  const m = c.mmu;
  if (m.measure) {
    // observed: one fetch access per instruction and page (Cpu.fetchRun64), not one per byte
    const v = c.fetchRun64(lo, hi);
    c.eip = (lo + 1) | 0;
    if (c.eip === 0) c.ripHi = (c.ripHi + 1) | 0;
    return v;
  }
  const h = m.translate(lo, hi, m.ctxAcc | ACC_FETCH | (1 << ACC_SIZE_SHIFT));
  let b: number;
  if (h === T_FAULT) throw c.memFault();
  if (h === T_MMIO) b = m.readPhys(m.lastGpa, 1);
  else {
    b = m.u8[h]!;
    if (!m.measure) {
      c.fetchPage = lo & 0xfffff000;
      c.fetchHpa = h - (lo & 0xfff);
      c.fetchHi = hi;
    }
  }
  c.eip = (lo + 1) | 0;
  if (c.eip === 0) c.ripHi = (c.ripHi + 1) | 0;
  return b;
}

function fetch16(c: Cpu): number {
  return fetch8(c) | (fetch8(c) << 8);
}

function fetch32(c: Cpu): number {
  return fetch16(c) | (fetch16(c) << 16);
}

/** An immediate of `size` bytes (8: a sign-extended imm32, as every form but MOV r64, imm64). */
function fetchImm(c: Cpu, size: number): number {
  switch (size) {
    case 1: return fetch8(c);
    case 2: return fetch16(c);
    case 4: return fetch32(c);
    default: { const v = fetch32(c); V = v >> 31; return v; }
  }
}

/** A sign-extended imm8 at operand size `size` (masked for 1 and 2; V set for 8). */
function fetchSimm8(c: Cpu, size: number): number {
  const v = (fetch8(c) << 24) >> 24;
  V = v >> 31;
  return size === 2 ? v & 0xffff : size === 1 ? v & 0xff : v;
}

// =====================================================================
// ModR/M
// =====================================================================

/**
 * Reads ModR/M, SIB and displacement; for a memory operand computes its
 * linear address. `immLen`: the bytes of immediate after them, so that a
 * RIP-relative address is relative to the next instruction (SDM vol. 2A,
 * 2.2.1.6).
 */
function modrm(c: Cpu, immLen: number): void {
  const m = fetch8(c);
  mByte = m;
  const mod = m >>> 6;
  mReg = ((m >>> 3) & 7) | ((rex & 4) << 1);
  const rm = m & 7;
  if (mod === 3) {
    isMem = false;
    mRm = rm | ((rex & 1) << 3);
    return;
  }
  isMem = true;
  eaStack = false;
  let bLo = 0, bHi = 0, iLo = 0, iHi = 0, scale = 0, disp = 0;
  let ripRel = false;
  if (rm === 4) {
    const sib = fetch8(c);
    scale = sib >>> 6;
    const index = ((sib >>> 3) & 7) | ((rex & 2) << 2);
    if (index !== 4) { iLo = regLo(c, index); iHi = c.regHi[index]!; }
    const base = (sib & 7) | ((rex & 1) << 3);
    if ((sib & 7) === 5 && mod === 0) disp = fetch32(c);
    else { bLo = regLo(c, base); bHi = c.regHi[base]!; eaStack = (base & 7) === 4 || (base & 7) === 5; }
  } else if (rm === 5 && mod === 0) {
    disp = fetch32(c);
    ripRel = true;
  } else {
    const base = rm | ((rex & 1) << 3);
    bLo = regLo(c, base);
    bHi = c.regHi[base]!;
    eaStack = (base & 7) === 5;
  }
  if (mod === 1) disp = (fetch8(c) << 24) >> 24;
  else if (mod === 2) disp = fetch32(c);
  if (ripRel) {
    // RIP of the next instruction: here plus the immediate still to come
    const s = (c.eip >>> 0) + immLen;
    bLo = s | 0;
    bHi = (c.ripHi + (s > 0xffffffff ? 1 : 0)) | 0;
  }
  ea64(A, bLo, bHi, iLo, iHi, scale, disp);
  eaLo = A.lo;
  eaHi = a64 ? A.hi : 0;
  if (seg >= 0) {
    // FS and GS keep a base in 64-bit mode (the MSRs FS.base, GS.base)
    const s = (eaLo >>> 0) + (c.segBase[seg]! >>> 0);
    eaLo = s | 0;
    eaHi = (eaHi + (seg === FS ? c.fsBaseHi : c.gsBaseHi) + (s > 0xffffffff ? 1 : 0)) | 0;
  }
  if (!noAccess) eaCheck(c);
}

/** modrm for an operand that is never accessed (LEA, the NOP and hint forms): no #SS for a non-canonical stack address */
function modrmNoAccess(c: Cpu): void {
  noAccess = true;
  try {
    modrm(c, 0);
  } finally {
    noAccess = false;
  }
}
let noAccess = false;

function readE(c: Cpu, size: number): number {
  return isMem ? rd(c, eaLo, eaHi, size) : getReg(c, mRm, size);
}

/** readE for a read-modify-write (rdw). */
function readEW(c: Cpu, size: number): number {
  return isMem ? rdw(c, eaLo, eaHi, size) : getReg(c, mRm, size);
}

function writeE(c: Cpu, size: number, lo: number, hi: number): void {
  if (isMem) wr(c, eaLo, eaHi, size, lo, hi);
  else setReg(c, mRm, size, lo, hi);
}

// =====================================================================
// Stack (RSP, 64-bit; 16-bit with 66)
// =====================================================================

function push(c: Cpu, size: number, lo: number, hi: number): void {
  const s = (c.reg32[4]! >>> 0) - size;
  const nLo = s | 0;
  const nHi = (c.regHi[4]! + (s < 0 ? -1 : 0)) | 0;
  if (!canonical(nHi)) c.fault(V_SS, 0);
  wr(c, nLo, nHi, size, lo, hi);
  c.reg32[4] = nLo;
  c.regHi[4] = nHi;
}

function pop(c: Cpu, size: number): number {
  const lo = c.reg32[4]!, hi = c.regHi[4]!;
  if (!canonical(hi)) c.fault(V_SS, 0);
  const v = rd(c, lo, hi, size);
  const vh = V;
  const s = (lo >>> 0) + size;
  c.reg32[4] = s | 0;
  c.regHi[4] = (hi + (s > 0xffffffff ? 1 : 0)) | 0;
  V = size === 8 ? vh : 0;
  return v;
}

// =====================================================================
// Branches
// =====================================================================

function jumpTo(c: Cpu, lo: number, hi: number): void {
  if (!canonical(hi)) c.gp(0);
  c.noteBranch(lo);
  c.eip = lo;
  c.ripHi = hi;
}

function jumpRel(c: Cpu, disp: number): void {
  const s = (c.eip >>> 0) + disp;
  jumpTo(c, s | 0, (c.ripHi + Math.floor(s / 4294967296)) | 0);
}

// =====================================================================
// Arithmetic at an operand size
// =====================================================================

function aluOp(c: Cpu, op: number, size: number, a: number, ah: number, b: number, bh: number): number {
  if (size === 8) {
    alu64(A, op, a, ah, b, bh, c.getCF());
    c.setArith(A.flags, A.mask);
    V = A.hi;
    return A.lo;
  }
  V = 0;
  return alu(c, op, a, b, size * 8);
}

function shiftOp(c: Cpu, op: number, size: number, a: number, ah: number, count: number): number {
  if (size === 8) {
    shift64(A, op, a, ah, count, c.getCF());
    c.setArith(A.flags, A.mask);
    V = A.hi;
    return A.lo;
  }
  V = 0;
  return shift(c, op, a, count, size * 8);
}

/** Operand size of the usual forms: 1 for the byte opcodes, else 2, 4 or 8. */
function vsize(op: number): number {
  return (op & 1) === 0 ? 1 : osz;
}

function group3(c: Cpu, size: number): void {
  const r = mReg & 7;
  switch (r) {
    case 0: case 1: { // TEST Ev, Iz
      const a = readE(c, size), ah = V;
      const b = size === 1 ? fetch8(c) : fetchImm(c, size), bh = V;
      aluOp(c, 4, size, a, ah, b, bh);
      return;
    }
    case 2: { // NOT
      const a = readEW(c, size), ah = V;
      writeE(c, size, ~a, ~ah);
      return;
    }
    case 3: { // NEG
      const a = readEW(c, size), ah = V;
      if (size === 8) { neg64(A, a, ah); c.setArith(A.flags, A.mask); writeE(c, 8, A.lo, A.hi); }
      else writeE(c, size, neg(c, a, size * 8), 0);
      return;
    }
  }
  const s = readE(c, size), sh = V;
  if (size === 8) {
    const aLo = c.reg32[0]!, aHi = c.regHi[0]!;
    if (r === 4 || r === 5) {
      if (r === 4) mul64(A, aLo, aHi, s, sh);
      else imul64(A, aLo, aHi, s, sh);
      c.setArith(A.flags, A.mask);
    } else {
      const ok = r === 6 ? div64(A, aLo, aHi, c.reg32[2]!, c.regHi[2]!, s, sh) : idiv64(A, aLo, aHi, c.reg32[2]!, c.regHi[2]!, s, sh);
      if (!ok) c.trap(V_DE);
    }
    c.reg32[0] = A.lo; c.regHi[0] = A.hi;
    c.reg32[2] = A.lo2; c.regHi[2] = A.hi2;
    return;
  }
  const R16 = c.reg16, R8 = c.reg8;
  switch (r) {
    case 4:
      if (size === 1) { const p = R8[0]! * s; R16[0] = p; mulFlags(c, p, 8, p > 0xff); }
      else if (size === 2) { const p = R16[0]! * s; R16[0] = p; R16[4] = p >>> 16; mulFlags(c, p, 16, p > 0xffff); }
      else { const lo = mulu32(c.reg32[0]!, s); setReg(c, 0, 4, lo, 0); setReg(c, 2, 4, MULHI, 0); mulFlags(c, lo, 32, MULHI !== 0); }
      return;
    case 5:
      if (size === 1) { const p = ((R8[0]! << 24) >> 24) * ((s << 24) >> 24); R16[0] = p; mulFlags(c, p, 8, p !== (p << 24) >> 24); }
      else if (size === 2) { const p = ((R16[0]! << 16) >> 16) * ((s << 16) >> 16); R16[0] = p; R16[4] = p >> 16; mulFlags(c, p, 16, p !== (p << 16) >> 16); }
      else { const lo = muls32(c.reg32[0]!, s); const hi = MULHI; setReg(c, 0, 4, lo, 0); setReg(c, 2, 4, hi, 0); mulFlags(c, lo, 32, hi !== lo >> 31); }
      return;
    case 6:
      if (s === 0) c.trap(V_DE);
      if (size === 1) { const n = R16[0]!; const q = Math.floor(n / s); if (q > 0xff) c.trap(V_DE); R8[0] = q; R8[1] = n % s; }
      else if (size === 2) { const n = ((R16[4]! << 16) | R16[0]!) >>> 0; const q = Math.floor(n / s); if (q > 0xffff) c.trap(V_DE); R16[0] = q; R16[4] = n % s; }
      else {
        const hi = c.reg32[2]!;
        if ((hi >>> 0) >= (s >>> 0)) c.trap(V_DE);
        const q = divu64(hi, c.reg32[0]!, s);
        setReg(c, 0, 4, q, 0); setReg(c, 2, 4, DIVREM, 0);
      }
      return;
    default: {
      // IDIV at 8, 16, 32 bits: through the 64-bit divide of the sign-extended dividend, whose range check is the narrower one here
      if (s === 0) c.trap(V_DE);
      if (size === 1) {
        const d = (s << 24) >> 24, n = (R16[0]! << 16) >> 16, q = Math.trunc(n / d);
        if (q > 127 || q < -128) c.trap(V_DE);
        R8[0] = q; R8[1] = n % d;
      } else if (size === 2) {
        const d = (s << 16) >> 16, n = (R16[4]! << 16) | R16[0]!, q = Math.trunc(n / d);
        if (q > 32767 || q < -32768) c.trap(V_DE);
        R16[0] = q; R16[4] = n % d;
      } else {
        const nLo = c.reg32[0]!, nHi = c.reg32[2]!;
        // the 64-bit dividend EDX:EAX as RDX:RAX = sign:EDX:EAX
        if (!idiv64(A, nLo, nHi, nHi >> 31, nHi >> 31, s, s >> 31) || A.hi !== A.lo >> 31) c.trap(V_DE);
        setReg(c, 0, 4, A.lo, 0); setReg(c, 2, 4, A.lo2, 0);
      }
    }
  }
}

/** IMUL r, r/m (, imm): the signed product truncated to the operand size; CF = OF = it did not fit. */
function imul2(c: Cpu, size: number, a: number, ah: number, b: number, bh: number): void {
  if (size === 8) {
    imul64(A, a, ah, b, bh);
    c.setArith(A.flags, A.mask);
    setReg(c, mReg, 8, A.lo, A.hi);
  } else if (size === 4) {
    const lo = muls32(a, b);
    mulFlags(c, lo, 32, MULHI !== lo >> 31);
    setReg(c, mReg, 4, lo, 0);
  } else {
    const p = ((a << 16) >> 16) * ((b << 16) >> 16);
    mulFlags(c, p, 16, p !== (p << 16) >> 16);
    setReg(c, mReg, 2, p, 0);
  }
}

// =====================================================================
// The instruction
// =====================================================================

/** Executes one instruction at RIP in 64-bit mode. */
export function execute64(c: Cpu): void {
  vaShift = c.cr4 & CR4_LA57 ? 7 : 16;
  rmwRead = false;
  rex = 0;
  o16 = false;
  a64 = true;
  seg = -1;
  rep = 0;
  lock = false;
  let op = fetch8(c);
  for (let n = 0; ; n++) {
    if (n > 14) c.gp(0);
    if ((op & 0xf0) === 0x40) {
      rex = op;
    } else {
      switch (op) {
        case 0x66: o16 = true; break;
        case 0x67: a64 = false; break;
        case 0x26: case 0x2e: case 0x36: case 0x3e: break; // ignored in 64-bit mode: an FS or GS override before them stays (SDM vol. 3A, 3.4.4)
        case 0x64: seg = FS; break;
        case 0x65: seg = GS; break;
        case 0xf0: lock = true; break;
        case 0xf2: rep = 1; break;
        case 0xf3: rep = 2; break;
        default: {
          osz = rex & 8 ? 8 : o16 ? 2 : 4;
          one(c, op);
          return;
        }
      }
      rex = 0; // a REX followed by a legacy prefix is ignored (SDM vol. 2A, 2.2.1)
    }
    op = fetch8(c);
  }
}

function one(c: Cpu, op: number): void {
  if ((INVALID ?? invalidOpcodes())[op]) c.ud();
  if (op < 0x40) {
    if (op === 0x0f) { two(c, fetch8(c)); return; }
    const kind = op & 7;
    const aop = op >>> 3;
    if (kind > 5) c.ud();
    const size = vsize(op);
    if (kind >= 4) {
      const a = getReg(c, 0, size), ah = V;
      const b = size === 1 ? fetch8(c) : fetchImm(c, size), bh = V;
      const r = aluOp(c, aop, size, a, ah, b, bh);
      if (aop !== 7) setReg(c, 0, size, r, V);
      return;
    }
    modrm(c, 0);
    if (kind < 2) {
      const a = aop === 7 ? readE(c, size) : readEW(c, size), ah = V;
      const b = getReg(c, mReg, size), bh = V;
      const r = aluOp(c, aop, size, a, ah, b, bh);
      if (aop !== 7) writeE(c, size, r, V);
    } else {
      const a = getReg(c, mReg, size), ah = V;
      const b = readE(c, size), bh = V;
      const r = aluOp(c, aop, size, a, ah, b, bh);
      if (aop !== 7) setReg(c, mReg, size, r, V);
    }
    return;
  }
  if (op >= 0x50 && op < 0x58) { // PUSH r64 (d64)
    const r = (op & 7) | ((rex & 1) << 3);
    const size = o16 ? 2 : 8;
    const v = getReg(c, r, size);
    push(c, size, v, V);
    return;
  }
  if (op >= 0x58 && op < 0x60) { // POP r64 (d64)
    const r = (op & 7) | ((rex & 1) << 3);
    const size = o16 ? 2 : 8;
    const v = pop(c, size);
    setReg(c, r, size, v, V);
    return;
  }
  if (op >= 0x70 && op < 0x80) { // Jcc rel8 (f64)
    const d = (fetch8(c) << 24) >> 24;
    if (c.cond(op & 15)) jumpRel(c, d);
    return;
  }
  if (op >= 0x91 && op < 0x98) { // XCHG r, rAX
    const r = (op & 7) | ((rex & 1) << 3);
    const a = getReg(c, 0, osz), ah = V;
    const b = getReg(c, r, osz), bh = V;
    setReg(c, 0, osz, b, bh);
    setReg(c, r, osz, a, ah);
    return;
  }
  if (op >= 0xb0 && op < 0xb8) { // MOV r8, imm8
    setReg(c, (op & 7) | ((rex & 1) << 3), 1, fetch8(c), 0);
    return;
  }
  if (op >= 0xb8 && op < 0xc0) { // MOV r, imm (imm64 with REX.W)
    const r = (op & 7) | ((rex & 1) << 3);
    if (osz === 8) { const lo = fetch32(c); const hi = fetch32(c); setReg(c, r, 8, lo, hi); }
    else setReg(c, r, osz, fetchImm(c, osz), 0);
    return;
  }
  switch (op) {
    case 0x63: { // MOVSXD (REX.W), else a 32- or 16-bit move
      modrm(c, 0);
      const v = readE(c, osz === 2 ? 2 : 4);
      if (osz === 8) setReg(c, mReg, 8, v, v >> 31);
      else setReg(c, mReg, osz, v, 0);
      return;
    }
    case 0x68: { // PUSH imm32 (d64: sign-extended to 64)
      const size = o16 ? 2 : 8;
      const v = fetchImm(c, size);
      push(c, size, v, V);
      return;
    }
    case 0x6a: {
      const size = o16 ? 2 : 8;
      const v = fetchSimm8(c, size);
      push(c, size, v, V);
      return;
    }
    case 0x69: case 0x6b: { // IMUL r, r/m, imm
      const size = osz;
      const immLen = op === 0x6b ? 1 : size === 2 ? 2 : 4;
      modrm(c, immLen);
      const a = readE(c, size), ah = V;
      const b = op === 0x6b ? fetchSimm8(c, size) : fetchImm(c, size), bh = V;
      imul2(c, size, a, ah, b, bh);
      return;
    }
    case 0x80: case 0x81: case 0x83: {
      const size = op === 0x80 ? 1 : osz;
      const immLen = op === 0x81 ? (size === 2 ? 2 : 4) : 1;
      modrm(c, immLen);
      const aop = mReg & 7;
      const a = aop === 7 ? readE(c, size) : readEW(c, size), ah = V;
      const b = op === 0x81 ? fetchImm(c, size) : op === 0x80 ? fetch8(c) : fetchSimm8(c, size), bh = V;
      const r = aluOp(c, aop, size, a, ah, b, bh);
      if (aop !== 7) writeE(c, size, r, V);
      return;
    }
    case 0x84: case 0x85: {
      const size = vsize(op);
      modrm(c, 0);
      const a = readE(c, size), ah = V;
      const b = getReg(c, mReg, size), bh = V;
      aluOp(c, 4, size, a, ah, b, bh);
      return;
    }
    case 0x86: case 0x87: {
      const size = vsize(op);
      modrm(c, 0);
      const a = readEW(c, size), ah = V;
      const b = getReg(c, mReg, size), bh = V;
      writeE(c, size, b, bh);
      setReg(c, mReg, size, a, ah);
      return;
    }
    case 0x88: case 0x89: {
      const size = vsize(op);
      modrm(c, 0);
      const v = getReg(c, mReg, size);
      writeE(c, size, v, V);
      return;
    }
    case 0x8a: case 0x8b: {
      const size = vsize(op);
      modrm(c, 0);
      const v = readE(c, size);
      setReg(c, mReg, size, v, V);
      return;
    }
    case 0x8d: { // LEA: the effective address without a segment base, truncated to the operand size
      const s = seg;
      seg = -1;
      modrmNoAccess(c);
      seg = s;
      if (!isMem) c.ud();
      setReg(c, mReg, osz, eaLo, eaHi);
      return;
    }
    case 0x8f: { // POP Ev (d64)
      const size = o16 ? 2 : 8;
      // the address is computed with RSP already incremented (SDM vol. 2B, POP)
      const v = pop(c, size), vh = V;
      modrm(c, 0);
      writeE(c, size, v, vh);
      return;
    }
    case 0x90:
      if (rex & 1) { // XCHG R8, rAX
        const a = getReg(c, 0, osz), ah = V;
        const b = getReg(c, 8, osz), bh = V;
        setReg(c, 0, osz, b, bh);
        setReg(c, 8, osz, a, ah);
      }
      return; // NOP, PAUSE
    case 0x98: // CBW, CWDE, CDQE
      if (osz === 8) setReg(c, 0, 8, c.reg32[0]!, c.reg32[0]! >> 31);
      else if (osz === 4) setReg(c, 0, 4, c.reg16[0]! << 16 >> 16, 0);
      else setReg(c, 0, 2, (c.reg8[0]! << 24) >> 24, 0);
      return;
    case 0x99: // CWD, CDQ, CQO
      if (osz === 8) { const s = c.regHi[0]! >> 31; setReg(c, 2, 8, s, s); }
      else if (osz === 4) setReg(c, 2, 4, c.reg32[0]! >> 31, 0);
      else setReg(c, 2, 2, (c.reg16[0]! << 16) >> 31, 0);
      return;
    case 0x9c: { // PUSHF (d64): RFLAGS without VM and RF
      const size = o16 ? 2 : 8;
      push(c, size, c.getFlags() & 0x3c7fd7 & (size === 2 ? 0xffff : -1), 0);
      return;
    }
    case 0x9d: { // POPF (d64)
      const size = o16 ? 2 : 8;
      const v = pop(c, size);
      c.o32 = size !== 2;
      c.setFlags(v, popfMask(c));
      return;
    }
    case 0xa0: case 0xa1: case 0xa2: case 0xa3: { // MOV with an 8-byte moffs (4 with 67)
      const size = vsize(op);
      let lo = fetch32(c), hi = a64 ? fetch32(c) : 0;
      if (seg >= 0) {
        const s = (lo >>> 0) + (c.segBase[seg]! >>> 0);
        lo = s | 0;
        hi = (hi + (seg === FS ? c.fsBaseHi : c.gsBaseHi) + (s > 0xffffffff ? 1 : 0)) | 0;
      }
      if (op < 0xa2) { const v = rd(c, lo, hi, size); setReg(c, 0, size, v, V); }
      else { const v = getReg(c, 0, size); wr(c, lo, hi, size, v, V); }
      return;
    }
    case 0xa4: case 0xa5: case 0xa6: case 0xa7: case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf:
    case 0x6c: case 0x6d: case 0x6e: case 0x6f:
      stringOp(c, op);
      return;
    case 0x8c: { // MOV r/m, Sreg (a register destination gets the selector zero-extended)
      modrm(c, 0);
      const s = mReg & 7;
      if (s > 5) c.ud();
      const sel = c.segSel[s]! & 0xffff;
      if (isMem) wr(c, eaLo, eaHi, 2, sel, 0);
      else setReg(c, mRm, osz, sel, 0);
      return;
    }
    case 0x8e: { // MOV Sreg, r/m
      modrm(c, 0);
      const s = mReg & 7;
      if (s === CS || s > 5) c.ud();
      loadSreg(c, s, readE(c, 2));
      return;
    }
    case 0xc8: enter(c); return;
    case 0xca: case 0xcb: farReturn(c, op === 0xca ? fetch16(c) : 0); return;
    case 0xd7: { // XLAT: AL = [RBX + AL]
      let lo = (regLo(c, 3) >>> 0) + c.reg8[0]!, hi = a64 ? c.regHi[3]! : 0;
      if (lo > 0xffffffff) { hi = (hi + 1) | 0; }
      if (!a64) { hi = 0; }
      lo |= 0;
      if (seg >= 0) {
        const t = (lo >>> 0) + (c.segBase[seg]! >>> 0);
        lo = t | 0;
        hi = (hi + (seg === FS ? c.fsBaseHi : c.gsBaseHi) + (t > 0xffffffff ? 1 : 0)) | 0;
      }
      c.reg8[0] = rd(c, lo, hi, 1);
      return;
    }
    case 0xe0: case 0xe1: case 0xe2: { // LOOPNE, LOOPE, LOOP: RCX (ECX with 67) minus 1, jump while not 0
      const d = (fetch8(c) << 24) >> 24;
      let zero: boolean;
      if (a64) {
        const lo = c.reg32[1]!;
        c.reg32[1] = (lo - 1) | 0;
        if (lo === 0) c.regHi[1] = (c.regHi[1]! - 1) | 0;
        zero = (c.reg32[1]! | c.regHi[1]!) === 0;
      } else {
        c.reg32[1] = (c.reg32[1]! - 1) | 0;
        zero = c.reg32[1] === 0;
      }
      if (!zero && (op === 0xe2 || (op === 0xe1) === (c.getZF() !== 0))) jumpRel(c, d);
      return;
    }
    case 0xe3: { // JRCXZ (JECXZ with 67)
      const d = (fetch8(c) << 24) >> 24;
      if (a64 ? (c.reg32[1]! | c.regHi[1]!) === 0 : c.reg32[1] === 0) jumpRel(c, d);
      return;
    }
    case 0xe4: case 0xe5: case 0xec: case 0xed: { // IN: a 32-bit IN zeroes RAX's high half
      const port = op < 0xe8 ? fetch8(c) : c.reg16[4]!;
      const size = op & 1 ? (osz === 2 ? 2 : 4) : 1;
      setReg(c, 0, size, ioRead(c, port, size), 0);
      return;
    }
    case 0xe6: case 0xe7: case 0xee: case 0xef: { // OUT
      const port = op < 0xe8 ? fetch8(c) : c.reg16[4]!;
      const size = op & 1 ? (osz === 2 ? 2 : 4) : 1;
      ioWrite(c, port, size, getReg(c, 0, size));
      return;
    }
    case 0xa8: case 0xa9: {
      const size = vsize(op);
      const a = getReg(c, 0, size), ah = V;
      const b = size === 1 ? fetch8(c) : fetchImm(c, size), bh = V;
      aluOp(c, 4, size, a, ah, b, bh);
      return;
    }
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
      const size = vsize(op);
      modrm(c, op < 0xc2 ? 1 : 0);
      if ((mReg & 7) === 6) c.ud();
      const a = readEW(c, size), ah = V;
      const count = op < 0xc2 ? fetch8(c) : op < 0xd2 ? 1 : c.reg8[4]!;
      const r = shiftOp(c, mReg & 7, size, a, ah, count);
      writeE(c, size, r, V);
      return;
    }
    case 0xc2: case 0xc3: { // RET (f64)
      const imm = op === 0xc2 ? fetch16(c) : 0;
      const lo = pop(c, 8), hi = V;
      jumpTo(c, lo, hi);
      if (imm !== 0) {
        const s = (c.reg32[4]! >>> 0) + imm;
        c.reg32[4] = s | 0;
        c.regHi[4] = (c.regHi[4]! + (s > 0xffffffff ? 1 : 0)) | 0;
      }
      return;
    }
    case 0xc6: case 0xc7: {
      const size = vsize(op);
      modrm(c, size === 1 ? 1 : size === 2 ? 2 : 4);
      if ((mReg & 7) !== 0) c.ud();
      const v = size === 1 ? fetch8(c) : fetchImm(c, size);
      writeE(c, size, v, V);
      return;
    }
    case 0xc9: { // LEAVE (d64)
      const size = o16 ? 2 : 8;
      const sLo = c.reg32[4]!, sHi = c.regHi[4]!;
      c.reg32[4] = c.reg32[5]!;
      c.regHi[4] = c.regHi[5]!;
      try {
        const v = pop(c, size);
        setReg(c, 5, size, v, V);
      } catch (e) {
        c.reg32[4] = sLo;
        c.regHi[4] = sHi;
        throw e;
      }
      return;
    }
    case 0x9b: c.fpu.wait(); return; // WAIT/FWAIT
    // SAHF, LAHF: in 64-bit mode only with CPUID.80000001H:ECX.LAHF-SAHF (reported with lm: system.ts), AH as outside it
    case 0x9e: c.setArith(c.reg8[1]!, 0xd5); return; // SF ZF AF PF CF from AH
    case 0x9f: c.reg8[1] = (c.getFlags() & 0xd5) | 2; return;
    case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf: x87(c, op); return;
    case 0xcc: softInt(c, 3); return;
    case 0xcd: softInt(c, fetch8(c)); return;
    case 0xcf: iretq(c); return;
    case 0xe8: { // CALL rel32 (f64)
      const d = fetch32(c);
      const rLo = c.eip, rHi = c.ripHi;
      const s = (rLo >>> 0) + d;
      const tLo = s | 0, tHi = (rHi + Math.floor(s / 4294967296)) | 0;
      if (!canonical(tHi)) c.gp(0);
      push(c, 8, rLo, rHi);
      jumpTo(c, tLo, tHi);
      return;
    }
    case 0xe9: jumpRel(c, fetch32(c)); return;
    case 0xeb: jumpRel(c, (fetch8(c) << 24) >> 24); return;
    case 0xf4:
      if (c.cpl !== 0) c.gp(0);
      c.halted = true;
      c.pollIntr = true;
      return;
    case 0xf5: c.setArith(c.getFlags() ^ 1, 1); return; // CMC
    case 0xf6: case 0xf7: {
      const size = vsize(op);
      // the immediate of TEST (reg 0, 1) follows the ModR/M bytes: peeked from the reg field before the address is computed
      const save = c.eip, saveHi = c.ripHi;
      const mb = fetch8(c);
      c.eip = save; c.ripHi = saveHi;
      const immLen = ((mb >>> 3) & 7) < 2 ? (size === 1 ? 1 : size === 2 ? 2 : 4) : 0;
      modrm(c, immLen);
      group3(c, size);
      return;
    }
    case 0xf8: c.setArith(0, 1); return; // CLC
    case 0xf9: c.setArith(1, 1); return; // STC
    case 0xfa:
      if (c.cpl > ((c.getFlags() & F_IOPL) >>> 12)) c.gp(0);
      c.setFlags(0, F_IF);
      return;
    case 0xfb:
      if (c.cpl > ((c.getFlags() & F_IOPL) >>> 12)) c.gp(0);
      if (!(c.getFlags() & F_IF)) c.intShadow = true;
      c.setFlags(F_IF, F_IF);
      return;
    case 0xfc: c.setFlags(0, F_DF); return;
    case 0xfd: c.setFlags(F_DF, F_DF); return;
    case 0xfe: case 0xff: {
      const size = vsize(op);
      modrm(c, 0);
      const r = mReg & 7;
      if (r < 2) { // INC, DEC
        const a = readEW(c, size), ah = V;
        if (size === 8) {
          if (r === 0) inc64(A, a, ah); else dec64(A, a, ah);
          c.setArith(A.flags, A.mask);
          writeE(c, 8, A.lo, A.hi);
        } else writeE(c, size, r === 0 ? inc(c, a, size * 8) : dec(c, a, size * 8), 0);
        return;
      }
      if (op === 0xfe) c.ud();
      switch (r) {
        case 2: { // CALL Ev (f64)
          const lo = readE(c, 8), hi = V;
          if (!canonical(hi)) c.gp(0);
          push(c, 8, c.eip, c.ripHi);
          jumpTo(c, lo, hi);
          return;
        }
        case 4: { // JMP Ev (f64)
          const lo = readE(c, 8), hi = V;
          jumpTo(c, lo, hi);
          return;
        }
        case 6: { // PUSH Ev (d64)
          const size2 = o16 ? 2 : 8;
          const v = readE(c, size2);
          push(c, size2, v, V);
          return;
        }
        case 3: case 5: { // far CALL, JMP through m16:16/32/64 (REX.W: 64-bit offset)
          if (!isMem) c.ud();
          const size = osz;
          const off = rd(c, eaLo, eaHi, size), offHi = size === 8 ? V : 0;
          const t = (eaLo >>> 0) + size;
          const sel = rd(c, t | 0, (eaHi + (t > 0xffffffff ? 1 : 0)) | 0, 2);
          farTransfer(c, sel, size === 2 ? off & 0xffff : off, offHi, r === 3 ? size : 0);
          return;
        }
        default: c.ud();
      }
      return;
    }
    default: c.ud();
  }
}

/** MOVS, STOS, LODS with 64-bit (or 32-bit, with 67) RSI/RDI/RCX; REP repeats while RCX is nonzero. */
/** A string instruction's address register r as the memory operand (eaLo, eaHi): 64 or 32 bits (67), zero-extended. */
function strAddr(c: Cpu, r: number): void {
  eaLo = regLo(c, r);
  eaHi = a64 ? c.regHi[r]! : 0;
}

/** Steps a string instruction's address register r by `step` bytes, at the address size. */
function strAdvance(c: Cpu, r: number, step: number): void {
  if (a64) {
    const s = (regLo(c, r) >>> 0) + step;
    setLo(c, r, s | 0);
    c.regHi[r] = (c.regHi[r]! + Math.floor(s / 4294967296)) | 0;
  } else setReg(c, r, 4, (regLo(c, r) + step) | 0, 0);
}

/** RCX (ECX with 67) is 0. */
function strCountZero(c: Cpu): boolean {
  return a64 ? (c.reg32[1]! | c.regHi[1]!) === 0 : c.reg32[1] === 0;
}

/** RCX (ECX with 67) minus 1. */
function strDecCount(c: Cpu): void {
  if (a64) {
    const lo = c.reg32[1]!;
    c.reg32[1] = (lo - 1) | 0;
    if (lo === 0) c.regHi[1] = (c.regHi[1]! - 1) | 0;
  } else setReg(c, 1, 4, (c.reg32[1]! - 1) | 0, 0);
}

/** The source's FS or GS base added to (eaLo, eaHi) when an override names one. */
function strSeg(c: Cpu): void {
  if (seg >= 0) {
    const s = (eaLo >>> 0) + (c.segBase[seg]! >>> 0);
    eaLo = s | 0;
    eaHi = (eaHi + (seg === FS ? c.fsBaseHi : c.gsBaseHi) + (s > 0xffffffff ? 1 : 0)) | 0;
  }
}

function stringOp(c: Cpu, op: number): void {
  // INSW/INSD and OUTSW/OUTSD have no 64-bit form: REX.W gives 32 bits
  const size = op < 0x70 && (op & 1) !== 0 && osz === 8 ? 4 : vsize(op);
  const step = c.flags & F_DF ? -size : size; // DF is never lazy (getFlags would compute the arithmetic flags for nothing)
  // One iteration per instruction: a REP instruction that has not finished
  // goes back to itself (RIP unchanged), so interrupts and faults come
  // between iterations with the registers of the iterations done.
  if (rep !== 0 && strCountZero(c)) return;
  let compare = false;
  if (op === 0x6c || op === 0x6d) { // INS: ES:[RDI] = port DX (the port is read after the destination is checked)
    strAddr(c, 7);
    if (c.mmu.translate(eaLo, eaHi, c.mmu.ctxAcc | ACC_WRITE) === T_FAULT) throw c.memFault();
    const v = ioRead(c, c.reg16[4]!, size);
    wr(c, eaLo, eaHi, size, v, 0);
    strAdvance(c, 7, step);
  } else if (op === 0x6e || op === 0x6f) { // OUTS: port DX = [RSI]
    strAddr(c, 6); strSeg(c);
    const v = rd(c, eaLo, eaHi, size);
    ioWrite(c, c.reg16[4]!, size, v);
    strAdvance(c, 6, step);
  } else if (op === 0xa6 || op === 0xa7) { // CMPS: [RSI] - ES:[RDI]
    compare = true;
    strAddr(c, 6); strSeg(c);
    const a = rd(c, eaLo, eaHi, size), ah = V;
    strAddr(c, 7);
    const b = rd(c, eaLo, eaHi, size), bh = V;
    aluOp(c, 7, size, a, ah, b, bh);
    strAdvance(c, 6, step); strAdvance(c, 7, step);
  } else if (op === 0xae || op === 0xaf) { // SCAS: rAX - ES:[RDI]
    compare = true;
    strAddr(c, 7);
    const b = rd(c, eaLo, eaHi, size), bh = V;
    const a = getReg(c, 0, size), ah = V;
    aluOp(c, 7, size, a, ah, b, bh);
    strAdvance(c, 7, step);
  } else if (op === 0xa4 || op === 0xa5) {
    strAddr(c, 6); strSeg(c);
    const v = rd(c, eaLo, eaHi, size), vh = V;
    strAddr(c, 7);
    wr(c, eaLo, eaHi, size, v, vh);
    strAdvance(c, 6, step); strAdvance(c, 7, step);
  } else if (op === 0xaa || op === 0xab) {
    strAddr(c, 7);
    const v = getReg(c, 0, size);
    wr(c, eaLo, eaHi, size, v, V);
    strAdvance(c, 7, step);
  } else {
    strAddr(c, 6); strSeg(c);
    const v = rd(c, eaLo, eaHi, size);
    setReg(c, 0, size, v, V);
    strAdvance(c, 6, step);
  }
  if (rep !== 0) {
    strDecCount(c);
    // REPE/REPNE CMPS and SCAS also stop on ZF = 0 / ZF = 1
    const more = !strCountZero(c) && (!compare || (rep === 2) === (c.getZF() !== 0));
    if (more) { c.eip = c.instrEip; c.ripHi = c.instrRipHi; }
  }
}

function two(c: Cpu, op: number): void {
  if (SSE_MAP[op] !== 0) { simd(c, op); return; }
  if (op >= 0x80 && op < 0x90) { // Jcc rel32 (f64)
    const d = fetch32(c);
    if (c.cond(op & 15)) jumpRel(c, d);
    return;
  }
  if (op >= 0x40 && op < 0x50) { // CMOVcc: the 32-bit form writes the destination (zeroing its high half) whether or not it moves
    modrm(c, 0);
    const v = readE(c, osz), vh = V;
    if (c.cond(op & 15)) setReg(c, mReg, osz, v, vh);
    else if (osz === 4) c.regHi[mReg] = 0;
    return;
  }
  if (op >= 0xc8) { // BSWAP r32/r64 (with 66 the result is undefined: 0 here)
    const r = (op & 7) | ((rex & 1) << 3);
    if (osz === 8) { bswap64(A, regLo(c, r), c.regHi[r]!); setReg(c, r, 8, A.lo, A.hi); }
    else if (osz === 4) { const v = regLo(c, r); setReg(c, r, 4, (v >>> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24), 0); }
    else setReg(c, r, 2, 0, 0);
    return;
  }
  if (op >= 0x90 && op < 0xa0) { // SETcc
    modrm(c, 0);
    writeE(c, 1, c.cond(op & 15) ? 1 : 0, 0);
    return;
  }
  switch (op) {
    case 0x01: {
      const m = fetch8Peek(c);
      if (m === 0xf8) { // SWAPGS (SDM vol. 2B): GS.base <-> IA32_KERNEL_GS_BASE
        fetch8(c);
        if (c.cpl !== 0) c.gp(0);
        const lo = c.segBase[GS]!, hi = c.gsBaseHi;
        c.segBase[GS] = c.kernelGsLo;
        c.gsBaseHi = c.kernelGsHi;
        c.kernelGsLo = lo;
        c.kernelGsHi = hi;
        return;
      }
      if (m === 0xca || m === 0xcb) { // CLAC, STAC (SDM vol. 2A): #UD without SMAP or above CPL 0
        fetch8(c);
        if (!c.features.has('smap') || c.cpl !== 0) c.ud();
        c.setFlags(m === 0xcb ? F_AC : 0, F_AC);
        return;
      }
      if (m === 0xee || m === 0xef || m === 0xd0 || m === 0xd1) {
        // RDPKRU, WRPKRU (NP 0F 01 EE/EF, SDM vol. 2B), XGETBV, XSETBV (NP 0F 01 D0/D1, vol. 2C), in system.ts:
        // LOCK, 66, F2, F3 #UD; the reads clear the high halves of RAX and RDX
        fetch8(c);
        if (lock || o16 || rep !== 0) c.ud();
        if (m === 0xee || m === 0xd0) {
          if (m === 0xee) rdpkru(c);
          else xgetbv(c);
          c.regHi[0] = 0;
          c.regHi[2] = 0;
        } else if (m === 0xef) wrpkru(c);
        else xsetbv(c);
        return;
      }
      if (m === 0xf9) { // RDTSCP (SDM vol. 2B; system.ts): the high halves of RAX, RDX and RCX cleared
        fetch8(c);
        if (lock) c.ud();
        rdtscp(c);
        c.regHi[0] = 0; c.regHi[1] = 0; c.regHi[2] = 0;
        return;
      }
      modrm(c, 0);
      const r = mReg & 7;
      if (r === 4) { // SMSW
        if (isMem) wr(c, eaLo, eaHi, 2, c.cr0 & 0xffff, 0);
        else setReg(c, mRm, osz, c.cr0, 0);
        return;
      }
      if (!isMem && r !== 6) c.ud();
      if (r < 2) { // SGDT, SIDT: the limit and the 64-bit base
        const t = (eaLo >>> 0) + 2, h = (eaHi + (t > 0xffffffff ? 1 : 0)) | 0;
        wr(c, eaLo, eaHi, 2, r === 0 ? c.gdtLimit : c.idtLimit, 0);
        wr(c, t | 0, h, 8, r === 0 ? c.gdtBase : c.idtBase, r === 0 ? c.gdtBaseHi : c.idtBaseHi);
        return;
      }
      if (c.cpl !== 0) c.gp(0);
      if (r === 6) { // LMSW: PE, MP, EM, TS; PE cannot be cleared
        const v = readE(c, 2);
        writeCr(c, 0, (c.cr0 & ~0xe) | (v & 0xf) | (c.cr0 & 1));
        return;
      }
      if (r === 7) { // INVLPG
        c.endFetchRun();
        c.mmu.invlpg(eaLo, eaHi);
        c.flushFetch();
        return;
      }
      if (r !== 2 && r !== 3) c.ud();
      // LGDT, LIDT: a 16-bit limit and a 64-bit base, whatever the operand size (66 and REX.W
      // change nothing: "fixed at 8+2 bytes", SDM vol. 2A LGDT/LIDT). A base that is not canonical
      // is #GP(0), and nothing is loaded: the SDM's list ("64-Bit Mode Exceptions") names the
      // operand's address only, but processors check the base too, as Linux's KVM models it
      // (em_lgdt_lidt), and a VM entry refuses such a base in GDTR and IDTR (vol. 3C, "Checks on
      // Guest Descriptor-Table Registers"). Like the address MSRs' and INVLPG's, the check is
      // static: canonical with the widest linear address the processor has (57 bits with la57),
      // whatever CR4.LA57 says (KVM: is_noncanonical_address with X86EMUL_F_DT_LOAD).
      const limit = rd(c, eaLo, eaHi, 2);
      const s = (eaLo >>> 0) + 2;
      const lo = rd(c, s | 0, (eaHi + (s > 0xffffffff ? 1 : 0)) | 0, 8), hi = V;
      const w = c.features.la57 ? 7 : 16;
      if ((hi << w) >> w !== hi) c.gp(0);
      if (r === 2) { c.gdtLimit = limit; c.gdtBase = lo; c.gdtBaseHi = hi; }
      else { c.idtLimit = limit; c.idtBase = lo; c.idtBaseHi = hi; }
      return;
    }
    case 0xae: group15(c); return;
    case 0x05: syscall(c); return;
    case 0x07: sysret(c); return;
    // 0F 18-1F: the PREFETCH hints and the reserved NOPs, NOP Ev (SDM vol. 2B, NOP; appendix A), as outside 64-bit mode;
    // F3 0F 1E FA (ENDBR64) is one of them on a processor without CET. They never access the operand.
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f: modrmNoAccess(c); return;
    case 0x00: group6(c); return;
    case 0x02: case 0x03: larLsl64(c, op === 0x03); return;
    case 0x06: // CLTS
      if (c.cpl !== 0) c.gp(0);
      c.applyCr0(c.cr0 & ~8);
      return;
    case 0x08: case 0x09: // INVD, WBINVD: no caches to write back
      if (c.cpl !== 0) c.gp(0);
      return;
    case 0x31: rdtsc(c); c.regHi[0] = 0; c.regHi[2] = 0; return;
    case 0xa0: case 0xa8: push(c, o16 ? 2 : 8, c.segSel[op === 0xa0 ? FS : GS]! & 0xffff, 0); return; // PUSH FS, GS (d64)
    case 0xa1: case 0xa9: { // POP FS, GS (d64)
      const v = pop(c, o16 ? 2 : 8);
      loadSreg(c, op === 0xa1 ? FS : GS, v & 0xffff);
      return;
    }
    case 0xa3: case 0xab: case 0xb3: case 0xbb: { // BT, BTS, BTR, BTC Ev, Gv
      modrm(c, 0);
      const o = getReg(c, mReg, osz), oh = osz === 8 ? V : o >> 31;
      bitOp(c, (op >>> 3) & 3, osz, true, o, oh);
      return;
    }
    case 0xba: { // BT, BTS, BTR, BTC Ev, imm8
      modrm(c, 1);
      const r = mReg & 7;
      if (r < 4) c.ud();
      bitOp(c, r - 4, osz, false, fetch8(c), 0);
      return;
    }
    case 0xa4: case 0xa5: case 0xac: case 0xad: { // SHLD, SHRD
      modrm(c, op & 1 ? 0 : 1);
      const a = readEW(c, osz), ah = V;
      const b = getReg(c, mReg, osz), bh = V;
      const count = op & 1 ? c.reg8[4]! : fetch8(c);
      const left = op < 0xa8;
      if (osz === 8) {
        if (left) shld64(A, a, ah, b, bh, count); else shrd64(A, a, ah, b, bh, count);
        if (A.mask !== 0) c.setArith(A.flags, A.mask);
        writeE(c, 8, A.lo, A.hi);
      } else {
        writeE(c, osz, shiftDouble(c, left, a, b, count, osz * 8), 0);
      }
      return;
    }
    case 0xb2: case 0xb4: case 0xb5: { // LSS, LFS, LGS: m16:16/32/64 (REX.W: a 64-bit offset)
      modrm(c, 0);
      if (!isMem) c.ud();
      const off = rd(c, eaLo, eaHi, osz), offHi = osz === 8 ? V : 0;
      const t = (eaLo >>> 0) + osz;
      const sel = rd(c, t | 0, (eaHi + (t > 0xffffffff ? 1 : 0)) | 0, 2);
      loadSreg(c, op === 0xb2 ? SS : op === 0xb4 ? FS : GS, sel);
      setReg(c, mReg, osz, off, offHi);
      return;
    }
    case 0xb0: case 0xb1: { // CMPXCHG: the destination is written either way (SDM vol. 2A)
      const size = op & 1 ? osz : 1;
      modrm(c, 0);
      const d = readEW(c, size), dh = V;
      const acc = getReg(c, 0, size), acch = V;
      aluOp(c, 7, size, acc, acch, d, dh);
      if (c.getZF()) {
        const v = getReg(c, mReg, size);
        writeE(c, size, v, V);
      } else {
        writeE(c, size, d, dh);
        setReg(c, 0, size, d, dh);
      }
      return;
    }
    case 0xc0: case 0xc1: { // XADD
      const size = op & 1 ? osz : 1;
      modrm(c, 0);
      const a = readEW(c, size), ah = V;
      const b = getReg(c, mReg, size), bh = V;
      const r = aluOp(c, 0, size, a, ah, b, bh), rh = V;
      writeE(c, size, r, rh);
      setReg(c, mReg, size, a, ah);
      return;
    }
    case 0xc7: { // CMPXCHG8B; CMPXCHG16B with REX.W; RDPID r64 (F3 0F C7 /7, register form)
      modrm(c, 0);
      if ((mReg & 7) === 7 && rep === 2) { // IA32_TSC_AUX zero-extended, with or without 66 or REX.W (system.ts)
        rdpidCheck(c, !isMem, lock);
        setReg(c, mRm, 8, c.tscAux, 0);
        return;
      }
      if ((mReg & 7) !== 1 || !isMem) c.ud();
      if (osz === 8) { cmpxchg16b(c); return; }
      const lo = rdw(c, eaLo, eaHi, 8), hi = V;
      if (lo === c.reg32[0] && hi === c.reg32[2]) {
        wr(c, eaLo, eaHi, 8, c.reg32[3]!, c.reg32[1]!);
        c.setArith(0x40, 0x40);
      } else {
        wr(c, eaLo, eaHi, 8, lo, hi);
        setReg(c, 0, 4, lo, 0);
        setReg(c, 2, 4, hi, 0);
        c.setArith(0, 0x40);
      }
      return;
    }
    case 0xbc: case 0xbd: { // BSF, BSR: a zero source leaves the destination (docs/cpu.md, alu64.ts)
      modrm(c, 0);
      const v = readE(c, osz), sLo = osz === 2 ? v & 0xffff : v, sHi = osz === 8 ? V : 0;
      bsf64(A, sLo, sHi, 0, 0, op === 0xbd);
      if ((sLo | sHi) !== 0) setReg(c, mReg, osz, A.lo, 0);
      c.setArith(A.flags, A.mask);
      return;
    }
    case 0x20: case 0x22: { // MOV from/to CR0, CR2, CR3, CR4, CR8 (64-bit operands; the mod field is ignored)
      const m = fetch8(c);
      const cr = ((m >>> 3) & 7) | ((rex & 4) << 1);
      const r = (m & 7) | ((rex & 1) << 3);
      if (c.cpl !== 0) c.gp(0);
      if (op === 0x20) {
        let lo: number, hi = 0;
        switch (cr) {
          case 0: lo = c.cr0; break;
          case 2: lo = c.cr2; hi = c.cr2Hi; break;
          case 3: lo = c.cr3; hi = c.cr3Hi; break;
          case 4: lo = c.cr4; break;
          case 8: lo = (c.taskPriority.tpr >>> 4) & 0xf; break; // TPR[7:4] (SDM vol. 3A, 11.8.6)
          default: return c.ud();
        }
        setReg(c, r, 8, lo, hi);
      } else {
        const lo = regLo(c, r), hi = c.regHi[r]!;
        writeCr64(c, cr, lo, hi);
      }
      return;
    }
    case 0x38: invpcid(c); return; // the 0F 38 map: INVPCID only
    case 0x21: case 0x23: movDr(c, op === 0x23); return;
    case 0x30: wrmsr(c); return;
    case 0x32: rdmsr(c); c.regHi[0] = 0; c.regHi[2] = 0; return;
    case 0xa2: cpuid(c); c.regHi[0] = 0; c.regHi[1] = 0; c.regHi[2] = 0; c.regHi[3] = 0; return;
    case 0xaf: {
      modrm(c, 0);
      const a = getReg(c, mReg, osz), ah = V;
      const b = readE(c, osz), bh = V;
      imul2(c, osz, a, ah, b, bh);
      return;
    }
    case 0xb6: case 0xb7: case 0xbe: case 0xbf: { // MOVZX, MOVSX
      modrm(c, 0);
      const src = op & 1 ? 2 : 1;
      let v = readE(c, src);
      if (op >= 0xbe) v = src === 1 ? (v << 24) >> 24 : (v << 16) >> 16;
      setReg(c, mReg, osz, v, osz === 8 ? v >> 31 : 0);
      return;
    }
    default: c.ud();
  }
}

/**
 * CMPXCHG16B m128 (SDM vol. 2A, CMPXCHG8B/CMPXCHG16B): #GP(0) unless the
 * operand is 16-byte aligned; RDX:RAX compared with it; equal: ZF = 1 and
 * RCX:RBX stored; else ZF = 0, the operand loaded into RDX:RAX and written
 * back unchanged (the destination is written either way). Both pages are
 * checked for a write before anything is read (a fault has W/R = 1, as for
 * any read-modify-write), so a fault changes nothing.
 */
function cmpxchg16b(c: Cpu): void {
  if (eaLo & 15) c.gp(0);
  probeLin(c, eaLo, eaHi, 16, true);
  const t = (eaLo >>> 0) + 8, hLo = t | 0, hHi = (eaHi + (t > 0xffffffff ? 1 : 0)) | 0;
  const m0 = rd(c, eaLo, eaHi, 8), m1 = V;
  const m2 = rd(c, hLo, hHi, 8), m3 = V;
  if (m0 === c.reg32[0] && m1 === c.regHi[0] && m2 === c.reg32[2] && m3 === c.regHi[2]) {
    wr(c, eaLo, eaHi, 8, c.reg32[3]!, c.regHi[3]!);
    wr(c, hLo, hHi, 8, c.reg32[1]!, c.regHi[1]!);
    c.setArith(0x40, 0x40);
  } else {
    wr(c, eaLo, eaHi, 8, m0, m1);
    wr(c, hLo, hHi, 8, m2, m3);
    setReg(c, 0, 8, m0, m1);
    setReg(c, 2, 8, m2, m3);
    c.setArith(0, 0x40);
  }
}

function fetch8Peek(c: Cpu): number {
  const e = c.eip, h = c.ripHi;
  const b = fetch8(c);
  c.eip = e;
  c.ripHi = h;
  return b;
}

/** MOV to a control register in 64-bit mode (SDM vol. 2A, "MOV to/from Control Registers"). */
function writeCr64(c: Cpu, cr: number, lo: number, hi: number): void {
  switch (cr) {
    case 0: case 4:
      if (hi !== 0) c.gp(0);
      writeCr(c, cr, lo);
      return;
    case 2:
      c.cr2 = lo;
      c.cr2Hi = hi;
      return;
    case 3: {
      // Bits from MAXPHYADDR up are reserved (SDM vol. 3A, 4.5), bit 63 included unless
      // CR4.PCIDE = 1: then it asks not to invalidate the new PCID's entries, and CR3 does not
      // keep it (SDM vol. 3A, 4.10.4.1; vol. 2B "MOV to/from Control Registers"). The MMU
      // takes the PCID (CR3[11:0]) and the no-flush bit from (lo, hi).
      const noFlush = c.cr4 & CR4_PCIDE ? hi & 0x80000000 : 0;
      if ((hi & ~noFlush) & ~((1 << (c.mmu.maxPhysAddr - 32)) - 1)) c.gp(0);
      c.endFetchRun();
      if (c.mmu.writeCr3(lo, hi) !== 0) { c.mmu.clearFault(); c.gp(0); }
      c.cr3 = lo;
      c.cr3Hi = hi & 0x7fffffff;
      c.flushFetch();
      return;
    }
    case 8:
      // CR8[3:0] is TPR[7:4]; a write clears TPR[3:0]; bits 63:4 are reserved (SDM vol. 3A, 11.8.6;
      // vol. 2B "MOV to/from Control Registers"). A lower priority may let an interrupt in at once.
      if (hi !== 0 || lo & ~0xf) c.gp(0);
      c.taskPriority.tpr = lo << 4;
      c.pollIntr = true;
      return;
    default: c.ud();
  }
}

/**
 * INVPCID (66 0F 38 82 /r, SDM vol. 2A "INVPCID"): the register operand, 64 bits whatever REX.W
 * says, is the type; the memory operand a 16-byte descriptor, PCID in bits 11:0 (bits 63:12
 * reserved) and a linear address in bytes 8-15. #UD without the feature, without the 66 prefix,
 * with F2 or F3, or with a register as the descriptor; #GP(0) at CPL > 0, for a type above 3, for
 * a reserved bit of the descriptor, for a nonzero PCID with type 0 or 1 while CR4.PCIDE = 0, for
 * a non-canonical address with type 0 (below); the MMU then invalidates (Mmu.invpcid, whose own
 * checks are the same but for the address width). The rest of the 0F 38 map is #UD.
 */
function invpcid(c: Cpu): void {
  if (fetch8(c) !== 0x82 || !c.features.invpcid || !o16 || rep !== 0) c.ud();
  modrm(c, 0);
  if (!isMem) c.ud();
  if (c.cpl !== 0) c.gp(0);
  const desc = rd(c, eaLo, eaHi, 8), descHi = V;
  const s = (eaLo >>> 0) + 8;
  const addr = rd(c, s | 0, (eaHi + (s > 0xffffffff ? 1 : 0)) | 0, 8), addrHi = V;
  const typeLo = regLo(c, mReg), typeHi = c.regHi[mReg]!;
  if (typeHi !== 0 || (typeLo >>> 0) > 3) c.gp(0);
  if (desc & ~0xfff || descHi !== 0) c.gp(0);
  if (typeLo <= 1 && desc !== 0 && !(c.cr4 & CR4_PCIDE)) c.gp(0);
  if (typeLo === 0) {
    // The address check of an invalidation is static: canonical with the widest linear address
    // the processor has (57 bits with la57), whatever CR4.LA57 says, as for the address MSRs (so
    // Intel processors with 5-level paging behave, as Linux's KVM records and models it:
    // is_noncanonical_invlpg_address). An address canonical with 57 bits but not under 4-level
    // paging has no translation to invalidate.
    const s = c.features.la57 ? 7 : 16;
    if ((addrHi << s) >> s !== addrHi) c.gp(0);
    if (!canonical(addrHi)) return;
  }
  c.endFetchRun();
  if (c.mmu.invpcid(typeLo, desc & 0xfff, addr, addrHi) !== 0) { c.mmu.clearFault(); c.gp(0); }
  c.flushFetch();
}

/**
 * MOV from/to DR0-DR7 in 64-bit mode (SDM vol. 2B, "MOV - Move to/from
 * Debug Registers"): 64-bit operands, the mod field ignored; #GP(0) above
 * CPL 0, #UD for DR8-DR15 (REX.R) and for DR4/DR5 with CR4.DE, #GP(0) for
 * a 1 in bits 63:32 of DR6 or DR7. DR0-DR3 keep 64-bit addresses; DR6 and
 * DR7 read with a zero high half. Breakpoints are not raised (as outside
 * 64-bit mode).
 */
function movDr(c: Cpu, write: boolean): void {
  const m = fetch8(c);
  const n = (m >>> 3) & 7;
  const r = (m & 7) | ((rex & 1) << 3);
  if (c.cpl !== 0) c.gp(0);
  if (rex & 4) c.ud();
  if (write) {
    const lo = regLo(c, r), hi = c.regHi[r]!;
    const d = n === 4 ? 6 : n === 5 ? 7 : n;
    if (d >= 6 && hi !== 0 && !((n === 4 || n === 5) && c.cr4 & 8)) c.gp(0);
    writeDr(c, n, lo);
    if (d < 4) c.drHi[d] = hi;
  } else {
    const v = readDr(c, n);
    const d = n === 4 ? 6 : n === 5 ? 7 : n;
    setReg(c, r, 8, v, d < 4 ? c.drHi[d]! : 0);
  }
}

/** BT/BTS/BTR/BTC (kind 0..3); `fromReg`: the offset is a register's, selecting a word relative to the address (SDM vol. 2A, BT). */
function bitOp(c: Cpu, kind: number, size: number, fromReg: boolean, offLo: number, offHi: number): void {
  if (isMem && fromReg) {
    let dLo: number, dHi: number;
    if (size === 8) {
      btDisp64(A, offLo, offHi);
      dLo = A.lo;
      dHi = A.hi;
    } else {
      const s = size === 4 ? offLo : (offLo << 16) >> 16;
      dLo = (s >> (size === 4 ? 5 : 4)) * size;
      dHi = dLo >> 31;
    }
    const t = (eaLo >>> 0) + (dLo >>> 0);
    eaLo = t | 0;
    eaHi = a64 ? (eaHi + dHi + (t > 0xffffffff ? 1 : 0)) | 0 : 0;
  }
  const v = kind === 0 ? readE(c, size) : readEW(c, size), vh = size === 8 ? V : 0;
  bt64(A, kind, v, vh, offLo & (size * 8 - 1));
  if (kind !== 0) writeE(c, size, A.lo, A.hi);
  c.setArith(A.flags, A.mask);
}

/** MOV, POP to DS, ES, SS, FS, GS in 64-bit mode: as outside it, but a null SS is allowed below CPL 3 and FS/GS's base high halves become 0. */
function loadSreg(c: Cpu, s: number, sel: number): void {
  sel &= 0xffff;
  if (s === SS && (sel & 0xfffc) === 0 && c.cpl < 3 && (sel & 3) === c.cpl) c.loadCache(SS, sel, 0, 0, 0);
  else loadSegment(c, s, sel);
  if (s === FS) c.fsBaseHi = 0;
  else if (s === GS) c.gsBaseHi = 0;
  else if (s === SS) { c.intShadow = true; c.pollIntr = true; }
}

/** ENTER imm16, imm8 (d64): the frame pointers of `level` enclosing frames copied (SDM vol. 2A, ENTER). */
function enter(c: Cpu): void {
  const alloc = fetch16(c), level = fetch8(c) & 31;
  const size = o16 ? 2 : 8;
  push(c, size, regLo(c, 5), c.regHi[5]!);
  const ftLo = c.reg32[4]!, ftHi = c.regHi[4]!;
  if (level > 0) {
    let bLo = regLo(c, 5), bHi = c.regHi[5]!;
    for (let i = 1; i < level; i++) {
      const t = (bLo >>> 0) - size;
      bLo = t | 0;
      bHi = (bHi + (t < 0 ? -1 : 0)) | 0;
      const v = rd(c, bLo, bHi, size);
      push(c, size, v, size === 8 ? V : 0);
    }
    push(c, size, ftLo, ftHi);
  }
  const t = (c.reg32[4]! >>> 0) - alloc;
  const nLo = t | 0, nHi = (c.regHi[4]! + (t < 0 ? -1 : 0)) | 0;
  if (!canonical(nHi)) c.fault(V_SS, 0);
  setReg(c, 5, size, ftLo, ftHi);
  c.reg32[4] = nLo;
  c.regHi[4] = nHi;
}

/**
 * Far JMP (callSize 0) or CALL (callSize: the slot size) in 64-bit mode: to
 * a code segment, 64-bit code (RIP = the 64-bit offset) or compatibility
 * mode (the offset's low 32 bits); or through a 64-bit call gate
 * (`callGateLong`), the only system descriptor IA-32e mode allows here.
 */
function farTransfer(c: Cpu, sel: number, offLo: number, offHi: number, callSize: number): void {
  sel &= 0xffff;
  if ((sel & 0xfffc) === 0) c.gp(0);
  if (!readDescriptor(c, sel)) c.gp(sel & 0xfffc);
  if (!(DESC.ar & AR_S)) { callGateLong(c, sel, callSize !== 0); return; }
  checkDirectCode(c, sel);
  const toLong = (DESC.ar & AR_L) !== 0;
  if (toLong && !canonical(offHi)) c.gp(0);
  if (callSize !== 0) {
    push(c, callSize, c.segSel[CS]!, 0);
    push(c, callSize, c.eip, c.ripHi);
  }
  c.noteBranch(offLo);
  loadCs(c, sel, c.cpl);
  c.eip = offLo;
  c.ripHi = toLong ? offHi : 0;
}

/**
 * Far CALL or JMP through a call gate while IA-32e mode is active, from
 * 64-bit mode (farTransfer) or compatibility mode (transfer.ts farCall and
 * farJump); DESC holds the descriptor `sel` names, a system one. SDM vol.
 * 3A 5.8.3.1 (IA-32e mode call gates), 5.8.5.1 (stack switching in 64-bit
 * mode), 5.8.6 (returning); vol. 2A CALL and JMP, the CALL-GATE and
 * MORE-PRIVILEGE paths with IA32_EFER.LMA = 1:
 * - only the 64-bit call gate (type 0CH) is valid: the 16-bit call gate,
 *   task gates and TSS descriptors (no task switching in IA-32e mode) and
 *   every other system type are #GP(selector);
 * - the gate is 16 bytes, all of them within the GDT or LDT limit, else
 *   #GP(selector); the type field (bits 12:8) of its upper 8 bytes must be
 *   0, else #GP(selector); those bytes' low dword is offset 63:32;
 * - gate DPL < CPL or < RPL: #GP(selector); not present: #NP(selector);
 * - the target: null #GP(0); beyond its table, not code, DPL > CPL (CALL),
 *   or for JMP conforming with DPL > CPL or non-conforming with DPL != CPL,
 *   or not a 64-bit code segment (L = 1, D = 0): #GP(target selector); not
 *   present #NP(target selector); a non-canonical RIP #GP(0);
 * - CALL to a non-conforming segment of DPL < CPL: RSP from the 64-bit
 *   TSS (RSPn, n = the new CPL; beyond TR's limit #TS(TR)), SS a null
 *   selector with RPL = the new CPL, and on the new stack the old SS, RSP,
 *   CS, RIP in 8-byte slots (no parameters are copied, no 16-byte
 *   alignment: that is for interrupts); a non-canonical slot is #SS(0);
 * - otherwise CS and RIP in 8-byte slots on the current stack (RSP in
 *   64-bit mode; SS:ESP from compatibility mode).
 * Registers change only after every access that can fault.
 */
export function callGateLong(c: Cpu, sel: number, call: boolean): void {
  vaShift = c.cr4 & CR4_LA57 ? 7 : 16;
  rmwRead = false;
  const type = (DESC.ar >>> 8) & 0xf;
  if (type !== 0x0c) c.gp(sel & 0xfffc);
  const tableLimit = sel & 4 ? c.segLimit[LDTR]! : c.gdtLimit;
  if ((sel & 0xfff8) + 15 > (tableLimit >>> 0)) c.gp(sel & 0xfffc);
  const w0 = DESC.lo, w1 = DESC.hi;
  const gdpl = dplOf(w1);
  if (gdpl < c.cpl || gdpl < (sel & 3)) c.gp(sel & 0xfffc);
  if (!(w1 & AR_P)) c.fault(V_NP, sel & 0xfffc);
  const ripHi = readSup64(c, DESC.addr, DESC.addrHi, 8);
  const w3 = readSup64(c, DESC.addr, DESC.addrHi, 12);
  if ((w3 >>> 8) & 0x1f) c.gp(sel & 0xfffc);
  const target = w0 >>> 16;
  const ripLo = (w0 & 0xffff) | (w1 & 0xffff0000);
  if ((target & 0xfffc) === 0) c.gp(0);
  if (!readDescriptor(c, target)) c.gp(target & 0xfffc);
  const ar = DESC.ar, dpl = dplOf(ar);
  const conforming = (ar & (1 << 10)) !== 0;
  if (!(ar & AR_S) || !(ar & AR_CODE)) c.gp(target & 0xfffc);
  if (call ? dpl > c.cpl : conforming ? dpl > c.cpl : dpl !== c.cpl) c.gp(target & 0xfffc);
  if (!(ar & AR_L) || ar & AR_DB) c.gp(target & 0xfffc);
  if (!(ar & AR_P)) c.fault(V_NP, target & 0xfffc);
  if (!canonical(ripHi)) c.gp(0);
  const newCpl = call && !conforming && dpl < c.cpl ? dpl : c.cpl;
  const retLo = c.eip, retHi = c.long64 ? c.ripHi : 0, retCs = c.segSel[CS]!;
  if (newCpl !== c.cpl) {
    const off = 4 + 8 * newCpl; // RSPn (SDM vol. 3A, 8.7)
    if (off + 7 > (c.segLimit[TR]! >>> 0)) c.fault(V_TS, c.segSel[TR]! & 0xfffc);
    let p = supRead32(c, c.segBase[TR]!, c.trBaseHi, off);
    let ph = supRead32(c, c.segBase[TR]!, c.trBaseHi, off + 4);
    const frame = [c.segSel[SS]!, 0, c.reg32[4]!, c.regHi[4]!, retCs, 0, retLo, retHi];
    for (let k = 0; k < frame.length; k += 2) {
      const t = (p >>> 0) - 8;
      p = t | 0;
      ph = (ph + (t < 0 ? -1 : 0)) | 0;
      if (!canonical(ph)) c.fault(V_SS, 0);
      supWrite32(c, p, ph, 0, frame[k]!);
      supWrite32(c, p, ph, 4, frame[k + 1]!);
    }
    c.loadCache(SS, newCpl, 0, 0, 0); // a null SS with RPL = the new CPL (5.8.5.1)
    c.reg32[4] = p;
    c.regHi[4] = ph;
  } else if (call) {
    if (c.long64) {
      // the two slots at RSP - 16, written before RSP moves
      const t = (c.reg32[4]! >>> 0) - 16;
      const p = t | 0, ph = (c.regHi[4]! + (t < 0 ? -1 : 0)) | 0;
      if (!canonical(ph)) c.fault(V_SS, 0);
      const u = (p >>> 0) + 8;
      wr(c, u | 0, (ph + (u > 0xffffffff ? 1 : 0)) | 0, 8, retCs, 0);
      wr(c, p, ph, 8, retLo, retHi);
      c.reg32[4] = p;
      c.regHi[4] = ph;
    } else {
      // compatibility mode: SS:ESP (SP with a 16-bit stack segment), segment checks as for any push
      const at = (d: number): number => (c.stackBig ? (c.reg32[4]! - d) | 0 : (c.reg32[4]! - d) & 0xffff);
      c.wr32(SS, at(4), 0);
      c.wr32(SS, at(8), retCs);
      c.wr32(SS, at(12), 0);
      c.wr32(SS, at(16), retLo);
      if (c.stackBig) c.reg32[4] = at(16);
      else c.reg16[8] = at(16);
    }
  }
  c.noteBranch(ripLo);
  markAccessed(c);
  c.loadCache(CS, (target & 0xfffc) | newCpl, DESC.base, DESC.limit, ar);
  c.setCpl(newCpl);
  c.eip = ripLo;
  c.ripHi = ripHi;
}

/** Far RET (imm16) in 64-bit mode: to the same privilege, or to an outer one popping SS:RSP too (SDM vol. 2A, RET). */
function farReturn(c: Cpu, imm: number): void {
  const size = osz;
  const ripLo = pop(c, size), ripHi = size === 8 ? V : 0;
  const cs = pop(c, size) & 0xffff;
  const rpl = cs & 3;
  if ((cs & 0xfffc) === 0) c.gp(0);
  if (!readDescriptor(c, cs)) c.gp(cs & 0xfffc);
  const ar = DESC.ar;
  if (!(ar & AR_S) || !(ar & AR_CODE) || rpl < c.cpl) c.gp(cs & 0xfffc);
  if (ar & (1 << 10) ? dplOf(ar) > rpl : dplOf(ar) !== rpl) c.gp(cs & 0xfffc);
  if (!(ar & AR_P)) c.fault(V_NP, cs & 0xfffc);
  if (ar & AR_L && ar & AR_DB) c.gp(cs & 0xfffc); // L and D together are reserved in IA-32e mode
  const code = { base: DESC.base, limit: DESC.limit, ar };
  const toLong = (ar & AR_L) !== 0;
  if (toLong && !canonical(ripHi)) c.gp(0);
  const skip = (): void => {
    const t = (c.reg32[4]! >>> 0) + imm;
    c.reg32[4] = t | 0;
    c.regHi[4] = (c.regHi[4]! + (t > 0xffffffff ? 1 : 0)) | 0;
  };
  skip();
  if (rpl > c.cpl) {
    const spLo = pop(c, size), spHi = size === 8 ? V : 0;
    const ss = pop(c, size) & 0xffff;
    if ((ss & 0xfffc) === 0) {
      // a null SS only for a return to 64-bit mode below CPL 3 (SDM vol. 2B, RET, RETURN-TO-OUTER-PRIVILEGE-LEVEL)
      if (!toLong || rpl === 3) c.gp(0);
      c.loadCache(SS, ss, 0, 0, 0);
    } else {
      if (!readDescriptor(c, ss) || (ss & 3) !== rpl || dplOf(DESC.ar) !== rpl || !(DESC.ar & AR_S) || DESC.ar & AR_CODE || !(DESC.ar & 0x200)) c.gp(ss & 0xfffc);
      if (!(DESC.ar & AR_P)) c.fault(V_SS, ss & 0xfffc);
      c.loadCache(SS, ss, DESC.base, DESC.limit, DESC.ar);
    }
    c.reg32[4] = spLo;
    c.regHi[4] = toLong ? spHi : 0;
    skip();
  }
  const cpl = c.cpl;
  c.noteBranch(ripLo);
  c.loadCache(CS, cs, code.base, code.limit, code.ar);
  c.setCpl(rpl);
  c.eip = ripLo;
  c.ripHi = toLong ? ripHi : 0;
  // data segments the new CPL may not use become null (SDM vol. 2B, RET)
  if (rpl > cpl) nullInaccessibleSegments(c);
}

/**
 * LAR and LSL in 64-bit mode (SDM vol. 2A, LAR, table 3-52; LSL): ZF = 1
 * and the access rights (the descriptor's bytes 4-7 masked with 00F0FF00H,
 * FF00H at 16 bits) or the limit (scaled by G) in the destination,
 * zero-extended; ZF = 0 and the destination unchanged for a null selector,
 * one beyond the table, a descriptor not visible at CPL and RPL (but a
 * conforming code segment), or a system type IA-32e mode does not allow:
 * LAR takes only the 64-bit TSSs (9, B) and call gate (C), LSL the LDT (2)
 * and the 64-bit TSSs.
 */
function larLsl64(c: Cpu, lsl: boolean): void {
  modrm(c, 0);
  // system.ts's larLsl, whose types are IA-32e mode's while EFER.LMA is set
  const v = larLsl(c, readE(c, 2), lsl);
  if (c.getZF()) setReg(c, mReg, osz, v, 0);
}

/** Group 6 (0F 00): SLDT, STR, LLDT, LTR, VERR, VERW; in 64-bit mode the LDT and TSS descriptors are 16 bytes (SDM vol. 3A, 8.2.3). */
function group6(c: Cpu): void {
  modrm(c, 0);
  const r = mReg & 7;
  if (r < 2) { // SLDT, STR
    const sel = c.segSel[r === 0 ? 6 : TR]! & 0xffff;
    if (isMem) wr(c, eaLo, eaHi, 2, sel, 0);
    else setReg(c, mRm, osz, sel, 0);
    return;
  }
  if (r === 4 || r === 5) { verify(c, readE(c, 2), r === 5); return; } // VERR, VERW: code and data segments only, as outside 64-bit mode
  if (r > 3) c.ud();
  if (c.cpl !== 0) c.gp(0);
  const sel = readE(c, 2);
  if (r === 2 && (sel & 0xfffc) === 0) { c.loadSystemCache(6, sel, 0, 0, 0); c.ldtBaseHi = 0; return; }
  if ((sel & 0xfffc) === 0) c.gp(0);
  if (sel & 4) c.gp(sel & 0xfffc);
  if (!readDescriptor(c, sel)) c.gp(sel & 0xfffc);
  const type = (DESC.ar >>> 8) & 0x1f;
  if (type !== (r === 2 ? 2 : 9)) c.gp(sel & 0xfffc);
  if (!(DESC.ar & AR_P)) c.fault(V_NP, sel & 0xfffc);
  // the 16-byte descriptor's upper half: base 63:32, and a type field that must be 0 (SDM vol. 2A, LLDT and LTR,
  // "64-Bit Mode Exceptions"); a base that is not canonical is #GP(selector) too (AMD APM vol. 3; what KVM's emulator does)
  const baseHi = readSup64(c, DESC.addr, DESC.addrHi, 8);
  if (!canonical(baseHi) || ((readSup64(c, DESC.addr, DESC.addrHi, 12) >>> 8) & 0x1f) !== 0) c.gp(sel & 0xfffc);
  if (r === 3) {
    // the descriptor becomes busy (type 11)
    DESC.hi |= 0x200;
    writeSup64(c, DESC.addr, DESC.addrHi, 5, (DESC.hi >>> 8) & 0xff, 1);
    c.loadSystemCache(TR, sel, DESC.base, DESC.limit, DESC.ar | 0x200);
    c.trBaseHi = baseHi;
  } else {
    c.loadSystemCache(6, sel, DESC.base, DESC.limit, DESC.ar);
    c.ldtBaseHi = baseHi;
  }
}

// =====================================================================
// Interrupts and exceptions in IA-32e mode (SDM vol. 3A, 6.14)
// =====================================================================

/**
 * Delivers `vector` through the 64-bit IDT: a 16-byte interrupt or trap
 * gate whose target is a 64-bit code segment; the frame SS, RSP, RFLAGS,
 * CS, RIP (and the error code) in 8-byte slots, RSP aligned down to 16
 * first; a new RSP from the 64-bit TSS on a privilege change (RSPn) or
 * for a gate with an IST index (ISTn), SS then null with RPL = the new CPL.
 */
export function deliverLong(c: Cpu, vector: number, software: boolean, hasError: boolean, errorCode: number): void {
  vaShift = c.cr4 & CR4_LA57 ? 7 : 16;
  rmwRead = false; // an RMW that faulted before its write: the frame's stores are plain writes
  const ext = software ? 0 : 1;
  c.halted = false;
  if (vector * 16 + 15 > (c.idtLimit >>> 0)) c.gp(vector * 8 + 2 + ext);
  const s = (c.idtBase >>> 0) + vector * 16;
  const gLo = s | 0, gHi = (c.idtBaseHi + (s > 0xffffffff ? 1 : 0)) | 0;
  const w0 = supRead32(c, gLo, gHi, 0);
  const w1 = supRead32(c, gLo, gHi, 4);
  const w2 = supRead32(c, gLo, gHi, 8);
  const type = (w1 >>> 8) & 0x1f;
  const gdpl = (w1 >>> 13) & 3;
  if (type !== 0x0e && type !== 0x0f) c.gp(vector * 8 + 2 + ext);
  if (software && gdpl < c.cpl) c.gp(vector * 8 + 2);
  if (!(w1 & AR_P)) c.fault(V_NP, vector * 8 + 2 + ext);
  const target = w0 >>> 16;
  const ripLo = (w0 & 0xffff) | (w1 & 0xffff0000);
  const ripHi = w2;
  if ((target & 0xfffc) === 0) c.gp(ext);
  if (!readDescriptor(c, target)) c.gp((target & 0xfffc) + ext);
  const ar = DESC.ar;
  const dpl = dplOf(ar);
  if (!(ar & AR_S) || !(ar & AR_CODE) || !(ar & AR_L) || ar & AR_DB || dpl > c.cpl) c.gp((target & 0xfffc) + ext);
  if (!(ar & AR_P)) c.fault(V_NP, (target & 0xfffc) + ext);
  if (!canonical(ripHi)) c.gp(ext);
  const codeBase = DESC.base, codeLimit = DESC.limit;
  const ist = w1 & 7;
  const newCpl = ar & (1 << 10) ? c.cpl : dpl; // a conforming segment keeps the CPL
  let spLo = c.reg32[4]!, spHi = c.regHi[4]!;
  if (newCpl < c.cpl || ist !== 0) {
    // RSPn at TSS+4+8n, ISTn at TSS+0x24+8(n-1) (SDM vol. 3A, 8.7)
    const off = ist !== 0 ? 0x24 + 8 * (ist - 1) : 4 + 8 * newCpl;
    if (off + 7 > (c.segLimit[TR]! >>> 0)) c.fault(V_TS, (c.segSel[TR]! & 0xfffc) + ext);
    spLo = supRead32(c, c.segBase[TR]!, c.trBaseHi, off);
    spHi = supRead32(c, c.segBase[TR]!, c.trBaseHi, off + 4);
    if (!canonical(spHi)) c.fault(V_SS, ext);
  }
  spLo &= ~15;
  const flags = c.getFlags();
  const frame = [c.segSel[SS]!, 0, c.reg32[4]!, c.regHi[4]!, flags, 0, c.segSel[CS]!, 0, c.eip, c.long64 ? c.ripHi : 0];
  if (hasError) frame.push(errorCode, 0);
  // write the frame top down; a fault leaves the CPU as it was
  let p = spLo, ph = spHi;
  for (let k = 0; k < frame.length; k += 2) {
    const t = (p >>> 0) - 8;
    p = t | 0;
    ph = (ph + (t < 0 ? -1 : 0)) | 0;
    if (!canonical(ph)) c.fault(V_SS, ext);
    supWrite32(c, p, ph, 0, frame[k]!);
    supWrite32(c, p, ph, 4, frame[k + 1]!);
  }
  c.noteBranch(ripLo);
  if (newCpl !== c.cpl) c.loadCache(SS, newCpl, 0, 0, 0); // a null SS with RPL = the new CPL
  c.reg32[4] = p;
  c.regHi[4] = ph;
  c.loadCache(CS, (target & 0xfffc) | newCpl, codeBase, codeLimit, ar);
  c.setCpl(newCpl);
  c.eip = ripLo;
  c.ripHi = ripHi;
  c.setFlags(0, F_TF | F_NT | F_RF | F_VM | (type === 0x0e ? F_IF : 0));
}

/** INT n, INT3 in 64-bit mode: the return RIP is the next instruction. */
function softInt(c: Cpu, vector: number): void {
  deliverLong(c, vector, true, false, 0);
}

/** IRETQ, IRET, IRETD in 64-bit mode: pops RIP, CS, RFLAGS, RSP, SS (SDM vol. 2A, IRET, IA-32e mode). */
function iretq(c: Cpu): void {
  if (c.getFlags() & F_NT) c.gp(0); // task return: not in IA-32e mode
  const size = osz === 8 ? 8 : osz;
  const ripLo = pop(c, size), ripHi = size === 8 ? V : 0;
  const cs = pop(c, size) & 0xffff;
  const fl = pop(c, size);
  const spLo = pop(c, size), spHi = size === 8 ? V : 0;
  const ss = pop(c, size) & 0xffff;
  const rpl = cs & 3;
  if (rpl < c.cpl) c.gp(cs & 0xfffc);
  if ((cs & 0xfffc) === 0) c.gp(0);
  if (!readDescriptor(c, cs)) c.gp(cs & 0xfffc);
  const ar = DESC.ar;
  if (!(ar & AR_S) || !(ar & AR_CODE)) c.gp(cs & 0xfffc);
  if (ar & (1 << 10) ? dplOf(ar) > rpl : dplOf(ar) !== rpl) c.gp(cs & 0xfffc);
  if (!(ar & AR_P)) c.fault(V_NP, cs & 0xfffc);
  if (ar & AR_L && ar & AR_DB) c.gp(cs & 0xfffc); // L and D together are reserved in IA-32e mode
  const code = { base: DESC.base, limit: DESC.limit, ar };
  const toLong = (ar & AR_L) !== 0;
  if (toLong && !canonical(ripHi)) c.gp(0);
  let ssBase = 0, ssLimit = 0, ssAr = 0;
  if ((ss & 0xfffc) === 0) {
    // a null SS is allowed for a return to 64-bit mode below CPL 3
    if (!toLong || rpl === 3) c.gp(0);
  } else {
    if (!readDescriptor(c, ss) || (ss & 3) !== rpl || dplOf(DESC.ar) !== rpl || !(DESC.ar & AR_S) || DESC.ar & AR_CODE || !(DESC.ar & 0x200)) c.gp(ss & 0xfffc);
    if (!(DESC.ar & AR_P)) c.fault(V_SS, ss & 0xfffc);
    ssBase = DESC.base; ssLimit = DESC.limit; ssAr = DESC.ar;
  }
  const cpl = c.cpl;
  // CF PF AF ZF SF TF IF DF OF IOPL NT RF AC ID (VM, VIF, VIP are not restored: SDM vol. 2A, IRET, IA-32e mode)
  let mask = 0x257fd5;
  if (cpl > 0) mask &= ~F_IOPL;
  if (cpl > ((c.getFlags() & F_IOPL) >>> 12)) mask &= ~F_IF;
  c.noteBranch(ripLo);
  c.loadCache(SS, ss, ssBase, ssLimit, ssAr);
  c.reg32[4] = spLo;
  c.regHi[4] = toLong ? spHi : 0;
  c.loadCache(CS, cs, code.base, code.limit, code.ar);
  c.setCpl(rpl);
  c.eip = ripLo;
  c.ripHi = toLong ? ripHi : 0;
  c.setFlags(fl, mask);
  if (rpl > cpl) {
    // data segments the new CPL may not use become null (SDM vol. 2A, IRET)
    for (const s of [ES, DS, FS, GS]) {
      const a = c.segAr[s]!;
      if ((a & AR_CODE) === 0 || (a & (1 << 10)) === 0) {
        if (dplOf(a) < rpl && (c.segSel[s]! & 0xfffc) !== 0) c.loadCache(s, 0, 0, 0, 0);
      }
    }
  }
}

// ---- SYSCALL and SYSRET (SDM vol. 2B), with EFER.SCE ----

function syscall(c: Cpu): void {
  if (!(c.efer & 1)) c.ud();
  const sel = (c.starHi & 0xffff);
  const retLo = c.eip, retHi = c.ripHi;
  if (!canonical(c.lstarHi)) c.gp(0);
  setReg(c, 1, 8, retLo, retHi); // RCX = RIP
  const fl = c.getFlags();
  setReg(c, 11, 8, fl, 0); // R11 = RFLAGS
  c.noteBranch(c.lstarLo);
  c.loadCache(CS, sel & 0xfffc, 0, -1, AR_P | AR_S | AR_CODE | (1 << 9) | (1 << 8) | AR_L | (1 << 23));
  c.loadCache(SS, (sel + 8) & 0xfffc, 0, -1, AR_P | AR_S | (1 << 9) | (1 << 8) | AR_DB | (1 << 23));
  c.setCpl(0);
  c.eip = c.lstarLo;
  c.ripHi = c.lstarHi;
  c.setFlags(fl & ~c.sfmask & ~F_RF, 0x3f7fd5);
}

function sysret(c: Cpu): void {
  if (!(c.efer & 1)) c.ud();
  if (c.cpl !== 0) c.gp(0);
  const base = c.starHi >>> 16;
  const toLong = osz === 8;
  const rLo = regLo(c, 1), rHi = c.regHi[1]!;
  if (toLong && !canonical(rHi)) c.gp(0);
  const fl = regLo(c, 11);
  c.noteBranch(rLo);
  const csSel = ((toLong ? base + 16 : base) & 0xfffc) | 3;
  c.loadCache(CS, csSel, 0, -1, AR_P | AR_S | AR_CODE | (1 << 9) | (1 << 8) | (3 << 13) | (1 << 23) | (toLong ? AR_L : AR_DB));
  c.loadCache(SS, ((base + 8) & 0xfffc) | 3, 0, -1, AR_P | AR_S | (1 << 9) | (1 << 8) | AR_DB | (3 << 13) | (1 << 23));
  c.setCpl(3);
  c.eip = rLo;
  c.ripHi = toLong ? rHi : 0;
  c.setFlags((fl & 0x3c7fd7) | 2, 0x3f7fd7);
}

// ---- supervisor accesses by 64-bit linear address ----

function supRead32(c: Cpu, lo: number, hi: number, off: number): number {
  const s = (lo >>> 0) + off;
  const v = c.mmu.readAcc(s | 0, (hi + (s > 0xffffffff ? 1 : 0)) | 0, 4, 0);
  if (c.mmu.faultVector !== 0) throw c.memFault();
  return v;
}

function supWrite32(c: Cpu, lo: number, hi: number, off: number, v: number): void {
  const s = (lo >>> 0) + off;
  c.mmu.writeAcc(s | 0, (hi + (s > 0xffffffff ? 1 : 0)) | 0, 4, v, 0);
  if (c.mmu.faultVector !== 0) throw c.memFault();
}

// =====================================================================
// x87, FXSAVE/FXRSTOR, MXCSR in 64-bit mode
// =====================================================================

/**
 * The FPU's view of the core in 64-bit mode (FpuHost): memory by 64-bit
 * linear address, the operand's low half as `off`. The FPU adds at most
 * 511 to the operand's offset modulo 2^32; an offset below the operand's
 * own low half has carried into the high half (with a 64-bit address
 * size; a 32-bit one wraps at 4 GiB). The segment is only a selector to
 * record (FDS): 64-bit mode has no segment checks (SDM vol. 3A, 3.2.4).
 */
class LongFpuHost implements FpuHost {
  c: Cpu | null = null;
  private baseLo = 0;
  private baseHi = 0;

  at(c: Cpu, lo: number, hi: number): this {
    this.c = c;
    this.baseLo = lo;
    this.baseHi = hi;
    return this;
  }

  private hi(off: number): number {
    return a64 && (off >>> 0) < (this.baseLo >>> 0) ? (this.baseHi + 1) | 0 : this.baseHi;
  }

  read8(_s: number, off: number): number { return rd(this.c!, off | 0, this.hi(off), 1); }
  read16(_s: number, off: number): number { return rd(this.c!, off | 0, this.hi(off), 2); }
  read32(_s: number, off: number): number { return rd(this.c!, off | 0, this.hi(off), 4); }
  write8(_s: number, off: number, v: number): void { wr(this.c!, off | 0, this.hi(off), 1, v, 0); }
  write16(_s: number, off: number, v: number): void { wr(this.c!, off | 0, this.hi(off), 2, v, 0); }
  write32(_s: number, off: number, v: number): void { wr(this.c!, off | 0, this.hi(off), 4, v, 0); }
  probe(_s: number, off: number, len: number, write: boolean): void {
    probeLin(this.c!, off | 0, this.hi(off), len, write);
  }
  getReg32(r: number): number { return regLo(this.c!, r); }
  setReg32(r: number, v: number): void { setReg(this.c!, r, 4, v, 0); }
  get cr0(): number { return this.c!.cr0; }
  get realMode(): boolean { return false; }
  /** FSTENV/FSAVE/FRSTOR/FLDENV: the 32-bit layouts in 64-bit mode, the 16-bit ones with 66 */
  get opsize32(): boolean { return !o16; }
  get instrCs(): number { return this.c!.segSel[CS]!; }
  get instrEip(): number { return this.c!.instrEip; }
  get ripHi64(): number { return this.c!.instrRipHi; }
  dataHi64(off: number): number { return this.hi(off); }
  selector(s: number): number { return this.c!.segSel[s]!; }
  getFlags(): number { return this.c!.getFlags(); }
  setFlagsZPC(zf: number, pf: number, cf: number): void { this.c!.setFlagsZPC(zf, pf, cf); }
  raiseNM(): never { return this.c!.trap(7); }
  raiseMF(): never { return this.c!.trap(16); }
  raiseUD(): never { return this.c!.ud(); }
  raiseGP0(): never { return this.c!.gp(0); }
  setFerr(active: boolean): void { this.c!.setFerr(active); }
}

const FPU_HOST = new LongFpuHost();

/** Checks that `len` bytes at lo:hi can be read or written (the fault an access would raise), first and last page. */
function probeLin(c: Cpu, lo: number, hi: number, len: number, write: boolean): void {
  const m = c.mmu;
  const acc = m.ctxAcc | (write ? ACC_WRITE : 0);
  if (m.translate(lo, hi, acc) === T_FAULT) throw c.memFault();
  if ((lo & 0xfff) + len > 4096) {
    const t = (lo >>> 0) + len - 1;
    if (m.translate(t | 0, a64 ? (hi + (t > 0xffffffff ? 1 : 0)) | 0 : 0, acc) === T_FAULT) throw c.memFault();
  }
}

/** The data segment a memory operand names (FDS): the override, else SS for an RSP or RBP base, else DS. */
function dataSeg(): number {
  return seg >= 0 ? seg : eaStack ? SS : DS;
}

/** D8-DF: the x87 instruction, its memory operand by 64-bit linear address (REX.B does not apply to ST(i)). */
function x87(c: Cpu, op: number): void {
  modrm(c, 0);
  if (lock) c.ud();
  const off = isMem ? eaLo : 0;
  c.fpu.withHost(FPU_HOST.at(c, eaLo, eaHi), () => c.fpu.exec(op, mByte, dataSeg(), off));
}

/** #UD for CR0.EM or CR4.OSFXSR clear, #NM for CR0.TS (the checks of an instruction on XMM state or MXCSR: SDM vol. 3A, 13.1) */
function xmmCheck(c: Cpu): void {
  if (lock) c.ud();
  if ((c.cr0 & CR0_EM) !== 0 || (c.cr4 & CR4_OSFXSR) === 0) c.ud();
  if (c.cr0 & CR0_TS) c.trap(7);
}

/**
 * Group 15 (0F AE) in 64-bit mode: FXSAVE, FXRSTOR (FXSAVE64, FXRSTOR64
 * with REX.W: SDM vol. 2A, FXSAVE, table 3-44), and with SSE LDMXCSR,
 * STMXCSR, SFENCE, with SSE2 LFENCE, MFENCE, CLFLUSH, with xsave XSAVE and
 * XRSTOR (XSAVE64, XRSTOR64 with REX.W; xsave.ts). The F3-prefixed FS/GS-base
 * forms are #UD (not advertised; CR4.FSGSBASE cannot be set).
 */
function group15(c: Cpu): void {
  modrm(c, 0);
  if (lock) c.ud();
  const o = mReg & 7;
  if (rep !== 0 || (o16 && o >= 6 && isMem)) c.ud(); // the F3 forms; 66: CLWB, CLFLUSHOPT (not advertised)
  if (!isMem) {
    if (o === 7 && c.features.sse) return; // SFENCE
    if ((o === 5 || o === 6) && c.features.sse2) return; // LFENCE, MFENCE
    c.ud();
  }
  if ((o === 4 || o === 5) && c.features.xsave) { // XSAVE, XRSTOR; XSAVE64, XRSTOR64 with REX.W (xsave.ts); 66 is #UD (NP)
    if (o16) c.ud();
    const mode = osz === 8 ? 2 : 1;
    c.fpu.withHost(FPU_HOST.at(c, eaLo, eaHi), () => {
      if (o === 4) xsave(c, FPU_HOST, dataSeg(), eaLo, eaLo, mode);
      else xrstor(c, FPU_HOST, dataSeg(), eaLo, eaLo, mode);
    });
    return;
  }
  if (o < 2) {
    const mode = osz === 8 ? 2 : 1;
    c.fpu.withHost(FPU_HOST.at(c, eaLo, eaHi), () => {
      if (o === 0) c.fpu.fxsave(dataSeg(), eaLo, mode);
      else c.fpu.fxrstor(dataSeg(), eaLo, mode);
    });
    return;
  }
  if ((o === 2 || o === 3) && c.features.sse) { // LDMXCSR, STMXCSR (SDM vol. 2, LDMXCSR: #GP(0) for a reserved bit)
    xmmCheck(c);
    if (o === 3) { wr(c, eaLo, eaHi, 4, c.fpu.mxcsr, 0); return; }
    const v = rd(c, eaLo, eaHi, 4);
    if (v & ~c.fpu.mxcsrMask) c.gp(0);
    c.fpu.mxcsr = v >>> 0;
    return;
  }
  if (o === 7 && c.features.sse2) { probeLin(c, eaLo, eaHi, 1, false); return; } // CLFLUSH: checked as a byte read
  c.ud();
}

// =====================================================================
// SSE, SSE2 and MMX in 64-bit mode
// =====================================================================

/** 0F opcodes of SSE/SSE2 (1) and of the MMX columns (2), as ops/sse.ts and ops/fpu.ts decode them outside 64-bit mode */
const SSE_MAP = new Uint8Array(256);
for (const op of [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6]) SSE_MAP[op] = 1;
for (let op = 0x50; op < 0x60; op++) SSE_MAP[op] = 1;
for (let op = 0x60; op < 0x80; op++) SSE_MAP[op] = 2;
for (let op = 0xd1; op < 0xff; op++) SSE_MAP[op] = 2;

/** The operands of an SSE instruction in 64-bit mode, for ops/sse.ts (SseLong). */
const SSE_LONG: SseLong = {
  prefix: 0, reg: 0, rm: 0, w: false, lock: false, eaLo: 0,
  imm8: () => fetch8(CPU!),
  rd16: (k) => rd(CPU!, ...at(k), 2),
  rd32: (k) => rd(CPU!, ...at(k), 4),
  wr32: (k, v) => { const [lo, hi] = at(k); wr(CPU!, lo, hi, 4, v, 0); },
  probe: (len, write) => probeLin(CPU!, eaLo, eaHi, len, write),
  gpr: (r) => regLo(CPU!, r),
  gprHi: (r) => CPU!.regHi[r]!,
  setGpr: (r, size, lo, hi) => setReg(CPU!, r, size, lo, hi),
  probeRdi: (len) => { rdiAddr(CPU!); probeLin(CPU!, eaLo, eaHi, len, true); },
  wrRdi8: (i, v) => { const [lo, hi] = at(i); wr(CPU!, lo, hi, 1, v, 0); },
};
let CPU: Cpu | null = null;
const AT: [number, number] = [0, 0];

/** the memory operand's address + k (k < 16) */
function at(k: number): [number, number] {
  const t = (eaLo >>> 0) + k;
  AT[0] = t | 0;
  AT[1] = a64 ? (eaHi + (t > 0xffffffff ? 1 : 0)) | 0 : 0;
  return AT;
}

/** DS:RDI (EDI with 67), FS or GS overriding: the destination of MASKMOVQ/MASKMOVDQU, as the memory operand */
function rdiAddr(c: Cpu): void {
  eaLo = regLo(c, 7);
  eaHi = a64 ? c.regHi[7]! : 0;
  if (seg >= 0) {
    const t = (eaLo >>> 0) + (c.segBase[seg]! >>> 0);
    eaLo = t | 0;
    eaHi = (eaHi + (seg === FS ? c.fsBaseHi : c.gsBaseHi) + (t > 0xffffffff ? 1 : 0)) | 0;
  }
}

/**
 * 0F `op` of SSE, SSE2 or MMX in 64-bit mode: decoded here (REX, the
 * RIP-relative address relative to the end of the instruction, an imm8
 * after the ModR/M bytes for 70-73 and C2-C6) and executed by ops/sse.ts,
 * or for the unprefixed MMX forms by the FPU through the 64-bit memory
 * host (MOVD/MOVQ with a general register: movdMmx).
 */
function simd(c: Cpu, op: number): void {
  const f = c.features;
  const prefix = rep === 2 ? 2 : rep === 1 ? 3 : o16 ? 1 : 0;
  const kind = SSE_MAP[op]!;
  if (kind === 1 && !f.sse) c.ud();
  const toSse = kind === 1 || (f.sse && (prefix !== 0 || SSE_MMX_FORMS[op] !== 0));
  if (!toSse) { mmx(c, op); return; }
  const immLen = (op >= 0x70 && op <= 0x73) || (op >= 0xc2 && op <= 0xc6 && op !== 0xc3) ? 1 : 0;
  modrm(c, immLen);
  c.modrm = mByte;
  const l = SSE_LONG;
  l.prefix = prefix;
  l.reg = mReg;
  l.rm = mRm;
  l.w = (rex & 8) !== 0;
  l.lock = lock;
  l.eaLo = eaLo;
  CPU = c;
  sseExec64(c, op, l);
}

/**
 * MOVD/MOVQ between an MMX register and r/m32 or, with REX.W, r/m64 (SDM
 * vol. 2B, MOVD/MOVQ): REX.B reaches R8-R15 (the MMX register ignores
 * REX.R); the MMX checks, the access, then the x87-to-MMX transition; a
 * 32-bit source is zero-extended into the MMX register, a 32-bit
 * general-register destination zeroes bits 63:32.
 */
function movdMmx(c: Cpu, toMmx: boolean): void {
  c.fpu.mmxCheck();
  const size = osz === 8 ? 8 : 4;
  const r = mReg & 7;
  if (toMmx) {
    const lo = isMem ? rd(c, eaLo, eaHi, size) : regLo(c, mRm);
    const hi = size === 8 ? (isMem ? V : c.regHi[mRm]!) : 0;
    c.fpu.mmxSet(r, hi, lo);
  } else {
    const lo = c.fpu.lo[r]!, hi = size === 8 ? c.fpu.hi[r]! : 0;
    if (isMem) wr(c, eaLo, eaHi, size, lo, hi);
    else setReg(c, mRm, size, lo, hi);
    c.fpu.mmxSet(-1, 0, 0);
  }
}

/** The MMX instructions (no prefix) in 64-bit mode, by the FPU; the registers MM0-7 ignore REX. */
function mmx(c: Cpu, op: number): void {
  if (rep !== 0 || o16) c.ud();
  if (lock) c.ud();
  if (op === 0x77) { if (!c.fpu.mmx(op, 0, 0, 0)) c.ud(); return; } // EMMS
  const shiftImm = op >= 0x71 && op <= 0x73;
  modrm(c, shiftImm ? 1 : 0);
  if (op === 0x6e || op === 0x7e) { movdMmx(c, op === 0x6e); return; }
  if (shiftImm) {
    if (isMem) c.ud();
    const count = fetch8(c);
    if (!c.fpu.mmx(op, mByte, 0, count)) c.ud();
    return;
  }
  const ok = c.fpu.withHost(FPU_HOST.at(c, eaLo, eaHi), () => c.fpu.mmx(op, mByte, dataSeg(), isMem ? eaLo : 0));
  if (!ok) c.ud();
}
