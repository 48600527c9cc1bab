/**
 * The CPU features a machine advertises through CPUID, and can be shaped
 * (`MachineOptions.cpu`, `vmmu boot --cpu +smep,-pge`): so that a user can
 * compare, say, a kernel with and without global pages, or with SMEP and
 * SMAP, under each translation mode.
 *
 * CPUID tells the truth both ways: a feature turned off is not only hidden
 * but refused, as on a processor that lacks it (setting its CR4 bit or its
 * EFER bit raises #GP(0), its instructions #UD; SDM vol. 3A 2.5 and 2.2.1,
 * vol. 2A "MOV to CR4", "WRMSR", "STAC"); a feature turned on works (the MMU
 * implements it in every mode).
 */
import { CR4_OSXMMEXCPT, CR4_OSXSAVE, CR4_PAE, CR4_PGE, CR4_PSE } from './constants.js';
import { CR4_LA57, CR4_PCIDE, CR4_PKE, CR4_SMAP, CR4_SMEP, EFER_LMA, EFER_LME, EFER_NXE } from '../mmu/index.js';

/** EFER.SCE: SYSCALL and SYSRET (SDM vol. 3A, 2.2.1) */
export const EFER_SCE = 1;

export interface CpuFeature {
  readonly name: string;
  readonly what: string;
  /** the CPUID leaf and register that advertise it, and the bit */
  readonly leaf: 1 | 7 | 0x80000001;
  readonly reg: 'ebx' | 'ecx' | 'edx';
  readonly bit: number;
  /** advertised unless turned off */
  readonly byDefault: boolean;
  /** the CR4 bit that only this feature allows */
  readonly cr4?: number;
  /** the EFER bit that only this feature allows */
  readonly efer?: number;
  /** a feature that must be on too (no processor has SSE2 without SSE) */
  readonly needs?: string;
}

/** The features `--cpu` can turn on or off, in CPUID order. */
export const CPU_FEATURES: readonly CpuFeature[] = [
  { name: 'pse', what: '4 MiB pages with 32-bit paging (CR4.PSE)', leaf: 1, reg: 'edx', bit: 3, byDefault: true, cr4: CR4_PSE },
  { name: 'pae', what: 'PAE paging (CR4.PAE)', leaf: 1, reg: 'edx', bit: 6, byDefault: true, cr4: CR4_PAE },
  { name: 'apic', what: 'a local APIC (IA32_APIC_BASE, registers at 0xFEE00000), with an IOAPIC and an MP table in the machine', leaf: 1, reg: 'edx', bit: 9, byDefault: false },
  { name: 'pge', what: 'global pages (CR4.PGE)', leaf: 1, reg: 'edx', bit: 13, byDefault: true, cr4: CR4_PGE },
  { name: 'sse', what: 'SSE: XMM registers, MXCSR, the single-precision and 64-bit integer SIMD additions (CR4.OSXMMEXCPT)', leaf: 1, reg: 'edx', bit: 25, byDefault: false, cr4: CR4_OSXMMEXCPT },
  { name: 'sse2', what: 'SSE2: double precision and 128-bit integers on XMM registers, LFENCE, MFENCE, CLFLUSH (CPUID CLFSH with it)', leaf: 1, reg: 'edx', bit: 26, byDefault: false, needs: 'sse' },
  { name: 'pcid', what: 'process-context identifiers (CR4.PCIDE, the PCID in CR3 bits 11:0, bit 63 of MOV to CR3); IA-32e mode only', leaf: 1, reg: 'ecx', bit: 17, byDefault: false, cr4: CR4_PCIDE, needs: 'lm' },
  { name: 'xsave', what: 'the XSAVE feature set: CR4.OSXSAVE, XCR0, XGETBV, XSETBV, XSAVE and XRSTOR in the standard format (x87, SSE with sse, PKRU with pku; CPUID leaf 0DH; OSXSAVE in CPUID.1:ECX[27] follows CR4.OSXSAVE)', leaf: 1, reg: 'ecx', bit: 26, byDefault: false, cr4: CR4_OSXSAVE },
  { name: 'smep', what: 'supervisor-mode execution prevention (CR4.SMEP)', leaf: 7, reg: 'ebx', bit: 7, byDefault: false, cr4: CR4_SMEP },
  { name: 'invpcid', what: 'INVPCID (in 64-bit mode: #UD elsewhere, see docs/cpu.md)', leaf: 7, reg: 'ebx', bit: 10, byDefault: false, needs: 'lm' },
  { name: 'smap', what: 'supervisor-mode access prevention (CR4.SMAP, STAC, CLAC)', leaf: 7, reg: 'ebx', bit: 20, byDefault: false, cr4: CR4_SMAP },
  { name: 'pku', what: 'protection keys for user-mode pages (CR4.PKE, PKRU, RDPKRU, WRPKRU; OSPKE in CPUID.(7,0):ECX[4] follows CR4.PKE); IA-32e paging only', leaf: 7, reg: 'ecx', bit: 3, byDefault: false, cr4: CR4_PKE, needs: 'lm' },
  { name: 'la57', what: '5-level paging (CR4.LA57) and 57-bit linear addresses', leaf: 7, reg: 'ecx', bit: 16, byDefault: false, cr4: CR4_LA57, needs: 'lm' },
  { name: 'rdpid', what: 'RDPID (F3 0F C7 /7: IA32_TSC_AUX into a register) and the IA32_TSC_AUX MSR', leaf: 7, reg: 'ecx', bit: 22, byDefault: false },
  { name: 'nx', what: 'execute-disable pages (EFER.NXE)', leaf: 0x80000001, reg: 'edx', bit: 20, byDefault: true, efer: EFER_NXE },
  { name: 'pdpe1gb', what: '1 GiB pages in IA-32e paging (PS in a PDPTE; reserved without it)', leaf: 0x80000001, reg: 'edx', bit: 26, byDefault: false, needs: 'lm' },
  { name: 'rdtscp', what: 'RDTSCP (0F 01 F9: the TSC and IA32_TSC_AUX) and the IA32_TSC_AUX MSR (0xC0000103)', leaf: 0x80000001, reg: 'edx', bit: 27, byDefault: false },
  { name: 'lm', what: 'long mode (EFER.LME, EFER.SCE): IA-32e paging and 64-bit code (with x87, SSE/SSE2, CMPXCHG16B, LAHF/SAHF; see docs/cpu.md)', leaf: 0x80000001, reg: 'edx', bit: 29, byDefault: false, efer: EFER_LME | EFER_LMA | EFER_SCE, needs: 'pae' },
];

