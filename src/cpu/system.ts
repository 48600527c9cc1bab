/**
 * System instructions: control and debug registers, MSRs, CPUID, TSC,
 * descriptor-table registers, LAR/LSL/VERR/VERW, and the I/O permission
 * check. CPUID advertises exactly what this CPU implements.
 */
import {
  AR_CODE, AR_DC, AR_P, AR_RW, AR_S, CR0_CD, CR0_ET, CR0_NW, CR0_PE, CR0_PG, CR0_TS, CR4_DE, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_OSXSAVE,
  CS, FS, GS, CR4_PAE, CR4_PCE, CR4_PGE, CR4_PSE, CR4_TSD, F_IOPL, F_VM, F_ZF, LDTR, MSR_APIC_BASE, MSR_EFER, MSR_MISC_ENABLE, MSR_PAT,
  MSR_SYSENTER_CS, MSR_SYSENTER_EIP, MSR_SYSENTER_ESP, MSR_TSC, SYS_LDT, SYS_TSS16_AVAIL, SYS_TSS32_AVAIL, TR, V_NP,
} from './constants.js';
import type { Cpu } from './cpu.js';
import { DESC, dplOf, readDescriptor } from './segments.js';
import { CR4_LA57, CR4_PCIDE, CR4_PKE, CR4_SMAP, CR4_SMEP, EFER_LMA, EFER_LME, EFER_NXE } from '../mmu/index.js';
import { EFER_SCE, XCR0_PKRU, XCR0_SSE } from './features.js';
import { XSAVE_PKRU_OFFSET, xsaveAreaSize } from './xsave.js';

/** The MSRs of the lm feature (SDM vol. 4, table 2-2): SYSCALL's targets and flag mask, FS.base, GS.base and SWAPGS's */
const MSR_STAR = 0xc0000081;
const MSR_LSTAR = 0xc0000082;
const MSR_CSTAR = 0xc0000083;
const MSR_FMASK = 0xc0000084;
const MSR_FS_BASE = 0xc0000100;
const MSR_GS_BASE = 0xc0000101;
const MSR_KERNEL_GS_BASE = 0xc0000102;
/**
 * IA32_TSC_AUX (SDM vol. 4, table 2-2; vol. 3B, "IA32_TSC_AUX Register and
 * RDTSCP Support"): a 32-bit value privileged software sets (a processor
 * number, say) for RDTSCP and RDPID to read; there with either feature, bits
 * 63:32 reserved.
 */
const MSR_TSC_AUX = 0xc0000103;

/**
 * CR4 bits this CPU implements (others are reserved: #GP on MOV to CR4);
 * those of features turned off (Cpu.features.cr4Refused) are reserved too.
 */
const CR4_SUPPORTED = CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_PGE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_LA57 | CR4_PCIDE | CR4_SMEP | CR4_SMAP | CR4_PKE | CR4_OSXSAVE;
/** CR0 bits that can be set (ET reads as 1) */
const CR0_SUPPORTED = 0xe005003f | 0;

/**
 * The I/O permission check of IN/OUT/INS/OUTS (SDM vol. 1, 18.5.2):
 * allowed when CPL <= IOPL outside virtual-8086 mode, else every bit of the
 * TSS I/O bitmap covering the accessed ports must be 0.
 */
export function checkIoPermission(c: Cpu, port: number, size: number): void {
  if (!c.protectedMode && !(c.getFlags() & F_VM)) return;
  const flags = c.getFlags();
  if (!(flags & F_VM) && c.cpl <= (flags & F_IOPL) >>> 12) return;
  const type = (c.segAr[TR]! >>> 8) & 0xf;
  if (type !== 11 && type !== 9) c.gp(0); // 16-bit TSS: no bitmap
  const limit = c.segLimit[TR]! >>> 0;
  if (limit < 0x67) c.gp(0);
  const base = c.segBase[TR]!;
  const mapBase = c.readLin16Sup(base + 0x66);
  const byteOff = mapBase + (port >>> 3);
  if (byteOff + 1 > limit) c.gp(0);
  const bits = c.readLin16Sup(base + byteOff);
  const mask = ((1 << size) - 1) << (port & 7);
  if (bits & mask) c.gp(0);
}

// ---- control registers ----

