/**
 * Interrupt lines from devices to the interrupt controller, and the
 * controller's interface to the CPU.
 */

/** Something devices raise interrupt lines on (the PIC, later an IOAPIC). */
export interface IrqSink {
  /** Sets ISA interrupt line `irq` (0..15) high (true) or low. Edge-triggered lines fire on the rising edge. */
  setIrq(irq: number, level: boolean): void;
}

/** What the CPU asks its interrupt controller. */
export interface InterruptController {
  /** Whether a maskable interrupt is pending (the INTR pin). */
  hasInterrupt(): boolean;
  /** Acknowledges the highest-priority pending interrupt and returns its vector (an INTA cycle). */
  acknowledge(): number;
}
