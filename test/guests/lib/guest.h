/* guest.h - what the C test kernels share: fixed-size types, port I/O, RDMSR, CPUID, the
 * polled 16550A console at 0x3f8 and isa-debug-exit at 0xf4. Each kernel
 * includes it once; functions a kernel does not call are not emitted
 * (static, marked unused). */
#ifndef GUEST_H
#define GUEST_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

#define GUEST_UNUSED __attribute__((unused))

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u64 rdmsr(u32 msr) { u32 lo, hi; __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr)); return ((u64)hi << 32) | lo; }
static inline void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* --- console: 16550A UART at 0x3f8, polled; isa-debug-exit at 0xf4 --------- */
#define COM1 0x3f8
static GUEST_UNUSED void console_init(void)
{
    outb(COM1 + 1, 0x00);   /* no UART interrupts */
    outb(COM1 + 3, 0x80);   /* DLAB */
    outb(COM1 + 0, 0x01);   /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);   /* 8N1 */
    outb(COM1 + 2, 0x07);   /* FIFOs on, cleared */
    outb(COM1 + 4, 0x03);   /* DTR, RTS */
}
static GUEST_UNUSED void putc(char c)
{
    while (!(inb(COM1 + 5) & 0x20))
        ;
    outb(COM1, (u8)c);
}
static GUEST_UNUSED void puts(const char *s) { while (*s) putc(*s++); }
static GUEST_UNUSED void putdec(u32 v)
{
    char buf[12];
    int n = 0;
    do { buf[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) putc(buf[--n]);
}
static GUEST_UNUSED void puthex(u32 v)
{
    puts("0x");
    for (int i = 28; i >= 0; i -= 4) putc("0123456789abcdef"[(v >> i) & 15]);
}
static GUEST_UNUSED void __attribute__((noreturn)) exit_with(u32 v)
{
    outl(0xf4, v);
    for (;;) __asm__ volatile("cli; hlt");
}

static GUEST_UNUSED u32 checks_run, checks_failed, first_failure;
/* check: one TAP-style line ("ok N - what" or "not ok N - what: got, want"); remembers the first failing check's number */
static GUEST_UNUSED void check(const char *what, u32 got, u32 want)
{
    checks_run++;
    if (got == want) {
        puts("ok "); putdec(checks_run); puts(" - "); puts(what); putc('\n');
        return;
    }
    checks_failed++;
    if (!first_failure) first_failure = checks_run;
    puts("not ok "); putdec(checks_run); puts(" - "); puts(what);
    puts(": got "); puthex(got); puts(", want "); puthex(want); putc('\n');
}

#endif
