; compute: a CPU-bound loop for the MIPS benchmark. Integer ALU work, a
; load and a store per iteration, a conditional branch; paging off.
; Build: nasm -f elf32 compute.asm -o compute.o && ld -m elf_i386 -T ../../test/guests/lib/kernel.ld compute.o -o compute.elf
bits 32
section .multiboot
align 4
  dd 0x1BADB002, 0x00000003, -(0x1BADB002 + 3)
section .text
global _start
_start:
  mov esp, stack_top
  mov ecx, 10000000         ; iterations (7 instructions each)
  xor eax, eax
  mov esi, buf
.loop:
  add eax, ecx
  xor eax, 0x5a5a
  mov [esi], eax
  mov ebx, [esi]
  sub ebx, 1
  dec ecx
  jnz .loop
  mov dx, 0xf4
  xor eax, eax
  out dx, eax
  hlt
section .bss
align 16
buf: resb 64
resb 4096
stack_top:
