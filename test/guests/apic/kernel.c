/* kernel.c - the local APIC and the IOAPIC as an operating system finds and
 * drives them (Intel SDM vol. 3A, "Advanced Programmable Interrupt
 * Controller"; MultiProcessor Specification 1.4; 82093AA IOAPIC datasheet):
 *
 *   - CPUID.1:EDX.APIC, IA32_APIC_BASE, the version register and the
 *     virtual-wire state a BIOS leaves (LINT0 ExtINT, LINT1 NMI)
 *   - the MP table, found by scanning 0xF0000-0xFFFFF: its checksums, one
 *     (bootstrap) processor, the IOAPIC, the pins of ISA IRQ 0 and 4
 *   - the 8259's IRQ 0 through LINT0 (virtual wire mode)
 *   - the task priority holding back an interrupt, the processor priority,
 *     the order of pending interrupts, and the in-service class holding
 *     back its own class but not a higher one (nesting)
 *   - IPIs: to self by shorthand, by physical ID and by logical (flat)
 *     destination; INIT and start-up to all but self find no one
 *   - the timer: one-shot, periodic, masked
 *   - the IOAPIC: the PIT through the pin the MP table names, edge-triggered;
 *     the UART's THR-empty interrupt as a level-triggered pin, whose remote
 *     IRR is set until the EOI, and which is sent again after the EOI while
 *     the line stays asserted
 *
 * Only what follows from the rules is printed (counts, register values,
 * orders), never a time, so the output is the same under any timing. */
#include "guest.h"

/* one instruction with interrupts enabled: pending interrupts are taken after the NOP (STI's shadow) */
static inline void window(void) { __asm__ volatile("sti; nop; cli" : : : "memory"); }
/* wait for one interrupt */
static inline void wait_irq(void) { __asm__ volatile("sti; hlt; cli" : : : "memory"); }

void *memset(void *d, int c, unsigned n) { u8 *p = d; while (n--) *p++ = (u8)c; return d; }

static void __attribute__((noreturn)) panic(const char *why, u32 a)
{
    puts("panic: "); puts(why); putc(' '); puthex(a); putc('\n');
    exit_with(0x7f);
}

/* --- the IDT: every vector an interrupt gate to its stub in entry.asm --- */
static u64 idt[256];
extern const u32 stub_table[256];
static void idt_init(void)
{
    for (int v = 0; v < 256; v++) {
        u32 h = stub_table[v];
        idt[v] = (h & 0xffff) | ((u64)0x08 << 16) | ((u64)0x8e << 40) | ((u64)(h >> 16) << 48);
    }
    struct { u16 limit; u32 base; } __attribute__((packed)) idtr = { sizeof idt - 1, (u32)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

/* --- the local APIC and the IOAPIC ----------------------------------------- */
#define LAPIC 0xfee00000u
static u32 lr(u32 off) { return *(volatile u32 *)(LAPIC + off); }
static void lw(u32 off, u32 v) { *(volatile u32 *)(LAPIC + off) = v; }
#define L_ID 0x20
#define L_VER 0x30
#define L_TPR 0x80
#define L_PPR 0xa0
#define L_EOI 0xb0
#define L_LDR 0xd0
#define L_DFR 0xe0
#define L_SVR 0xf0
#define L_ISR 0x100
#define L_IRR 0x200
#define L_ICR 0x300
#define L_ICR2 0x310
#define L_TIMER 0x320
#define L_LINT0 0x350
#define L_LINT1 0x360
#define L_TICR 0x380
#define L_TCCR 0x390
#define L_TDCR 0x3e0
#define ICR_SELF 0x40000u
#define ICR_ALL_BUT_SELF 0xc0000u
#define ICR_LOGICAL 0x800u
static u32 bit_of(u32 bank, u32 v) { return (lr(bank + (v >> 5) * 0x10) >> (v & 31)) & 1; }
static void self_ipi(u32 v) { lw(L_ICR, ICR_SELF | v); }

static u32 ioapic;
static u32 ior(u32 index) { *(volatile u32 *)ioapic = index; return *(volatile u32 *)(ioapic + 0x10); }
static void iow(u32 index, u32 v) { *(volatile u32 *)ioapic = index; *(volatile u32 *)(ioapic + 0x10) = v; }

/* --- what the interrupt handlers record ------------------------------------ */
static volatile u32 count[256];
static volatile u32 order[16], norder;
static volatile u32 nest_test, ppr_nested, uart_pin, remote_irr_in_handler;

void trap(u32 v)
{
    count[v]++;
    if (norder < 16) order[norder++] = v;
    if (v < 32) panic("exception", v);
    if (v >= 0x20 && v < 0x30) {        /* the 8259s (virtual wire) */
        if (v >= 0x28) outb(0xa0, 0x20);
        outb(0x20, 0x20);
        return;
    }
    if (v == 0xff) return;              /* spurious: no EOI (SDM) */
    if (v == 0x65 && nest_test) {
        /* 0x6a is of the class in service: held; 0x75 is above it: taken here */
        self_ipi(0x6a);
        self_ipi(0x75);
        window();
        ppr_nested = lr(L_PPR);
    }
    if (v == 0x34) {                    /* the UART, level-triggered */
        if (count[0x34] == 1) {
            remote_irr_in_handler = (ior(0x10 + 2 * uart_pin) >> 14) & 1;
        } else {
            (void)inb(COM1 + 2);        /* reading IIR ends the THR-empty interrupt */
        }
    }
    lw(L_EOI, 0);
}

/* --- the MP table ----------------------------------------------------------- */
static u32 sum(const u8 *p, u32 n) { u32 s = 0; while (n--) s += *p++; return s & 0xff; }
static const u8 *find_mp(void)
{
    for (u32 a = 0xf0000; a < 0x100000; a += 16) {
        const u8 *p = (const u8 *)a;
        if (p[0] == '_' && p[1] == 'M' && p[2] == 'P' && p[3] == '_' && sum(p, 16) == 0) return p;
    }
    return 0;
}
static u32 rd32(const u8 *p) { return p[0] | (p[1] << 8) | (p[2] << 16) | ((u32)p[3] << 24); }

static u32 irq_pin[16];

static void mp_table(void)
{
    const u8 *fp = find_mp();
    check("MP floating pointer in 0xF0000-0xFFFFF with a valid checksum", fp != 0, 1);
    if (!fp) return;
    const u8 *t = (const u8 *)rd32(fp + 4);
    u32 len = t[4] | (t[5] << 8), n = t[34] | (t[35] << 8);
    check("configuration table signature PCMP", rd32(t), 0x504d4350);
    check("configuration table checksum", sum(t, len), 0);
    check("local APIC address in the table", rd32(t + 36), LAPIC);
    u32 cpus = 0, bsp = 0, ioapics = 0, isa = 0xff;
    for (u32 i = 0; i < 16; i++) irq_pin[i] = 0xff;
    const u8 *e = t + 44;
    for (u32 k = 0; k < n; k++) {
        if (e[0] == 0) { cpus++; if (e[3] & 2) bsp++; e += 20; continue; }
        if (e[0] == 1 && e[2] == 'I' && e[3] == 'S' && e[4] == 'A') isa = e[1];
        if (e[0] == 2) { ioapics++; ioapic = rd32(e + 4); }
        if (e[0] == 3 && e[1] == 0 && e[4] == isa && e[5] < 16) irq_pin[e[5]] = e[7];
        e += 8;
    }
    check("one processor, the bootstrap processor", cpus * 16 + bsp, 0x11);
    check("one IOAPIC, at 0xFEC00000", ioapics == 1 ? ioapic : 0, 0xfec00000);
    check("ISA IRQ 0 (the PIT) at IOAPIC pin 2", irq_pin[0], 2);
    check("ISA IRQ 4 (COM1) at IOAPIC pin 4", irq_pin[4], 4);
}

/* --- the tests ---------------------------------------------------------------- */
static void pic_init(u8 master_mask)
{
    outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
    outb(0xa0, 0x11); outb(0xa1, 0x28); outb(0xa1, 0x02); outb(0xa1, 0x01);
    outb(0x21, master_mask);
    outb(0xa1, 0xff);
}
static void pit_periodic(u16 count)
{
    outb(0x43, 0x34);                   /* channel 0, lobyte/hibyte, mode 2 */
    outb(0x40, (u8)count);
    outb(0x40, (u8)(count >> 8));
}
static void wait_for(u32 v, u32 n)
{
    for (u32 guard = 0; count[v] < n && guard < 100000; guard++) wait_irq();
}
static void clear_counts(void) { for (int v = 0; v < 256; v++) count[v] = 0; norder = 0; }
static u32 total(void) { u32 s = 0; for (int v = 0; v < 256; v++) s += count[v]; return s; }

static void identity(void)
{
    u32 a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    check("CPUID.1:EDX.APIC", (d >> 9) & 1, 1);
    u64 base = rdmsr(0x1b);
    check("IA32_APIC_BASE: 0xFEE00000, BSP, enabled", (u32)base & 0xfffff900, 0xfee00900);
    check("version register: xAPIC 0x14, max LVT entry 5", lr(L_VER), 0x00050014);
    check("SVR: enabled, spurious vector 0xFF", lr(L_SVR) & 0x1ff, 0x1ff);
    check("LINT0: ExtINT, unmasked (virtual wire)", lr(L_LINT0) & 0x10700, 0x700);
    check("LINT1: NMI", lr(L_LINT1) & 0x10700, 0x400);
}

static void virtual_wire(void)
{
    clear_counts();
    pic_init(0xfe);                     /* IRQ 0 only */
    pit_periodic(11932);                /* 100 Hz */
    wait_for(0x20, 3);
    check("8259 IRQ 0 through LINT0: three interrupts at vector 0x20", count[0x20], 3);
    outb(0x21, 0xff);
    check("nothing else arrived", total(), 3);
}

static void priorities(void)
{
    clear_counts();
    lw(L_TPR, 0x50);
    self_ipi(0x45);
    check("a self IPI is requested (IRR)", bit_of(L_IRR, 0x45), 1);
    window();
    check("TPR 0x50 holds back vector 0x45", count[0x45], 0);
    check("PPR follows TPR", lr(L_PPR), 0x50);
    lw(L_TPR, 0x40);
    window();
    check("TPR 0x40 (its own class) still holds it back", count[0x45], 0);
    lw(L_TPR, 0x3f);
    window();
    check("TPR 0x3F lets it through", count[0x45], 1);
    check("EOI ended it (ISR clear)", bit_of(L_ISR, 0x45), 0);
    lw(L_TPR, 0);

    clear_counts();
    self_ipi(0x41); self_ipi(0x5e); self_ipi(0x71); self_ipi(0x6f);
    window();
    check("four pending interrupts taken highest first", (order[0] << 24) | (order[1] << 16) | (order[2] << 8) | order[3], 0x716f5e41);

    clear_counts();
    nest_test = 1;
    self_ipi(0x65);
    window();
    nest_test = 0;
    check("in service 0x65: 0x75 nested, 0x6a after the EOI", (order[0] << 16) | (order[1] << 8) | order[2], 0x65756a);
    check("PPR while 0x65 is in service", ppr_nested, 0x60);
    check("three interrupts in all", total(), 3);
}

static void ipis(void)
{
    clear_counts();
    u32 id = lr(L_ID) >> 24;
    lw(L_ICR2, id << 24);
    lw(L_ICR, 0x4a);                    /* physical destination: this APIC */
    window();
    check("IPI to its own APIC ID", count[0x4a], 1);
    lw(L_DFR, 0xffffffff);              /* flat model */
    lw(L_LDR, 0x01000000);
    lw(L_ICR2, 0x01000000);
    lw(L_ICR, ICR_LOGICAL | 0x4b);
    lw(L_ICR2, 0x02000000);
    lw(L_ICR, ICR_LOGICAL | 0x4c);
    window();
    check("logical IPI to its group arrives", count[0x4b], 1);
    check("logical IPI to another group does not", count[0x4c], 0);
    lw(L_ICR, ICR_ALL_BUT_SELF | 0x4500);   /* INIT */
    lw(L_ICR, ICR_ALL_BUT_SELF | 0x4608);   /* start-up */
    for (u32 guard = 0; (lr(L_ICR) & 0x1000) && guard < 1000000; guard++)
        ;
    window();
    check("INIT and start-up to all but self: delivered to no one, ICR idle", (lr(L_ICR) & 0x1000) | total(), 2);
}

static void timer(void)
{
    clear_counts();
    lw(L_TDCR, 0x3);                    /* divide by 16 */
    lw(L_TIMER, 0x50);                  /* one-shot, vector 0x50 */
    lw(L_TICR, 10000);
    u32 cur = lr(L_TCCR);
    check("one-shot: the count runs down from the initial count", cur > 0 && cur <= 10000, 1);
    wait_for(0x50, 1);
    check("one-shot: one interrupt", count[0x50], 1);
    check("one-shot: the count stays at 0", lr(L_TCCR), 0);

    lw(L_TIMER, 0x20051);               /* periodic, vector 0x51 */
    lw(L_TICR, 5000);
    wait_for(0x51, 5);
    lw(L_TIMER, 0x30051);               /* masked */
    cur = lr(L_TCCR);
    check("periodic: five interrupts", count[0x51], 5);
    check("periodic: the count reloads (never 0)", cur > 0 && cur <= 5000, 1);
    lw(L_TICR, 0);
    check("an initial count of 0 stops it", lr(L_TCCR), 0);

    lw(L_TDCR, 0xb);                    /* divide by 1 */
    lw(L_TIMER, 0x10052);               /* one-shot, masked */
    lw(L_TICR, 100);
    for (u32 guard = 0; lr(L_TCCR) != 0 && guard < 1000000; guard++)
        ;
    window();
    check("masked: the count reaches 0", lr(L_TCCR), 0);
    check("masked: no interrupt", count[0x52], 0);
    check("no other interrupt", total(), 6);
}

static void io_apic(void)
{
    clear_counts();
    u32 id = lr(L_ID) >> 24;
    check("IOAPIC: 24 redirection entries", (ior(1) >> 16) & 0xff, 23);
    u32 pin = irq_pin[0];
    check("the PIT's entry is masked at reset", ior(0x10 + 2 * pin) & 0x10000, 0x10000);
    lw(L_LINT0, 0x10700);               /* the 8259s no longer reach the CPU */
    outb(0x21, 0xfe);                   /* (and would not be seen if they did) */
    iow(0x11 + 2 * pin, id << 24);
    iow(0x10 + 2 * pin, 0x30);          /* fixed, physical, edge, active high, vector 0x30 */
    check("the entry reads back", ior(0x10 + 2 * pin) & 0x1ffff, 0x30);
    wait_for(0x30, 3);
    iow(0x10 + 2 * pin, 0x10030);
    check("the PIT through the IOAPIC: three interrupts at vector 0x30", count[0x30], 3);
    check("none through the 8259s", count[0x20], 0);
    outb(0x21, 0xff);

    /* COM1's THR-empty interrupt, level-triggered: nothing is printed until
     * it is off again (printing would raise it) */
    clear_counts();
    uart_pin = irq_pin[4];
    iow(0x11 + 2 * uart_pin, id << 24);
    iow(0x10 + 2 * uart_pin, 0x8000 | 0x34);
    outb(COM1 + 4, 0x0b);               /* OUT2: the UART drives its IRQ line */
    outb(COM1 + 1, 0x02);               /* THR-empty interrupt on: pending at once */
    for (u32 guard = 0; count[0x34] < 2 && guard < 100000; guard++) window();
    outb(COM1 + 1, 0x00);
    u32 after = ior(0x10 + 2 * uart_pin);
    iow(0x10 + 2 * uart_pin, 0x18034);
    outb(COM1 + 4, 0x03);
    check("level pin: remote IRR set while the interrupt is in service", remote_irr_in_handler, 1);
    check("level pin: sent again after the EOI while asserted, then not", count[0x34], 2);
    check("level pin: remote IRR clear after the last EOI", (after >> 14) & 1, 0);
}

void kmain(void)
{
    console_init();
    idt_init();
    puts("apic: the local APIC and the IOAPIC\n");
    identity();
    mp_table();
    if (!ioapic) panic("no IOAPIC in the MP table", 0);
    virtual_wire();
    priorities();
    ipis();
    timer();
    io_apic();
    check("no spurious interrupt", count[0xff], 0);
    puts(checks_failed ? "FAILED: " : "PASSED: ");
    putdec(checks_run - checks_failed); puts(" of "); putdec(checks_run); puts(" checks\n");
    exit_with(checks_failed ? 3 : 0);
}