export function readCr(c: Cpu, n: number): number {
  switch (n) {
    case 0: return c.cr0;
    case 2: return c.cr2;
    case 3: return c.cr3;
    case 4: return c.cr4;
    default: return c.ud();
  }
}

export function writeCr(c: Cpu, n: number, v: number): void {
  switch (n) {
    case 0: {
      if (v & ~CR0_SUPPORTED) c.gp(0);
      if ((v & CR0_PG) && !(v & CR0_PE)) c.gp(0);
      if ((v & CR0_NW) && !(v & CR0_CD)) c.gp(0);
      // IA-32e mode (SDM vol. 3A, 9.8.5 and 2.5): paging on with EFER.LME
      // needs PAE and activates IA-32e mode (EFER.LMA); paging goes off only
      // outside 64-bit mode, and that deactivates it.
      const lme = (c.efer & EFER_LME) !== 0;
      if (lme && (v & CR0_PG) && !(c.cr0 & CR0_PG) && !(c.cr4 & CR4_PAE)) c.gp(0);
      if (!(v & CR0_PG) && c.long64) c.gp(0);
      // SDM vol. 3A, 4.10.1: paging cannot be turned off while PCIDs are on (CR4.PCIDE = 1): #GP(0).
      if (!(v & CR0_PG) && c.cr4 & CR4_PCIDE) c.gp(0);
      c.applyCr0(v | CR0_ET);
      const lma = lme && (c.cr0 & CR0_PG) ? EFER_LMA : 0;
      if ((c.efer & EFER_LMA) !== lma) {
        c.efer = (c.efer & ~EFER_LMA) | lma;
        if (c.mmu.writeEfer(c.efer) !== 0) c.mmu.clearFault();
        c.refreshSeg(CS);
        c.flushFetch();
      }
      return;
    }
    case 2:
      c.cr2 = v;
      return;
    case 3:
      c.endFetchRun();
      // The MMU loads the PAE PDPTEs and refuses invalid ones with #GP(0)
      // (SDM vol. 3A, 4.4.1); a faulting MOV leaves CR3 as it was, so the
      // CPU's copy changes only once the MMU has accepted the value.
      if (c.mmu.writeCr3(v, 0) !== 0) {
        c.mmu.clearFault();
        c.gp(0);
      }
      c.cr3 = v;
      c.cr3Hi = 0;
      c.flushFetch();
      return;
    case 4: {
      if (v & ~CR4_SUPPORTED || v & c.features.cr4Refused) c.gp(0);
      if (c.efer & EFER_LMA && !(v & CR4_PAE)) c.gp(0); // PAE stays on in IA-32e mode
      // LA57 cannot change while IA-32e mode is active (SDM vol. 3A, 2.5 and 4.1.1): 5-level
      // paging is chosen before EFER.LME and CR0.PG turn IA-32e mode on.
      if (c.efer & EFER_LMA && (v ^ c.cr4) & CR4_LA57) c.gp(0);
      // PCIDE can be set only in IA-32e mode and only while CR3[11:0] = 0 (SDM vol. 3A, 4.10.1,
      // 2.5; vol. 2B "MOV to/from Control Registers"): the current PCID becomes CR3[11:0].
      if (v & CR4_PCIDE && !(c.cr4 & CR4_PCIDE) && (!(c.efer & EFER_LMA) || c.cr3 & 0xfff)) c.gp(0);
      c.endFetchRun();
      if (c.mmu.writeCr4(v) !== 0) {
        c.mmu.clearFault();
        c.gp(0);
      }
      c.cr4 = v;
      c.flushFetch();
      return;
    }
    default:
      c.ud();
  }
}

export function readDr(c: Cpu, n: number): number {
  if ((n === 4 || n === 5) && c.cr4 & CR4_DE) c.ud();
  if (n === 4) n = 6;
  if (n === 5) n = 7;
  return c.dr[n]!;
}

/** MOV to DRn: stored; hardware breakpoints are not raised (see docs/cpu.md). */
export function writeDr(c: Cpu, n: number, v: number): void {
  if ((n === 4 || n === 5) && c.cr4 & CR4_DE) c.ud();
  if (n === 4) n = 6;
  if (n === 5) n = 7;
  if (n === 6) v = (v | 0xffff0ff0) & ~0x1000;
  if (n === 7) v = (v | 0x400) & ~0xd800;
  c.dr[n] = v;
}

// ---- MSRs ----

/** RDMSR: EDX:EAX = MSR[ECX]; an MSR this CPU does not have raises #GP(0). */
export function rdmsr(c: Cpu): void {
  const msr = c.reg32[1]! >>> 0;
  let lo = 0;
  let hi = 0;
  switch (msr) {
    case MSR_TSC: {
      const t = tsc(c);
      lo = t % 4294967296 | 0;
      hi = Math.floor(t / 4294967296) | 0;
      break;
    }
    case MSR_SYSENTER_CS: lo = c.sysenterCs; break;
    case MSR_SYSENTER_ESP: lo = c.sysenterEsp; break;
    case MSR_SYSENTER_EIP: lo = c.sysenterEip; break;
    case MSR_PAT: lo = c.pat; hi = c.patHi; break;
    case MSR_EFER: lo = c.efer; break;
    case MSR_STAR: case MSR_LSTAR: case MSR_CSTAR: case MSR_FMASK: case MSR_FS_BASE: case MSR_GS_BASE: case MSR_KERNEL_GS_BASE:
      if (!c.features.lm) c.gp(0);
      switch (msr) {
        case MSR_STAR: lo = c.starLo; hi = c.starHi; break;
        case MSR_LSTAR: lo = c.lstarLo; hi = c.lstarHi; break;
        case MSR_CSTAR: lo = c.cstarLo; hi = c.cstarHi; break;
        case MSR_FMASK: lo = c.sfmask; break;
        case MSR_FS_BASE: lo = c.segBase[FS]!; hi = c.fsBaseHi; break;
        case MSR_GS_BASE: lo = c.segBase[GS]!; hi = c.gsBaseHi; break;
        default: lo = c.kernelGsLo; hi = c.kernelGsHi;
      }
      break;
    case MSR_TSC_AUX:
      if (!c.features.rdtscp && !c.features.rdpid) c.gp(0);
      lo = c.tscAux;
      break;
    case MSR_APIC_BASE:
      if (c.apicBaseMsr === null) c.gp(0);
      lo = c.apicBaseMsr.read();
      break;
    case MSR_MISC_ENABLE: lo = 1; break; // fast strings enabled
    case 0x17: break; // IA32_PLATFORM_ID
    case 0x8b: break; // IA32_BIOS_SIGN_ID: no microcode loaded
    default: c.gp(0);
  }
  c.reg32[0] = lo;
  c.reg32[2] = hi;
}

export function wrmsr(c: Cpu): void {
  const msr = c.reg32[1]! >>> 0;
  const lo = c.reg32[0]!;
  const hi = c.reg32[2]!;
  switch (msr) {
    case MSR_TSC:
      c.tscOffset = hi * 4294967296 + (lo >>> 0) - c.now();
      return;
    case MSR_SYSENTER_CS: c.sysenterCs = lo & 0xffff; return;
    case MSR_SYSENTER_ESP: c.sysenterEsp = lo; return;
    case MSR_SYSENTER_EIP: c.sysenterEip = lo; return;
    case MSR_PAT:
      // Each of the eight entries must be a valid memory type (0, 1, 4, 5, 6, 7).
      for (const w of [lo, hi]) for (let i = 0; i < 4; i++) { const t = (w >>> (i * 8)) & 0xff; if (t === 2 || t === 3 || t > 7) c.gp(0); }
      c.pat = lo;
      c.patHi = hi;
      return;
    case MSR_EFER: {
      // NXE with the nx feature; SCE, LME (and LMA, read-only: the value
      // written is ignored) with lm. LME cannot change while paging is on
      // (SDM vol. 3A, 9.8.5).
      if (lo & ~(EFER_NXE | EFER_LME | EFER_LMA | EFER_SCE) || hi !== 0 || lo & c.features.eferRefused) c.gp(0);
      if ((lo ^ c.efer) & EFER_LME && c.cr0 & CR0_PG) c.gp(0);
      const v = (lo & ~EFER_LMA) | (c.efer & EFER_LMA);
      c.endFetchRun();
      if (c.mmu.writeEfer(v) !== 0) {
        c.mmu.clearFault();
        c.gp(0);
      }
      c.efer = v;
      c.flushFetch();
      return;
    }
    case MSR_APIC_BASE:
      if (c.apicBaseMsr === null || !c.apicBaseMsr.write(lo, hi)) c.gp(0);
      return;
    case MSR_TSC_AUX:
      // a reserved bit set (bits 63:32) is #GP(0), as for every MSR (vol. 2B, WRMSR)
      if ((!c.features.rdtscp && !c.features.rdpid) || hi !== 0) c.gp(0);
      c.tscAux = lo;
      return;
    case MSR_MISC_ENABLE: return;
    case 0x8b: return;
    case MSR_STAR: case MSR_LSTAR: case MSR_CSTAR: case MSR_FMASK: case MSR_FS_BASE: case MSR_GS_BASE: case MSR_KERNEL_GS_BASE:
      if (!c.features.lm) c.gp(0);
      // the address MSRs take canonical addresses only (SDM vol. 4, table 2-2); a processor with
      // 5-level paging checks 57 bits whatever CR4.LA57 says (so Intel's processors behave, as
      // Linux's KVM records and models it: is_noncanonical_msr_address)
      if (msr !== MSR_STAR && msr !== MSR_FMASK && !canonicalMsr(c, hi)) c.gp(0);
      switch (msr) {
        case MSR_STAR: c.starLo = lo; c.starHi = hi; break;
        case MSR_LSTAR: c.lstarLo = lo; c.lstarHi = hi; break;
        case MSR_CSTAR: c.cstarLo = lo; c.cstarHi = hi; break;
        case MSR_FMASK: c.sfmask = lo; break;
        case MSR_FS_BASE: c.segBase[FS] = lo; c.fsBaseHi = hi; c.refreshSeg(FS); break;
        case MSR_GS_BASE: c.segBase[GS] = lo; c.gsBaseHi = hi; c.refreshSeg(GS); break;
        default: c.kernelGsLo = lo; c.kernelGsHi = hi;
      }
      return;
    default: c.gp(0);
  }
}

