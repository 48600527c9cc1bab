/**
 * Names for x86 architectural numbers used across the CPU: segment register
 * indices, EFLAGS bits, exception vectors, descriptor bits, MSRs.
 */

// ---- segment registers (index into the CPU's segment arrays) ----
export const ES = 0;
export const CS = 1;
export const SS = 2;
export const DS = 3;
export const FS = 4;
export const GS = 5;
/** the LDTR and TR caches share the arrays */
export const LDTR = 6;
export const TR = 7;
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', 'ldtr', 'tr'] as const;

// ---- general registers ----
export const EAX = 0;
export const ECX = 1;
export const EDX = 2;
export const EBX = 3;
export const ESP = 4;
export const EBP = 5;
export const ESI = 6;
export const EDI = 7;
export const REG_NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const;

// ---- EFLAGS (SDM vol. 1, 3.4.3) ----
export const F_CF = 1 << 0;
export const F_1 = 1 << 1; // always 1
export const F_PF = 1 << 2;
export const F_AF = 1 << 4;
export const F_ZF = 1 << 6;
export const F_SF = 1 << 7;
export const F_TF = 1 << 8;
export const F_IF = 1 << 9;
export const F_DF = 1 << 10;
export const F_OF = 1 << 11;
export const F_IOPL = 3 << 12;
export const F_NT = 1 << 14;
export const F_RF = 1 << 16;
export const F_VM = 1 << 17;
export const F_AC = 1 << 18;
export const F_VIF = 1 << 19;
export const F_VIP = 1 << 20;
export const F_ID = 1 << 21;
/** the six arithmetic flags */
export const F_ARITH = F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF;
/** bits a P6 lets software change in EFLAGS (others read as fixed values) */
export const F_WRITABLE = F_ARITH | F_TF | F_IF | F_DF | F_IOPL | F_NT | F_RF | F_VM | F_AC | F_VIF | F_VIP | F_ID;

// ---- exception vectors (SDM vol. 3A, table 6-1) ----
export const V_DE = 0;
export const V_DB = 1;
export const V_NMI = 2;
export const V_BP = 3;
export const V_OF = 4;
export const V_BR = 5;
export const V_UD = 6;
export const V_NM = 7;
export const V_DF = 8;
export const V_TS = 10;
export const V_NP = 11;
export const V_SS = 12;
export const V_GP = 13;
export const V_PF = 14;
export const V_MF = 16;
export const V_AC = 17;
export const V_MC = 18;
export const V_XM = 19;
export const EXCEPTION_NAMES: Record<number, string> = {
  0: '#DE', 1: '#DB', 2: 'NMI', 3: '#BP', 4: '#OF', 5: '#BR', 6: '#UD', 7: '#NM', 8: '#DF', 10: '#TS', 11: '#NP',
  12: '#SS', 13: '#GP', 14: '#PF', 16: '#MF', 17: '#AC', 18: '#MC', 19: '#XM',
};

// ---- CR0 (SDM vol. 3A, 2.5) ----
export const CR0_PE = 1 << 0;
export const CR0_MP = 1 << 1;
export const CR0_EM = 1 << 2;
export const CR0_TS = 1 << 3;
export const CR0_ET = 1 << 4;
export const CR0_NE = 1 << 5;
export const CR0_WP = 1 << 16;
export const CR0_AM = 1 << 18;
export const CR0_NW = 1 << 29;
export const CR0_CD = 1 << 30;
export const CR0_PG = 1 << 31;
export const CR4_VME = 1 << 0;
export const CR4_PVI = 1 << 1;
export const CR4_TSD = 1 << 2;
export const CR4_DE = 1 << 3;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_MCE = 1 << 6;
export const CR4_PGE = 1 << 7;
export const CR4_PCE = 1 << 8;
export const CR4_OSFXSR = 1 << 9;
export const CR4_OSXMMEXCPT = 1 << 10;
/** CR4.OSXSAVE: the XSAVE feature set enabled (XGETBV, XSETBV, XSAVE, XRSTOR; SDM vol. 3A, 2.5), with the xsave feature */
export const CR4_OSXSAVE = 1 << 18;

// ---- descriptors (SDM vol. 3A, 3.4.5): the access-rights word as the CPU caches it ----
// ar = descriptor high dword & 0x00f0ff00: type (11:8), S (12), DPL (14:13), P (15), AVL (20), L (21), D/B (22), G (23)
export const AR_ACCESSED = 1 << 8;
export const AR_RW = 1 << 9; // data: writable; code: readable
export const AR_DC = 1 << 10; // data: expand-down; code: conforming
export const AR_CODE = 1 << 11;
export const AR_S = 1 << 12; // code/data (1) or system (0)
export const AR_DPL_SHIFT = 13;
export const AR_P = 1 << 15;
export const AR_DB = 1 << 22;
export const AR_G = 1 << 23;
/** system descriptor types (the 4-bit type field when S=0) */
export const SYS_TSS16_AVAIL = 1;
export const SYS_LDT = 2;
export const SYS_TSS16_BUSY = 3;
export const SYS_CALL16 = 4;
export const SYS_TASK = 5;
export const SYS_INT16 = 6;
export const SYS_TRAP16 = 7;
export const SYS_TSS32_AVAIL = 9;
export const SYS_TSS32_BUSY = 11;
export const SYS_CALL32 = 12;
export const SYS_INT32 = 14;
export const SYS_TRAP32 = 15;

// ---- MSRs ----
export const MSR_TSC = 0x10;
export const MSR_APIC_BASE = 0x1b;
export const MSR_SYSENTER_CS = 0x174;
export const MSR_SYSENTER_ESP = 0x175;
export const MSR_SYSENTER_EIP = 0x176;
export const MSR_MISC_ENABLE = 0x1a0;
export const MSR_PAT = 0x277;
export const MSR_EFER = 0xc0000080;
