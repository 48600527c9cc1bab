/*
 * What a real processor reports for a read-modify-write instruction that
 * meets a page that is not present: the W/R bit of its page-fault error
 * code. Not a test the suite runs; a check of the hardware this CPU is
 * meant to match, whose finding docs/cpu.md ("Faults") records.
 *
 *   gcc -O1 -pthread -o /tmp/rmw-write-bit test/cpu/fault-ref/rmw-write-bit.c && /tmp/rmw-write-bit
 *
 * Three pages registered with userfaultfd (missing mode), so that the
 * kernel hands each first touch to the handler thread with the fault's
 * write flag, which comes from the error code's W/R bit: a plain read,
 * an ADD to memory and a LOCK ADD to memory. On the machine of
 * 2026-12-07 (AMD EPYC, as root) it printed write=0, write=1, write=1:
 * both read-modify-write forms fault as writes, before any read.
 */
#define _GNU_SOURCE
#include <linux/userfaultfd.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <pthread.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static long uffd; static char *region; static long ps;
static void *handler(void *arg) {
  for (int k = 0; k < 3; k++) {
    struct uffd_msg msg; struct pollfd p = { .fd = (int)uffd, .events = POLLIN }; poll(&p, 1, -1);
    if (read(uffd, &msg, sizeof msg) != sizeof msg) { perror("read"); exit(1); }
    printf("fault at %p flags 0x%llx (write=%d)\n", (void *)msg.arg.pagefault.address, (unsigned long long)msg.arg.pagefault.flags, !!(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE));
    fflush(stdout);
    static char page[65536] __attribute__((aligned(65536)));
    struct uffdio_copy c = { .dst = msg.arg.pagefault.address & ~(ps - 1), .src = (unsigned long)page, .len = ps, .mode = 0 };
    if (ioctl(uffd, UFFDIO_COPY, &c)) { perror("copy"); exit(1); }
  }
  return 0;
}
int main(void) {
  ps = sysconf(_SC_PAGESIZE);
  uffd = syscall(SYS_userfaultfd, 0);
  if (uffd < 0) { perror("userfaultfd"); return 1; }
  struct uffdio_api api = { .api = UFFD_API }; if (ioctl(uffd, UFFDIO_API, &api)) { perror("api"); return 1; }
  region = mmap(0, 3 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  struct uffdio_register r = { .range = { .start = (unsigned long)region, .len = 3 * ps }, .mode = UFFDIO_REGISTER_MODE_MISSING };
  if (ioctl(uffd, UFFDIO_REGISTER, &r)) { perror("register"); return 1; }
  pthread_t t; pthread_create(&t, 0, handler, 0);
  volatile int *a = (int *)region, *b = (int *)(region + ps), *c = (int *)(region + 2 * ps);
  int x = *a; (void)x;                                   /* a plain read */
  __asm__ volatile("addl $1, %0" : "+m"(*b));             /* a read-modify-write, no LOCK */
  __asm__ volatile("lock addl $1, %0" : "+m"(*c));        /* a locked read-modify-write */
  pthread_join(t, 0);
  printf("order: plain read, add (RMW), lock add\n");
  return 0;
}