/** Whether the high half of an address written to an MSR is canonical: 48 bits, or 57 with the la57 feature. */
function canonicalMsr(c: Cpu, hi: number): boolean {
  const s = c.features.la57 ? 7 : 16;
  return (hi << s) >> s === hi;
}

/** The time-stamp counter: virtual nanoseconds (a 1 GHz TSC) plus the offset WRMSR set. */
export function tsc(c: Cpu): number {
  return Math.max(0, c.now() + c.tscOffset);
}

export function rdtsc(c: Cpu): void {
  if (c.cr4 & CR4_TSD && c.cpl !== 0 && c.protectedMode) c.gp(0);
  const t = tsc(c);
  c.reg32[0] = t % 4294967296 | 0;
  c.reg32[2] = Math.floor(t / 4294967296) | 0;
}

/**
 * RDTSCP (0F 01 F9, SDM vol. 2B): EDX:EAX = the TSC, as RDTSC reads it (the
 * same CR4.TSD rule: #GP(0) above CPL 0), and ECX = IA32_TSC_AUX[31:0]; #UD
 * without the rdtscp feature. In 64-bit mode the caller clears the high halves
 * of RAX, RDX and RCX.
 */
export function rdtscp(c: Cpu): void {
  if (!c.features.rdtscp) c.ud();
  rdtsc(c);
  c.reg32[1] = c.tscAux;
}

/**
 * RDPID's #UD (F3 0F C7 /7, SDM vol. 2B): without the rdpid feature, for the
 * memory form (the operand must be a register: ModR/M.mod = 11b) and with
 * LOCK. 66 (and REX.W) do not change it: the callers write IA32_TSC_AUX to
 * the register, zero-extended to 64 bits in 64-bit mode, a 32-bit register
 * elsewhere. At any CPL, and CR4.TSD does not apply.
 */
export function rdpidCheck(c: Cpu, isReg: boolean, lock: boolean): void {
  if (!c.features.rdpid || !isReg || lock) c.ud();
}

// ---- CPUID ----

const VENDOR = 'GenuineIntel';
function str4(s: string, i: number): number {
  return (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24)) | 0;
}

/**
 * CPUID (SDM vol. 2A): a family 6, model 8, stepping 3 processor with the
 * features of Cpu.features (by default leaf 1 EDX: FPU, PSE, TSC, MSR, PAE,
 * CX8, SEP, PGE, CMOV, PSE-36, MMX, FXSR; NX; the highest basic leaf 2, or
 * 7 when a leaf-7 feature is on: smep, smap, invpcid, pku, la57, rdpid).
 */
