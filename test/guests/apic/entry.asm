; entry.asm - the assembly the apic kernel needs: the Multiboot header, the
; entry point (a flat GDT, paging off), and one interrupt stub per vector,
; each calling trap(vector) in kernel.c with interrupts disabled (interrupt
; gates) and returning with IRETD.

%include "multiboot.inc"

KCODE   equ 0x08
KDATA   equ 0x10

extern kmain, trap
global _start, stub_table

section .text
_start:
        cli
        cld
        mov esp, stack_top
        push 0
        popfd
        lgdt [gdt_ptr]
        jmp KCODE:.cs
.cs:    mov ax, KDATA
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        call kmain
.halt:  cli
        hlt
        jmp .halt

; The CPU pushes an error code for 8, 10-14 and 17 (SDM vol. 3A 6.13).
%macro STUB 1
stub_%1:
%if (%1 == 8) || (%1 >= 10 && %1 <= 14) || (%1 == 17)
        add esp, 4
%endif
        pushad
        push dword %1
        call trap
        add esp, 4
        popad
        iretd
%endmacro

%assign v 0
%rep 256
        STUB v
%assign v v + 1
%endrep

section .rodata
align 4
stub_table:
%assign v 0
%rep 256
        dd stub_ %+ v
%assign v v + 1
%endrep

gdt:    dq 0
        dq 0x00cf9a000000ffff               ; flat code
        dq 0x00cf92000000ffff               ; flat data
gdt_ptr:
        dw gdt_ptr - gdt - 1
        dd gdt

section .bss
align 16
        resb 16384
stack_top:
