/* kernel.c - a tiny multitasking kernel, as an acceptance test of the CPU and
 * MMU (Intel SDM Vol. 3A chapters 4-7):
 *
 *   - 32-bit paging; every process has its own page directory; the kernel's
 *     page tables (0-24 MiB, identity) are shared by all of them and marked
 *     global (CR4.PGE, G bit, SDM 4.10.2.4), and checked to be flushed by a
 *     CR4.PGE toggle and by INVLPG (SDM 4.10.4.1)
 *   - CPL 3 processes; the TSS gives the CPU each process's kernel stack
 *     (SDM 7.2.1); system calls through INT 0x80 (a DPL 3 interrupt gate)
 *   - demand paging: user heap and stack pages are mapped on first touch with
 *     zeroed frames, in the #PF handler (error code, CR2; SDM 4.7)
 *   - copy-on-write fork: both address spaces share the frames read-only; the
 *     first write copies (or, for the last sharer, just makes it writable
 *     again), and the edited PTE is flushed with INVLPG
 *   - preemption: the 8254 PIT (channel 0, mode 2) at 1000 Hz, IRQ 0 through
 *     the 8259 PIC at vector 32, preempts whatever user process runs
 *
 * The output does not depend on how the processes interleave: results are
 * printed in pid order after every process has exited, frames are never
 * freed (so a COW write copies exactly when another sharer still exists),
 * and only counts that follow from the programs are printed (no ticks, no
 * context switches). */
#include "guest.h"
#include "kernel.h"