export function cpuid(c: Cpu): void {
  const f = c.features;
  let leaf = c.reg32[0]! >>> 0;
  // A basic leaf above the highest gives the highest one's values (SDM vol. 2A, CPUID, "INPUT EAX" note).
  if (leaf > f.maxLeaf && leaf < 0x80000000) leaf = f.maxLeaf;
  let a = 0, b = 0, cx = 0, d = 0;
  switch (leaf) {
    case 0:
      a = f.maxLeaf;
      b = str4(VENDOR, 0);
      d = str4(VENDOR, 4);
      cx = str4(VENDOR, 8);
      break;
    case 1:
      a = 0x683;
      b = f.leaf1Ebx;
      cx = f.leaf1Ecx; // PCID with pcid, CX16 with lm, XSAVE with xsave (0 by default)
      // OSXSAVE (bit 27) is CR4.OSXSAVE as it is now (SDM vol. 2A, CPUID, table 3-10)
      if (c.cr4 & CR4_OSXSAVE) cx |= 1 << 27;
      d = f.leaf1Edx;
      // The APIC flag follows IA32_APIC_BASE.EN (SDM vol. 3A, "Local APIC Status and Location").
      if (c.apicBaseMsr !== null && !(c.apicBaseMsr.read() & (1 << 11))) d &= ~(1 << 9);
      break;
    case 2:
      a = 1; // one iteration, no cache or TLB descriptors
      break;
    case 7:
      // Structured extended features, subleaf 0 (the only one: EAX = 0).
      // ECX bit 4, OSPKE, is CR4.PKE as it is now (SDM vol. 2A, CPUID, table 3-8), beside PKU (bit 3) with pku.
      if (c.reg32[1] === 0) { b = f.leaf7Ebx; cx = f.leaf7Ecx | (c.cr4 & CR4_PKE ? 1 << 4 : 0); }
      break;
    case 0xd:
      xsaveLeaf(c);
      return;
    case 0x80000000:
      a = (f.lm ? 0x80000008 : 0x80000001) | 0;
      break;
    case 0x80000001:
      d = f.ext1Edx; // NX: EFER.NXE works; RDTSCP (bit 27) with rdtscp; LM: long mode with lm (with it SYSCALL in 64-bit mode, bit 11)
      cx = f.ext1Ecx; // LAHF-SAHF with lm
      break;
    case 0x80000008:
      // with lm: the physical and linear address widths (MAXPHYADDR, 48; 57 with la57)
      if (f.lm) a = c.mmu.maxPhysAddr | ((f.la57 ? 57 : 48) << 8);
      break;
    default:
      // Basic leaves 3 to 6 below the highest: nothing to report; other extended leaves likewise.
  }
  c.reg32[0] = a;
  c.reg32[3] = b;
  c.reg32[1] = cx;
  c.reg32[2] = d;
}

/**
 * CPUID leaf 0DH, only there with the xsave feature (the highest basic leaf
 * is then 0DH): the XSAVE feature set (SDM vol. 2A, CPUID, "Processor
 * Extended State Enumeration Main Leaf"; vol. 1, 13.2). Subleaf 0: EDX:EAX
 * the XCR0 bits XSETBV accepts, EBX the size of the XSAVE area for the
 * components XCR0 enables now, ECX for all of them (the standard format:
 * the end of the last component). Subleaf 1: EAX = 0, none of XSAVEOPT,
 * XSAVEC, XGETBV with ECX = 1 or XSAVES/IA32_XSS (so software uses plain
 * XSAVE and the standard format). Subleaf 9 with pku: PKRU, 8 bytes at
 * offset 0A80H (where processors with PKRU put it), a user state component
 * (ECX = 0). Any other subleaf: zeros.
 */
function xsaveLeaf(c: Cpu): void {
  const f = c.features;
  const sub = c.reg32[1]! >>> 0;
  let a = 0, b = 0, cx = 0;
  if (sub === 0) {
    a = f.xcr0Supported;
    b = xsaveAreaSize(c.xcr0);
    cx = xsaveAreaSize(f.xcr0Supported);
  } else if (sub === 9 && f.xcr0Supported & XCR0_PKRU) {
    a = 8;
    b = XSAVE_PKRU_OFFSET;
  }
  c.reg32[0] = a;
  c.reg32[3] = b;
  c.reg32[1] = cx;
  c.reg32[2] = 0;
}

