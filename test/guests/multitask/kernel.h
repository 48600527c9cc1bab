/* kernel.h - what kernel.c and user.c share: the system call numbers. */
#ifndef KERNEL_H
#define KERNEL_H

#define SYS_EXIT    0   /* ebx = exit code; never returns */
#define SYS_FORK    1   /* returns the child's pid in the parent, 0 in the child */
#define SYS_WAIT    2   /* ebx = pid of a child; blocks until it exits; returns its exit code */
#define SYS_REPORT  3   /* ebx = NUL-terminated label (user memory), ecx = value: kept for the final report */
#define SYS_OTHERS  4   /* returns how many processes other than the caller have not exited; never blocks */
#define SYS_GETPID  5

#define USER_HEAP   0x50000000u   /* demand-zero heap: USER_HEAP .. USER_HEAP + 4 MiB */
#define USER_STACK  0x80000000u   /* stack top; demand-zero from 0x7f000000 */

#endif