/** XCR0's state components (SDM vol. 1, 13.1): x87 (bit 0), SSE (bit 1), PKRU (bit 9) */
export const XCR0_X87 = 1;
export const XCR0_SSE = 2;
export const XCR0_PKRU = 1 << 9;

/** CPUID leaf 1 EDX bits that are always there: FPU, TSC, MSR, CX8, SEP, CMOV, PSE-36, MMX, FXSR. */
const LEAF1_EDX_FIXED = (1 << 0) | (1 << 4) | (1 << 5) | (1 << 8) | (1 << 11) | (1 << 15) | (1 << 17) | (1 << 23) | (1 << 24);
/** CPUID.1:EDX.CLFSH: CLFLUSH, which came with SSE2 and is advertised with it */
const LEAF1_EDX_CLFSH = 1 << 19;
/** CPUID.1:EBX bits 15:8 with CLFSH: the line CLFLUSH flushes, in 8-byte units (64 bytes) */
const LEAF1_EBX_CLFLUSH_64 = 8 << 8;

/** What a Cpu advertises and allows: made from a `--cpu` specification. */
export class CpuFeatures {
  /** names of the features on */
  readonly on: ReadonlySet<string>;
  /** CPUID.1:EDX, CPUID.1:EBX (the CLFLUSH line size with sse2, else 0), CPUID.1:ECX, CPUID.(7,0):EBX and ECX, CPUID.80000001h:EDX and ECX */
  readonly leaf1Edx: number;
  readonly leaf1Ebx: number;
  readonly leaf1Ecx: number;
  readonly leaf7Ebx: number;
  readonly leaf7Ecx: number;
  readonly ext1Edx: number;
  readonly ext1Ecx: number;
  /** the highest basic leaf: 0DH with xsave, else 7 when a leaf-7 feature is on, else 2 (the P6 default, so the default guest sees what it always saw) */
  readonly maxLeaf: number;
  /** CR4 bits that the features off make reserved */
  readonly cr4Refused: number;
  /** EFER bits that the features off make reserved */
  readonly eferRefused: number;
  /** `sse` and `sse2` are on (read by the decoder of ops/sse.ts) */
  readonly sse: boolean;
  readonly sse2: boolean;
  /** `lm` is on: EFER.LME, IA-32e mode, 64-bit code (long.ts) */
  readonly lm: boolean;
  /** `invpcid` is on (long.ts), `la57` is on (57-bit linear addresses: CPUID 80000008h, canonical checks), `pdpe1gb` is on (the Mmu's gbPages), `pku` is on (CR4.PKE, RDPKRU, WRPKRU) */
  readonly invpcid: boolean;
  readonly la57: boolean;
  readonly pdpe1gb: boolean;
  readonly pku: boolean;
  /** `rdtscp` is on (RDTSCP), `rdpid` is on (RDPID); either gives the IA32_TSC_AUX MSR (system.ts) */
  readonly rdtscp: boolean;
  readonly rdpid: boolean;
  /** `xsave` is on (system.ts: XGETBV, XSETBV, CPUID leaf 0DH; xsave.ts: XSAVE, XRSTOR) */
  readonly xsave: boolean;
  /**
   * The XCR0 bits XSETBV accepts (CPUID.(0DH,0):EAX; SDM vol. 1, 13.2 and
   * 13.3): x87 (bit 0) always, SSE (bit 1) with sse, PKRU (bit 9) with pku;
   * 0 without xsave.
   */
  readonly xcr0Supported: number;