// ---- XCR0 ----

/**
 * XGETBV (NP 0F 01 D0, SDM vol. 2C): EDX:EAX = XCR[ECX]; #UD while
 * CR4.OSXSAVE = 0 (always without the xsave feature), #GP(0) if ECX is not 0
 * (XCR0 is the only XCR; ECX = 1 is there only with XGETBV1, which CPUID
 * leaf 0DH does not advertise). At any CPL. The callers check the prefixes
 * and in 64-bit mode clear the high halves of RAX and RDX.
 */
export function xgetbv(c: Cpu): void {
  if (!(c.cr4 & CR4_OSXSAVE)) c.ud();
  if (c.reg32[1] !== 0) c.gp(0);
  c.reg32[0] = c.xcr0;
  c.reg32[2] = 0;
}

/**
 * XSETBV (NP 0F 01 D1, SDM vol. 2C; vol. 1, 13.3): XCR[ECX] = EDX:EAX. #UD
 * while CR4.OSXSAVE = 0; #GP(0) at CPL > 0 (virtual-8086 mode included; real
 * mode is CPL 0), for ECX other than 0, for a bit XCR0 does not support
 * (CPUID.(0DH,0):EDX:EAX), for bit 0 (x87) clear, and for AVX (bit 2) without
 * SSE (bit 1), which the supported bits cannot set. The high halves of RAX,
 * RCX and RDX are ignored.
 */
export function xsetbv(c: Cpu): void {
  if (!(c.cr4 & CR4_OSXSAVE)) c.ud();
  if (c.cpl !== 0 || c.reg32[1] !== 0) c.gp(0);
  const lo = c.reg32[0]!, hi = c.reg32[2]!;
  if (hi !== 0 || lo & ~c.features.xcr0Supported || !(lo & 1) || (lo & 4 && !(lo & XCR0_SSE))) c.gp(0);
  c.xcr0 = lo;
}

// ---- protection keys ----

/**
 * RDPKRU (NP 0F 01 EE, SDM vol. 2B): EAX = PKRU, EDX = 0; #UD while CR4.PKE = 0
 * (which it always is without the pku feature), #GP(0) if ECX is not 0. At any
 * CPL and in every mode (the SDM lists the same exceptions for real,
 * virtual-8086, protected, compatibility and 64-bit mode). The callers check
 * the prefixes (LOCK, 66, F2, F3: #UD) and in 64-bit mode clear the high halves
 * of RAX and RDX; RCX's high half is ignored.
 */
export function rdpkru(c: Cpu): void {
  if (!(c.cr4 & CR4_PKE)) c.ud();
  if (c.reg32[1] !== 0) c.gp(0);
  c.reg32[0] = c.mmu.pkru;
  c.reg32[2] = 0;
}

/**
 * WRPKRU (NP 0F 01 EF, SDM vol. 2B): PKRU = EAX, in the MMU, which checks every
 * later data access to a user-mode address against it (vol. 3A, 4.6.2) and
 * drops the software-TLB rights it keyed on the old value; #UD while
 * CR4.PKE = 0, #GP(0) if ECX or EDX is not 0 (the high halves of RAX, RCX and
 * RDX are ignored). At any CPL, as RDPKRU.
 */
export function wrpkru(c: Cpu): void {
  if (!(c.cr4 & CR4_PKE)) c.ud();
  if (c.reg32[1] !== 0 || c.reg32[2] !== 0) c.gp(0);
  // an observer sees this instruction's fetch before the register change, as for MOV to CR4
  c.endFetchRun();
  c.mmu.writePkru(c.reg32[0]!);
}

// ---- descriptor-table registers and queries ----

/** LLDT (SDM vol. 2A): a null selector disables the LDT. */
export function lldt(c: Cpu, sel: number): void {
  sel &= 0xffff;
  if ((sel & 0xfffc) === 0) {
    c.loadSystemCache(LDTR, sel, 0, 0, 0);
    return;
  }
  if (sel & 4) c.gp(sel & 0xfffc);
  if (!readDescriptor(c, sel)) c.gp(sel & 0xfffc);
  if ((DESC.ar & 0x1f00) !== SYS_LDT << 8) c.gp(sel & 0xfffc);
  if (!(DESC.ar & AR_P)) c.fault(V_NP, sel & 0xfffc);
  c.loadSystemCache(LDTR, sel, DESC.base, DESC.limit, DESC.ar);
}

