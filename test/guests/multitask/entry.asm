; entry.asm - the assembly the multitask kernel needs: the Multiboot header,
; the entry point, the interrupt stubs that build a struct trapframe, the
; return path to user mode, and the kernel-stack switch.

%include "multiboot.inc"

extern kmain, trap
global _start, trapret, swtch, trap_vectors

section .text
_start:
        cli
        cld
        mov esp, boot_stack_top
        push 0
        popfd
        push ebx                            ; Multiboot info
        push eax                            ; Multiboot magic
        call kmain
.halt:  hlt
        jmp .halt

; One stub per vector used. The CPU pushes an error code for 8, 10-14 and 17
; (SDM Vol. 3A 6.13); the others push a zero so the frame is the same shape.
%macro STUB 1
stub_%1:
%if (%1 == 8) || (%1 >= 10 && %1 <= 14) || (%1 == 17)
%else
        push dword 0
%endif
        push dword %1
        jmp alltraps
%endmacro

%assign v 0
%rep 48
        STUB v
%assign v v + 1
%endrep
        STUB 128

; alltraps: finish the struct trapframe (segment registers, general
; registers), switch to kernel data segments, call trap(tf).
alltraps:
        push ds
        push es
        push fs
        push gs
        pushad
        mov ax, 0x10
        mov ds, ax
        mov es, ax
        push esp
        call trap
        add esp, 4
; trapret: a new process's first return to user mode starts here, with a
; trapframe its creator built on its kernel stack.
trapret:
        popad
        pop gs
        pop fs
        pop es
        pop ds
        add esp, 8                          ; vector, error code
        iretd

; void swtch(uint32_t *save_esp, uint32_t load_esp)
; Saves the callee-saved registers on this stack, stores ESP, loads the other
; stack and returns on it (to whoever called swtch there, or to trapret).
swtch:
        mov eax, [esp + 4]
        mov edx, [esp + 8]
        push ebp
        push ebx
        push esi
        push edi
        mov [eax], esp
        mov esp, edx
        pop edi
        pop esi
        pop ebx
        pop ebp
        ret

section .rodata
align 4
trap_vectors:                               ; stub addresses for vectors 0-47, then 0x80
%assign v 0
%rep 48
        dd stub_%+v
%assign v v + 1
%endrep
        dd stub_128

section .bss
alignb 16
        resb 8192
boot_stack_top:
