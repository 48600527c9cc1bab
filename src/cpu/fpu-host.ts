/**
 * What the x87/MMX/SSE-state unit (fpu.ts) needs from the CPU core. The
 * core implements it; the FPU never touches the MMU, segments or registers
 * any other way. Every method that reads or writes guest memory applies the
 * segment checks and paging of a normal data access and, on a fault, throws
 * the core's exception (the instruction is then restarted from scratch, so
 * the FPU must not change its own state before its last memory access can
 * no longer fault).
 */
export interface FpuHost {
  /** Data reads/writes at seg:off (seg 0..5 = ES, CS, SS, DS, FS, GS). 32-bit values are int32. */
  read8(seg: number, off: number): number;
  read16(seg: number, off: number): number;
  read32(seg: number, off: number): number;
  write8(seg: number, off: number, value: number): void;
  write16(seg: number, off: number, value: number): void;
  write32(seg: number, off: number, value: number): void;
  /** Checks that `len` bytes at seg:off may be read (write=false) or written (write=true), raising the fault the access would raise; no data moves. */
  probe(seg: number, off: number, len: number, write: boolean): void;

  /** General registers, for MOVD/PMOVMSKB-style forms (index 0..7 = EAX..EDI). */
  getReg32(r: number): number;
  setReg32(r: number, value: number): void;

  /** CR0 as the core holds it (PE, MP, EM, TS, NE bits matter here). */
  readonly cr0: number;
  /** true in real mode and virtual-8086 mode (the 16-bit real-mode layouts of FSTENV/FSAVE apply) */
  readonly realMode: boolean;
  /** the current instruction's operand size is 32 bits (FSTENV/FSAVE/FRSTOR layout) */
  readonly opsize32: boolean;
  /** CS selector and EIP of the current instruction (recorded as the FPU instruction pointer) */
  readonly instrCs: number;
  readonly instrEip: number;
  /** the selector of segment register `seg` (recorded as the FPU data-pointer selector) */
  selector(seg: number): number;
  /** 64-bit mode only (long.ts's host): RIP's bits 63:32, recorded as FIP's */
  readonly ripHi64?: number;
  /** 64-bit mode only: bits 63:32 of the linear address whose low half is `off`, recorded as FDP's */
  dataHi64?(off: number): number;

  /** EFLAGS as the core holds it (FCMOVcc reads CF, PF, ZF). */
  getFlags(): number;
  /**
   * FCOMI/FCOMIP/FUCOMI/FUCOMIP result: sets ZF, PF, CF to the given bits
   * (0 or 1) and clears OF, SF and AF; no other EFLAGS bit changes.
   */
  setFlagsZPC(zf: number, pf: number, cf: number): void;

  /** Raises #NM (device not available). Does not return. */
  raiseNM(): never;
  /** Raises #MF (x87 floating-point error, CR0.NE=1). Does not return. */
  raiseMF(): never;
  /** Raises #UD. Does not return. */
  raiseUD(): never;
  /** Raises #GP(0) (e.g. FXSAVE/FXRSTOR to a misaligned address, reserved MXCSR bits). Does not return. */
  raiseGP0(): never;
  /** Drives the FERR# line (IRQ 13 through the PIC) for CR0.NE=0 error reporting. */
  setFerr(active: boolean): void;
}