  /**
   * @param spec a comma-separated list of `+name` (turn on) and `-name`
   *   (turn off), applied in order to the defaults; '' or undefined for the
   *   defaults. Throws CpuFeatureError naming the item that is wrong.
   */
  constructor(spec = '') {
    const on = new Set(CPU_FEATURES.filter((f) => f.byDefault).map((f) => f.name));
    for (const raw of spec.split(',')) {
      const item = raw.trim();
      if (item === '') continue;
      const sign = item[0];
      const name = item.slice(1).toLowerCase();
      if (sign !== '+' && sign !== '-') throw new CpuFeatureError(`'${item}' must be +NAME (turn on) or -NAME (turn off)`);
      if (!CPU_FEATURES.some((f) => f.name === name)) throw new CpuFeatureError(`no feature '${name}' (the features: ${CPU_FEATURES.map((f) => f.name).join(', ')})`);
      if (sign === '+') on.add(name);
      else on.delete(name);
    }
    for (const f of CPU_FEATURES) {
      if (f.needs !== undefined && on.has(f.name) && !on.has(f.needs)) throw new CpuFeatureError(`'${f.name}' needs '${f.needs}' (+${f.needs},+${f.name})`);
    }
    this.on = on;
    let l1 = LEAF1_EDX_FIXED, l1c = 0, l7 = 0, l7c = 0, e1 = 0, cr4 = 0, efer = 0;
    for (const f of CPU_FEATURES) {
      const has = on.has(f.name);
      if (has) {
        if (f.leaf === 1) {
          if (f.reg === 'ecx') l1c |= 1 << f.bit;
          else l1 |= 1 << f.bit;
        } else if (f.leaf === 7) {
          if (f.reg === 'ecx') l7c |= 1 << f.bit;
          else l7 |= 1 << f.bit;
        } else e1 |= 1 << f.bit;
      } else {
        cr4 |= f.cr4 ?? 0;
        efer |= f.efer ?? 0;
      }
    }
    this.sse = on.has('sse');
    this.sse2 = on.has('sse2');
    this.lm = on.has('lm');
    this.invpcid = on.has('invpcid');
    this.la57 = on.has('la57');
    this.pdpe1gb = on.has('pdpe1gb');
    this.pku = on.has('pku');
    this.rdtscp = on.has('rdtscp');
    this.rdpid = on.has('rdpid');
    this.xsave = on.has('xsave');
    this.xcr0Supported = this.xsave ? 1 | (this.sse ? XCR0_SSE : 0) | (this.pku ? XCR0_PKRU : 0) : 0;
    if (this.sse2) l1 |= LEAF1_EDX_CLFSH;
    // What lm brings with it (long.ts): SYSCALL in 64-bit mode (80000001h EDX bit 11), CMPXCHG16B (CX16, leaf 1
    // ECX bit 13) and LAHF/SAHF in 64-bit mode (LAHF-SAHF, 80000001h ECX bit 0)
    if (this.lm) {
      e1 |= 1 << 11;
      l1c |= 1 << 13;
    }
    this.ext1Ecx = this.lm ? 1 : 0;
    this.leaf1Edx = l1 | 0;
    this.leaf1Ebx = this.sse2 ? LEAF1_EBX_CLFLUSH_64 : 0;
    this.leaf1Ecx = l1c | 0;
    this.leaf7Ebx = l7 | 0;
    this.leaf7Ecx = l7c | 0;
    this.ext1Edx = e1 | 0;
    this.maxLeaf = this.xsave ? 0xd : l7 !== 0 || l7c !== 0 ? 7 : 2;
    this.cr4Refused = cr4;
    this.eferRefused = efer;
  }

  has(name: string): boolean {
    return this.on.has(name);
  }

  /** The specification that gives these features, relative to the defaults ('' for the defaults). */
  toString(): string {
    const items: string[] = [];
    for (const f of CPU_FEATURES) {
      if (f.byDefault && !this.on.has(f.name)) items.push(`-${f.name}`);
      if (!f.byDefault && this.on.has(f.name)) items.push(`+${f.name}`);
    }
    return items.join(',');
  }
}

/** A malformed `--cpu` specification. */
export class CpuFeatureError extends Error {}