/** LTR: marks the TSS busy. */
export function ltr(c: Cpu, sel: number): void {
  sel &= 0xffff;
  if ((sel & 0xfffc) === 0 || sel & 4) c.gp(sel & 0xfffc);
  if (!readDescriptor(c, sel)) c.gp(sel & 0xfffc);
  const type = (DESC.ar >>> 8) & 0x1f;
  if (type !== SYS_TSS16_AVAIL && type !== SYS_TSS32_AVAIL) c.gp(sel & 0xfffc);
  if (!(DESC.ar & AR_P)) c.fault(V_NP, sel & 0xfffc);
  c.writeLin8Sup(DESC.addr + 5, ((DESC.hi >>> 8) | 0x02) & 0xff);
  c.loadSystemCache(TR, sel, DESC.base, DESC.limit, DESC.ar | 0x200);
}

/**
 * The system-descriptor types LAR and LSL accept (SDM vol. 2A, LAR and LSL,
 * "Segment and Gate Types"): outside IA-32e mode the 16- and 32-bit TSSs,
 * the LDT and (LAR) the call and task gates; in IA-32e mode, compatibility
 * mode included, only the 64-bit TSSs, (LSL) the LDT and (LAR) the 64-bit
 * call gate: types 1, 3, 4 and 5 are reserved there. Indexed by type.
 */
const LAR_TYPES = typeMask([1, 2, 3, 4, 5, 9, 11, 12]);
const LSL_TYPES = typeMask([1, 2, 3, 9, 11]);
const LAR_TYPES_IA32E = typeMask([9, 11, 12]);
const LSL_TYPES_IA32E = typeMask([2, 9, 11]);
function typeMask(types: number[]): Uint8Array {
  const t = new Uint8Array(16);
  for (const k of types) t[k] = 1;
  return t;
}

/**
 * LAR/LSL (SDM vol. 2A): ZF=1 and the access rights or limit when the
 * descriptor is visible at CPL/RPL and of a type the instruction accepts.
 * Returns the value, or -1 with ZF cleared (a caller reads ZF: a 4 GiB
 * limit is -1 too).
 */
export function larLsl(c: Cpu, sel: number, lsl: boolean): number {
  sel &= 0xffff;
  if ((sel & 0xfffc) === 0 || !readDescriptor(c, sel)) {
    c.setArith(0, F_ZF);
    return -1;
  }
  const ar = DESC.ar;
  let ok: boolean;
  if (ar & AR_S) {
    const conforming = (ar & (AR_CODE | AR_DC)) === (AR_CODE | AR_DC);
    ok = conforming || (dplOf(ar) >= c.cpl && dplOf(ar) >= (sel & 3));
  } else {
    const valid = c.efer & EFER_LMA ? (lsl ? LSL_TYPES_IA32E : LAR_TYPES_IA32E) : lsl ? LSL_TYPES : LAR_TYPES;
    ok = valid[(ar >>> 8) & 0xf] === 1 && dplOf(ar) >= c.cpl && dplOf(ar) >= (sel & 3);
  }
  if (!ok) {
    c.setArith(0, F_ZF);
    return -1;
  }
  c.setArith(F_ZF, F_ZF);
  return lsl ? DESC.limit : DESC.hi & 0x00f0ff00;
}

/** VERR/VERW: ZF=1 when the segment is readable (writable) at CPL/RPL. */
export function verify(c: Cpu, sel: number, write: boolean): void {
  sel &= 0xffff;
  let ok = false;
  if ((sel & 0xfffc) !== 0 && readDescriptor(c, sel) && DESC.ar & AR_S) {
    const ar = DESC.ar;
    const conforming = (ar & (AR_CODE | AR_DC)) === (AR_CODE | AR_DC);
    const visible = conforming || (dplOf(ar) >= c.cpl && dplOf(ar) >= (sel & 3));
    ok = visible && (write ? !(ar & AR_CODE) && (ar & AR_RW) !== 0 : !(ar & AR_CODE) || (ar & AR_RW) !== 0);
    if (write && ar & AR_CODE) ok = false;
  }
  c.setArith(ok ? F_ZF : 0, F_ZF);
}

export { CR0_TS };