/* --- port I/O, control registers --------------------------------------- */
static inline u32 read_cr0(void) { u32 v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline void write_cr0(u32 v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline u32 read_cr2(void) { u32 v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline void write_cr3(u32 v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline u32 read_cr4(void) { u32 v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr4(u32 v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void invlpg(u32 va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }

/* freestanding gcc may still call these */
void *memset(void *d, int c, unsigned n) { u8 *p = d; while (n--) *p++ = (u8)c; return d; }
void *memcpy(void *d, const void *s, unsigned n) { u8 *p = d; const u8 *q = s; while (n--) *p++ = *q++; return d; }

static void __attribute__((noreturn)) panic(const char *why, u32 a, u32 b)
{
    puts("panic: "); puts(why); putc(' '); puthex(a); putc(' '); puthex(b); putc('\n');
    exit_with(0x7f);
}

/* --- segments, TSS, IDT (SDM 3.4.5, 7.2.1, 6.11) --------------------------- */
#define KCODE 0x08
#define KDATA 0x10
#define UCODE (0x18 | 3)
#define UDATA (0x20 | 3)
#define TSS_SEL 0x28

struct tss {
    u32 link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    u32 eax, ecx, edx, ebx, esp, ebp, esi, edi, es, cs, ss, ds, fs, gs, ldt;
    u16 trap, iomap_base;
};
static struct tss tss;
static u64 gdt[6] = {
    0,
    0x00cf9a000000ffffull,  /* kernel code */
    0x00cf92000000ffffull,  /* kernel data */
    0x00cffa000000ffffull,  /* user code, DPL 3 */
    0x00cff2000000ffffull,  /* user data, DPL 3 */
    0,                      /* TSS, filled in at run time */
};
static u64 idt[256];
extern const u32 trap_vectors[49];   /* entry.asm: stubs for 0-47 and 0x80 */

static void set_gate(int vector, u32 handler, int dpl)
{
    /* 32-bit interrupt gate: IF is cleared on entry, so the kernel never nests */
    idt[vector] = (handler & 0xffff) | ((u64)KCODE << 16) | ((u64)(0x8e | (dpl << 5)) << 40)
                | ((u64)(handler >> 16) << 48);
}

static void cpu_tables_init(void)
{
    u32 base = (u32)&tss;
    gdt[5] = (sizeof tss - 1) | ((u64)(base & 0xffffff) << 16) | (0x89ull << 40) | ((u64)(base >> 24) << 56);
    tss.ss0 = KDATA;
    tss.iomap_base = sizeof tss;     /* no I/O bitmap: CPL 3 port access faults */
    struct { u16 limit; u32 base; } __attribute__((packed)) gdtr = { sizeof gdt - 1, (u32)gdt };
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp $0x08, $1f\n"
                     "1: mov $0x10, %%ax\n\t"
                     "mov %%ax, %%ds\n\tmov %%ax, %%es\n\tmov %%ax, %%fs\n\tmov %%ax, %%gs\n\tmov %%ax, %%ss\n\t"
                     "mov $0x28, %%ax\n\tltr %%ax"
                     : : "m"(gdtr) : "eax", "memory");
    for (int v = 0; v < 48; v++) set_gate(v, trap_vectors[v], 0);
    set_gate(0x80, trap_vectors[48], 3);
    struct { u16 limit; u32 base; } __attribute__((packed)) idtr = { sizeof idt - 1, (u32)idt };
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

/* --- 8259 PIC and 8254 PIT ------------------------------------------------ */
#define PIT_HZ 1000
static void pic_pit_init(void)
{
    /* ICW1-4: edge-triggered, cascade, vectors 32-39 and 40-47, 8086 mode */
    outb(0x20, 0x11); outb(0xa0, 0x11);
    outb(0x21, 32);   outb(0xa1, 40);
    outb(0x21, 0x04); outb(0xa1, 0x02);
    outb(0x21, 0x01); outb(0xa1, 0x01);
    outb(0x21, 0xfe); outb(0xa1, 0xff);     /* only IRQ 0 */
    /* channel 0, lobyte/hibyte, mode 2 (rate generator), binary */
    u32 divisor = (1193182 + PIT_HZ / 2) / PIT_HZ;
    outb(0x43, 0x34);
    outb(0x40, (u8)divisor);
    outb(0x40, (u8)(divisor >> 8));
}

/* --- paging (SDM 4.3) ------------------------------------------------------- */
#define PTE_P   0x001
#define PTE_W   0x002
#define PTE_U   0x004
#define PTE_G   0x100
#define PTE_COW 0x200       /* available to software: shared copy-on-write */
#define PTE_IMG 0x400       /* available to software: a frame of the user image, never copied or counted */
#define CR0_WP  (1u << 16)
#define CR0_PG  (1u << 31)
#define CR4_PGE (1u << 7)

#define KERNEL_MB 24                      /* identity-mapped, global, supervisor */
#define POOL_BASE 0x01000000u             /* frames handed out: 16 MiB .. 24 MiB */
#define POOL_FRAMES 2048
#define USER_BASE 0x40000000u
#define HEAP_LIMIT (USER_HEAP + 0x00400000u)
#define STACK_LIMIT 0x7f000000u

static u32 kernel_pt[KERNEL_MB / 4][1024] __attribute__((aligned(4096)));
static u32 kernel_pd[1024] __attribute__((aligned(4096)));
static u8 refcount[POOL_FRAMES];
static u32 next_frame;                    /* never freed: see the comment at the top */
extern char _user_load[], _user_size[];   /* multitask.ld */

/* frame_alloc: a zeroed 4 KiB frame from the pool (identity-mapped), refcount 1 */
static u32 *frame_alloc(void)
{
    if (next_frame == POOL_FRAMES) panic("out of frames", 0, 0);
    u32 pa = POOL_BASE + next_frame * 4096;
    refcount[next_frame++] = 1;
    memset((void *)pa, 0, 4096);
    return (u32 *)pa;
}
static u8 *frame_ref(u32 pa) { return &refcount[(pa - POOL_BASE) >> 12]; }

/* pte_of: the PTE for va in page directory pd, creating the page table
 * (user-accessible, writable at the PDE level) when create is set; 0 if absent. */
static u32 *pte_of(u32 *pd, u32 va, int create)
{
    u32 *pde = &pd[va >> 22];
    if (!(*pde & PTE_P)) {
        if (!create) return 0;
        *pde = (u32)frame_alloc() | PTE_P | PTE_W | PTE_U;
    }
    return (u32 *)(*pde & ~0xfffu) + ((va >> 12) & 1023);
}

static void paging_init(void)
{
    for (u32 t = 0; t < KERNEL_MB / 4; t++) {
        for (u32 i = 0; i < 1024; i++)
            kernel_pt[t][i] = (t << 22) | (i << 12) | PTE_P | PTE_W | PTE_G;
        kernel_pd[t] = (u32)kernel_pt[t] | PTE_P | PTE_W;
    }
    write_cr3((u32)kernel_pd);
    write_cr4(read_cr4() | CR4_PGE);
    write_cr0(read_cr0() | CR0_PG | CR0_WP);
}

/* Global entries survive CR3 loads; a CR4.PGE toggle and INVLPG flush them
 * (SDM 4.10.4.1). The kernel page at 15 MiB is remapped to the next frame and
 * back; whether a stale entry would still be used without the flush is not
 * checked (the TLB may drop entries at any time). */
static void global_page_checks(void)
{
    volatile u32 *a = (volatile u32 *)0x00f00000, *b = (volatile u32 *)0x00f01000;
    volatile u32 *pte = &kernel_pt[0x00f00000 >> 22][(0x00f00000 >> 12) & 1023];
    *a = 0xaaaa5555;
    *b = 0xbbbb6666;
    u32 seen = *a;                         /* the global entry is in the TLB now */
    *pte = 0x00f01000 | PTE_P | PTE_W | PTE_G;
    write_cr4(read_cr4() & ~CR4_PGE);
    write_cr4(read_cr4() | CR4_PGE);
    u32 after_toggle = *a;
    *pte = 0x00f00000 | PTE_P | PTE_W | PTE_G;
    invlpg(0x00f00000);
    u32 after_invlpg = *a;
    check("kernel: global page reads its frame", seen, 0xaaaa5555);
    check("kernel: PTE edited, CR4.PGE toggled: the new frame shows", after_toggle, 0xbbbb6666);
    check("kernel: PTE edited back, INVLPG: the old frame shows", after_invlpg, 0xaaaa5555);
}

/* --- processes ----------------------------------------------------------- */
struct trapframe {
    u32 edi, esi, ebp, esp_pushad, ebx, edx, ecx, eax;   /* pushad */
    u32 gs, fs, es, ds;
    u32 vector, error;
    u32 eip, cs, eflags, esp, ss;                        /* pushed by the CPU; esp, ss only from CPL 3 */
};

enum { UNUSED, RUNNABLE, BLOCKED, ZOMBIE };
#define NPROC 6
#define NREPORT 8
struct proc {
    int state, pid, parent, exit_code, waiting_for;
    const char *name;
    u32 *pd;
    u32 kesp;                      /* saved kernel ESP while not running */
    u32 demand_faults, cow_faults, preempted;
    int nreports;
    char labels[NREPORT][48];
    u32 values[NREPORT];
};
static struct proc procs[NPROC];
static u8 kstacks[NPROC][4096] __attribute__((aligned(4096)));
static struct proc *current;
static u32 scheduler_esp;
static u32 cow_copies, cow_reuses, nprocs;
extern void swtch(u32 *save_esp, u32 load_esp);
extern void trapret(void);

static struct proc *proc_alloc(const char *name)
{
    struct proc *p = &procs[nprocs];
    if (nprocs == NPROC) panic("too many processes", 0, 0);
    p->pid = (int)++nprocs;
    p->name = name;
    p->pd = frame_alloc();
    for (u32 t = 0; t < KERNEL_MB / 4; t++) p->pd[t] = kernel_pd[t];
    /* the initial kernel stack: a trapframe for trapret, then swtch's frame */
    u32 *sp = (u32 *)(kstacks[p - procs] + 4096);
    sp -= sizeof(struct trapframe) / 4;
    struct trapframe *tf = (struct trapframe *)sp;
    memset(tf, 0, sizeof *tf);
    tf->ds = tf->es = tf->fs = tf->gs = UDATA;
    tf->cs = UCODE;
    tf->ss = UDATA;
    tf->esp = USER_STACK;
    tf->eflags = 0x202;            /* IF = 1 */
    *--sp = (u32)trapret;
    sp -= 4;                       /* ebp, ebx, esi, edi for swtch */
    p->kesp = (u32)sp;
    return p;
}

static struct proc *spawn(const char *name, void (*entry)(void))
{
    struct proc *p = proc_alloc(name);
    u32 pages = ((u32)_user_size + 4095) / 4096;
    for (u32 i = 0; i < pages; i++)
        *pte_of(p->pd, USER_BASE + i * 4096, 1) = ((u32)_user_load + i * 4096) | PTE_P | PTE_U | PTE_IMG;
    ((struct trapframe *)(kstacks[p - procs] + 4096 - sizeof(struct trapframe)))->eip = (u32)entry;
    p->state = RUNNABLE;
    return p;
}

/* fork: the child shares every user frame. Writable pages become read-only
 * and COW in both; the parent's edited PTEs are flushed with INVLPG. */
static int fork(struct trapframe *tf)
{
    struct proc *parent = current, *child = proc_alloc(parent->name);
    for (u32 t = KERNEL_MB / 4; t < 1024; t++) {
        if (!(parent->pd[t] & PTE_P)) continue;
        u32 *ppt = (u32 *)(parent->pd[t] & ~0xfffu);
        for (u32 i = 0; i < 1024; i++) {
            u32 pte = ppt[i];
            if (!(pte & PTE_P)) continue;
            u32 va = (t << 22) | (i << 12);
            if (pte & PTE_W) {
                pte = (pte & ~PTE_W) | PTE_COW;
                ppt[i] = pte;
                invlpg(va);
            }
            if (!(pte & PTE_IMG)) ++*frame_ref(pte & ~0xfffu);
            *pte_of(child->pd, va, 1) = pte;
        }
    }
    struct trapframe *ctf = (struct trapframe *)(kstacks[child - procs] + 4096 - sizeof(struct trapframe));
    *ctf = *tf;
    ctf->eax = 0;
    child->parent = parent->pid;
    child->state = RUNNABLE;
    return child->pid;
}

static void page_fault(struct trapframe *tf)
{
    u32 va = read_cr2(), err = tf->error;
    if (!(tf->cs & 3)) panic("page fault in the kernel: cr2, error", va, err);
    u32 page = va & ~0xfffu;
    if (!(err & PTE_P)) {          /* not present: demand-zero heap or stack */
        if (!((va >= USER_HEAP && va < HEAP_LIMIT) || (va >= STACK_LIMIT && va < USER_STACK)))
            panic("user access outside heap and stack: cr2, error", va, err);
        *pte_of(current->pd, page, 1) = (u32)frame_alloc() | PTE_P | PTE_W | PTE_U;
        invlpg(page);              /* not needed for a not-present entry; harmless */
        current->demand_faults++;
        return;
    }
    u32 *pte = pte_of(current->pd, page, 0);
    if (!(err & PTE_W) || !pte || !(*pte & PTE_COW))
        panic("user protection fault: cr2, error", va, err);
    current->cow_faults++;
    u32 pa = *pte & ~0xfffu;
    if (*frame_ref(pa) > 1) {      /* still shared: copy */
        u32 *copy = frame_alloc();
        memcpy(copy, (void *)pa, 4096);
        --*frame_ref(pa);
        *pte = (u32)copy | PTE_P | PTE_W | PTE_U;
        cow_copies++;
    } else {                       /* the last sharer: take it back */
        *pte = (*pte & ~PTE_COW) | PTE_W;
        cow_reuses++;
    }
    invlpg(page);
}

static void yield(void) { swtch(&current->kesp, scheduler_esp); }

static u32 others_alive(void)
{
    u32 n = 0;
    for (u32 i = 0; i < nprocs; i++)
        if (&procs[i] != current && procs[i].state != ZOMBIE) n++;
    return n;
}

static void syscall(struct trapframe *tf)
{
    switch (tf->eax) {
    case SYS_EXIT:
        current->exit_code = (int)tf->ebx;
        current->state = ZOMBIE;
        for (u32 i = 0; i < nprocs; i++)
            if (procs[i].state == BLOCKED && procs[i].waiting_for == current->pid)
                procs[i].state = RUNNABLE;
        yield();
        panic("a zombie ran", 0, 0);
    case SYS_FORK:
        tf->eax = (u32)fork(tf);
        break;
    case SYS_WAIT: {
        int pid = (int)tf->ebx;
        if (pid < 1 || pid > (int)nprocs || procs[pid - 1].parent != current->pid) {
            tf->eax = (u32)-1;
            break;
        }
        while (procs[pid - 1].state != ZOMBIE) {
            current->state = BLOCKED;
            current->waiting_for = pid;
            yield();
        }
        tf->eax = (u32)procs[pid - 1].exit_code;
        break;
    }
    case SYS_REPORT: {
        if (current->nreports == NREPORT) panic("too many reports", 0, 0);
        /* the label lies in the user image, mapped in this address space */
        const char *s = (const char *)tf->ebx;
        char *d = current->labels[current->nreports];
        int n = 0;
        while (n < 47 && s[n]) { d[n] = s[n]; n++; }
        d[n] = 0;
        current->values[current->nreports++] = tf->ecx;
        break;
    }
    case SYS_OTHERS:
        tf->eax = others_alive();
        break;
    case SYS_GETPID:
        tf->eax = (u32)current->pid;
        break;
    default:
        panic("bad system call", tf->eax, 0);
    }
}

static u32 ticks;
void trap(struct trapframe *tf)
{
    if (tf->vector == 32) {                        /* IRQ 0: the PIT */
        ticks++;
        outb(0x20, 0x20);                          /* EOI */
        if (current && (tf->cs & 3) == 3) {        /* preempt a user process */
            current->preempted++;
            current->state = RUNNABLE;
            yield();
        }
        return;
    }
    if (tf->vector == 39 || tf->vector == 47)      /* spurious IRQ 7/15: no EOI */
        return;
    if (tf->vector == 0x80 && current) { syscall(tf); return; }
    if (tf->vector == 14 && current) { page_fault(tf); return; }
    puts("unexpected trap: vector "); puthex(tf->vector);
    puts(" error "); puthex(tf->error);
    puts(" at "); puthex(tf->cs); putc(':'); puthex(tf->eip);
    puts(" cr2 "); puthex(read_cr2()); putc('\n');
    exit_with(0x7f);
}

/* scheduler: round robin over the runnable processes, on the boot stack with
 * the kernel's own page directory; HLT with interrupts on when none can run. */
static void scheduler(void)
{
    u32 last = nprocs - 1;
    for (;;) {
        struct proc *next = 0;
        int live = 0;
        for (u32 k = 1; k <= nprocs; k++) {
            struct proc *p = &procs[(last + k) % nprocs];
            if (p->state != ZOMBIE) live = 1;
            if (p->state == RUNNABLE) { next = p; last = (u32)(p - procs); break; }
        }
        if (!next) {
            if (!live) return;
            __asm__ volatile("sti; hlt; cli");
            continue;
        }
        current = next;
        tss.esp0 = (u32)(kstacks[next - procs] + 4096);
        write_cr3((u32)next->pd);
        swtch(&scheduler_esp, next->kesp);
        write_cr3((u32)kernel_pd);
        current = 0;
    }
}

extern void hog_main(void), sieve_main(void), cow_main(void);

static u32 report_value(int pid, const char *label)
{
    struct proc *p = &procs[pid - 1];
    for (int i = 0; i < p->nreports; i++) {
        const char *a = p->labels[i], *b = label;
        while (*a && *a == *b) { a++; b++; }
        if (*a == *b) return p->values[i];
    }
    return 0xdeadbeef;
}

void kmain(u32 magic, u32 *info)
{
    console_init();
    if (magic != 0x2BADB002) { puts("boot: not started by a Multiboot loader\n"); exit_with(0x7e); }
    if (!(info[0] & 1) || info[2] < (KERNEL_MB - 1) * 1024) { puts("boot: needs 24 MiB of RAM\n"); exit_with(0x7d); }
    puts("multitask: CPL 3 processes with own page directories, demand paging,\n"
         "copy-on-write fork, global kernel pages, PIT preemption at 1000 Hz\n");
    cpu_tables_init();
    paging_init();
    global_page_checks();
    spawn("hog", hog_main);
    spawn("sieve", sieve_main);
    spawn("cow", cow_main);
    pic_pit_init();
    scheduler();
    __asm__ volatile("cli");

    u32 demand = 0, cow = 0;
    for (u32 i = 0; i < nprocs; i++) {
        struct proc *p = &procs[i];
        puts("pid "); putdec((u32)p->pid); putc(' '); puts(p->name);
        if (p->parent) { puts(" (child of "); putdec((u32)p->parent); putc(')'); }
        puts(": exit code "); puthex((u32)p->exit_code);
        puts(", demand-zero faults "); putdec(p->demand_faults);
        puts(", COW faults "); putdec(p->cow_faults); putc('\n');
        for (int r = 0; r < p->nreports; r++) {
            puts("  "); puts(p->labels[r]); puts(" = "); puthex(p->values[r]); putc('\n');
        }
        demand += p->demand_faults;
        cow += p->cow_faults;
    }
    puts("total: demand-zero faults "); putdec(demand); puts(", COW faults "); putdec(cow);
    puts(" (copies "); putdec(cow_copies); puts(", reuses "); putdec(cow_reuses);
    puts("), frames allocated "); putdec(next_frame); putc('\n');

    check("the hog was preempted by the timer while spinning", procs[0].preempted > 0, 1);
    check("hog: sum 1..1000 = 500500", report_value(1, "sum 1..1000"), 500500);
    check("sieve: fresh heap pages read as zero", report_value(2, "nonzero bytes in fresh heap pages"), 0);
    check("sieve: 9592 primes below 100000", report_value(2, "primes below 100000"), 9592);
    check("sieve: their sum is 454396537", report_value(2, "sum of those primes"), 454396537);
    check("cow child saw the parent's data after fork", report_value(4, "child: words differing from the parent's data"), 0);
    check("cow child sees its own writes and the parent's other pages", report_value(4, "child: bad words after its writes"), 0);
    check("cow parent sees its own writes, not the child's", report_value(3, "parent: bad words after its writes"), 0);
    check("cow parent: still so after the child exited", report_value(3, "parent: bad words after the child exited"), 0);
    check("cow parent: wait returned the child's exit code", report_value(3, "parent: child's exit code"), 0x42);
    check("COW faults: 6 + 6 heap pages, plus each one's stack page", cow, 14);
    check("COW copies: 9 (one per page written by either), reuses 5", cow_copies * 100 + cow_reuses, 905);
    puts("multitask: "); putdec(checks_run); puts(" checks, "); putdec(checks_failed); puts(" failed\n");
    exit_with(first_failure);
}
