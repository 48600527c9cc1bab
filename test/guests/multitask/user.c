/* user.c - the user programs. They run at CPL 3 in their own address spaces,
 * linked at 0x40000000 and mapped read-only there; all their state is on the
 * stack or the heap, both demand-zero. Each reports deterministic results
 * through SYS_REPORT; the kernel prints them when every process has exited. */
#include "kernel.h"

typedef unsigned int u32;

static inline int syscall3(int n, int a, int b, int c)
{
    int r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
    return r;
}

static void sys_exit(int code) { syscall3(SYS_EXIT, code, 0, 0); for (;;) { } }
static int sys_fork(void) { return syscall3(SYS_FORK, 0, 0, 0); }
static int sys_wait(int pid) { return syscall3(SYS_WAIT, pid, 0, 0); }
static void report(const char *label, u32 value) { syscall3(SYS_REPORT, (int)label, (int)value, 0); }
static int sys_others(void) { return syscall3(SYS_OTHERS, 0, 0, 0); }

/* hog: never blocks and never yields. It spins until every other process has
 * exited, which can only happen if the timer preempts it (it runs first). */
void hog_main(void)
{
    volatile u32 spins = 0;
    while (sys_others() > 0)
        spins++;
    u32 sum = 0;
    for (u32 i = 1; i <= 1000; i++)
        sum += i;
    report("sum 1..1000", sum);
    sys_exit(0);
}

/* sieve: primes below 100000 in a 100000-byte heap array (25 demand-zero
 * pages, read as zero before being written), then a CRC-32 of its first
 * 32 KiB. */
#define SIEVE_N 100000u
void sieve_main(void)
{
    volatile unsigned char *composite = (volatile unsigned char *)USER_HEAP;
    u32 nonzero = 0;
    for (u32 i = 0; i < SIEVE_N; i += 4096)
        nonzero += composite[i];           /* fresh pages must read as zero */
    report("nonzero bytes in fresh heap pages", nonzero);
    for (u32 i = 2; i * i < SIEVE_N; i++)
        if (!composite[i])
            for (u32 j = i * i; j < SIEVE_N; j += i)
                composite[j] = 1;
    u32 count = 0, sum = 0;
    for (u32 i = 2; i < SIEVE_N; i++)
        if (!composite[i]) {
            count++;
            sum += i;
        }
    report("primes below 100000", count);
    report("sum of those primes", sum);
    u32 crc = 0xffffffffu;
    for (u32 i = 0; i < 32768; i++) {
        crc ^= composite[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
    }
    report("crc32 of its first 32 KiB", ~crc);
    sys_exit(0);
}

/* cow: fills 8 heap pages, forks, and parent and child each overwrite some of
 * them: the child pages 0-5, the parent pages 2-7. Each must keep seeing its
 * own data and the other's writes must not show. */
#define COW_PAGES 8u
#define WORDS 1024u
static u32 pattern(u32 who, u32 page, u32 i) { return (who << 28) ^ (page * 0x01010101u) ^ (i * 2654435761u); }

static u32 checksum(volatile u32 *heap)
{
    u32 h = 2166136261u;
    for (u32 i = 0; i < COW_PAGES * WORDS; i++)
        h = (h ^ heap[i]) * 16777619u;
    return h;
}

static u32 verify(volatile u32 *heap, u32 who_low, u32 who_high, u32 split)
{
    u32 bad = 0;
    for (u32 p = 0; p < COW_PAGES; p++)
        for (u32 i = 0; i < WORDS; i++)
            if (heap[p * WORDS + i] != pattern(p < split ? who_low : who_high, p, i))
                bad++;
    return bad;
}

void cow_main(void)
{
    volatile u32 *heap = (volatile u32 *)USER_HEAP;
    for (u32 p = 0; p < COW_PAGES; p++)
        for (u32 i = 0; i < WORDS; i++)
            heap[p * WORDS + i] = pattern(1, p, i);
    u32 before = checksum(heap);
    report("checksum before fork", before);
    int child = sys_fork();
    if (child == 0) {
        report("child: words differing from the parent's data", verify(heap, 1, 1, 0));
        for (u32 p = 0; p < 6; p++)
            for (u32 i = 0; i < WORDS; i++)
                heap[p * WORDS + i] = pattern(2, p, i);
        report("child: bad words after its writes", verify(heap, 2, 1, 6));
        report("child: checksum", checksum(heap));
        sys_exit(0x42);
    }
    report("parent: fork returned a child pid > 0", child > 0);
    for (u32 p = 2; p < COW_PAGES; p++)
        for (u32 i = 0; i < WORDS; i++)
            heap[p * WORDS + i] = pattern(3, p, i);
    report("parent: bad words after its writes", verify(heap, 1, 3, 2));
    report("parent: checksum", checksum(heap));
    report("parent: child's exit code", sys_wait(child));
    report("parent: bad words after the child exited", verify(heap, 1, 3, 2));
    sys_exit(0);
}
