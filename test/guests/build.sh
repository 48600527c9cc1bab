#!/bin/sh
# build.sh - rebuild the guest kernels in this folder.
#
#   sh test/guests/build.sh            rebuild every NAME/NAME.elf
#   sh test/guests/build.sh --regen    also regenerate semantics/expected.inc by
#                                      running every semantics case natively on
#                                      this machine's CPU (needs gcc -m32)
#
# Built and committed with (Debian 12):
#   NASM version 2.16.01
#   gcc (Debian 12.2.0-14+deb12u1) 12.2.0, with gcc-multilib for -m32
#   GNU ld (GNU Binutils for Debian) 2.40
#   apt-get install -y nasm gcc gcc-multilib binutils
# Other versions may produce different bytes; the kernels should behave the same.
# The images are reproducible: the same tools give the same bytes.
set -eu
cd "$(dirname "$0")"

echo "tools:"
nasm -v
gcc --version | head -n 1
ld --version | head -n 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

NASM="nasm -f elf32 -I lib/"
LD="ld -m elf_i386 --build-id=none --no-warn-rwx-segments"
CFLAGS="-m32 -I lib -march=i686 -mno-sse -mno-mmx -ffreestanding -fno-pic -fno-pie -nostdlib \
 -fno-stack-protector -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns \
 -fno-builtin -O2 -Wall -Wextra -Werror"

# the assembly kernels: one source file each, lib/kernel.ld
for k in paging32 pae_nx exceptions; do
    $NASM -o "$tmp/$k.o" "$k/$k.asm"
    $LD -T lib/kernel.ld -o "$k/$k.elf" "$tmp/$k.o"
done

# multitask: assembly entry and stubs, C kernel, C user programs
$NASM -o "$tmp/entry.o" multitask/entry.asm
gcc $CFLAGS -c multitask/kernel.c -o "$tmp/kernel.o"
gcc $CFLAGS -c multitask/user.c -o "$tmp/user.o"
$LD -T multitask/multitask.ld -o multitask/multitask.elf "$tmp/entry.o" "$tmp/kernel.o" "$tmp/user.o"

# access: assembly entry (IDT, ring 3, the accesses), C combinations and model
$NASM -o "$tmp/access-entry.o" access/entry.asm
gcc $CFLAGS -c access/access.c -o "$tmp/access.o"
$LD -T access/access.ld -o access/access.elf "$tmp/access-entry.o" "$tmp/access.o"

# apic: assembly entry and interrupt stubs, C kernel
$NASM -o "$tmp/apic-entry.o" apic/entry.asm
gcc $CFLAGS -c apic/kernel.c -o "$tmp/apic.o"
$LD -T lib/kernel.ld -o apic/apic.elf "$tmp/apic-entry.o" "$tmp/apic.o"

# paging64: 64-bit code (ELF64 objects linked for x86-64), made an ELF32 image for
# Multiboot loaders by objcopy (its entry runs in 32-bit protected mode; every address is below 4 GiB)
CFLAGS64="-m64 -I lib -mno-red-zone -mgeneral-regs-only -mno-sse -mno-mmx -mcmodel=small -ffreestanding -fno-pic -fno-pie \
 -nostdlib -fno-stack-protector -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns -fno-builtin -O2 \
 -Wall -Wextra -Werror"
nasm -f elf64 -I lib/ -o "$tmp/paging64-entry.o" paging64/entry.asm
gcc $CFLAGS64 -c paging64/kernel.c -o "$tmp/paging64.o"
ld -m elf_x86_64 --build-id=none --no-warn-rwx-segments -T paging64/paging64.ld -o "$tmp/paging64.elf64" "$tmp/paging64-entry.o" "$tmp/paging64.o"
objcopy -I elf64-x86-64 -O elf32-i386 "$tmp/paging64.elf64" paging64/paging64.elf

# access64: 64-bit code as paging64; its user code (section .user) at 4 MiB
nasm -f elf64 -I lib/ -o "$tmp/access64-entry.o" access64/entry.asm
gcc $CFLAGS64 -c access64/access64.c -o "$tmp/access64.o"
ld -m elf_x86_64 --build-id=none --no-warn-rwx-segments -T access64/access64.ld -o "$tmp/access64.elf64" "$tmp/access64-entry.o" "$tmp/access64.o"
objcopy -I elf64-x86-64 -O elf32-i386 "$tmp/access64.elf64" access64/access64.elf

# semantics: expected.inc comes from gen.c running cases.asm natively
if [ "${1:-}" = "--regen" ]; then
    $NASM -I semantics/ -o "$tmp/cases.o" semantics/cases.asm
    gcc -m32 -O2 -no-pie -Wall -Wextra -Wl,-z,noexecstack semantics/gen.c "$tmp/cases.o" -o "$tmp/gen"
    "$tmp/gen" > semantics/expected.inc
fi
$NASM -I semantics/ -o "$tmp/semantics.o" semantics/semantics.asm
# stripped: its symbol table alone would take the image past 256 KiB
$LD -T lib/kernel.ld -s -o semantics/semantics.elf "$tmp/semantics.o"

ls -l ./*/*.elf
