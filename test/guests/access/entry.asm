; entry.asm - the assembly the access kernel needs: the Multiboot header, the
; entry point, GDT, TSS and IDT, the exception stubs, and the accesses
; themselves (at CPL 0, or at CPL 3 after an IRET into ring 3).
;
; do_access(kind, addr, cpl) performs one access and returns 0 if it
; completed, 1 if it raised #PF (error code, CR2 and saved EIP are then in
; pf_err, pf_cr2, pf_eip). kind 0 reads the dword at addr (into read_val),
; 1 writes WRITE_VAL there, 2 CALLs addr (where a RET waits). At CPL 3 the
; access runs in ring 3 and comes back to ring 0 by INT 0x80; a #PF from
; either ring unwinds to do_access's caller (SDM vol. 3A 6.12, 7.2.1).

%include "multiboot.inc"

KCODE   equ 0x08
KDATA   equ 0x10
UCODE   equ 0x18 | 3
UDATA   equ 0x20 | 3
TSSSEL  equ 0x28
WRITE_VAL equ 0x5a5aa5a5

extern kmain, unexpected
global _start, do_access, pf_err, pf_cr2, pf_eip, read_val
global acc_read0, acc_write0, acc_read3, acc_write3

section .text
_start:
        cli
        cld
        mov esp, stack_top
        push 0
        popfd
        mov esi, eax                        ; Multiboot magic
        mov edi, ebx                        ; Multiboot info
        lgdt [gdt_ptr]
        jmp KCODE:.cs
.cs:    mov ax, KDATA
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        ; TSS descriptor base (SDM 7.2.2), then LTR
        mov eax, tss
        mov [gdt + TSSSEL + 2], ax
        shr eax, 16
        mov [gdt + TSSSEL + 4], al
        mov [gdt + TSSSEL + 7], ah
        mov dword [tss + 4], ring0_stack_top ; ESP0
        mov dword [tss + 8], KDATA          ; SS0
        mov word [tss + 102], 104           ; no I/O bitmap
        mov ax, TSSSEL
        ltr ax
        ; IDT: interrupt gates for vectors 0-31 (DPL 0) and 0x80 (DPL 3)
        xor ecx, ecx
.idt:   mov eax, [stubs + ecx * 4]
        mov [idt + ecx * 8], ax
        mov word [idt + ecx * 8 + 2], KCODE
        mov word [idt + ecx * 8 + 4], 0x8e00
        shr eax, 16
        mov [idt + ecx * 8 + 6], ax
        inc ecx
        cmp ecx, 32
        jb .idt
        mov eax, stub_128
        mov [idt + 0x80 * 8], ax
        mov word [idt + 0x80 * 8 + 2], KCODE
        mov word [idt + 0x80 * 8 + 4], 0xee00
        shr eax, 16
        mov [idt + 0x80 * 8 + 6], ax
        lidt [idt_ptr]
        push edi
        push esi
        call kmain
.halt:  hlt
        jmp .halt

; One stub per vector; vectors without an error code push 0 (SDM 6.13).
%macro STUB 1
stub_%1:
%if (%1 == 8) || (%1 >= 10 && %1 <= 14) || (%1 == 17)
%else
        push dword 0
%endif
        push dword %1
        jmp trap_common
%endmacro
%assign v 0
%rep 32
        STUB v
%assign v v + 1
%endrep
        STUB 128

; stack: vector, error code, EIP, CS, EFLAGS (, ESP, SS from ring 3)
trap_common:
        mov ax, KDATA
        mov ds, ax
        mov es, ax
        cmp dword [in_test], 0
        je .unexpected
        cmp dword [esp], 14
        je .pf
        cmp dword [esp], 0x80
        jne .unexpected
        xor eax, eax                        ; the CPL 3 access completed
        jmp unwind
.pf:    mov eax, [esp + 4]
        mov [pf_err], eax
        mov eax, cr2
        mov [pf_cr2], eax
        mov eax, [esp + 8]
        mov [pf_eip], eax
        mov eax, 1
        jmp unwind
.unexpected:
        mov eax, cr2
        push eax                            ; cr2
        push dword [esp + 16]               ; cs
        push dword [esp + 16]               ; eip
        push dword [esp + 16]               ; error code
        push dword [esp + 16]               ; vector
        call unexpected                     ; does not return
        cli
        hlt

; back to do_access's frame, whatever ring and stack the access left us on
unwind:
        mov esp, [saved_esp]
finish: mov dword [in_test], 0
        pop ebp
        pop edi
        pop esi
        pop ebx
        ret

; int do_access(int kind, u32 addr, int cpl)
do_access:
        push ebx
        push esi
        push edi
        push ebp
        mov eax, [esp + 20]
        mov esi, [esp + 24]
        mov ecx, [esp + 28]
        mov [saved_esp], esp
        mov dword [in_test], 1
        test ecx, ecx
        jnz da_user
        cmp eax, 1
        je da_w0
        ja da_f0
acc_read0:
        mov eax, [esi]
        mov [read_val], eax
        jmp da_done
da_w0:
acc_write0:
        mov dword [esi], WRITE_VAL
        jmp da_done
da_f0:    call esi
da_done:  xor eax, eax
        jmp finish
da_user:  push UDATA                          ; SS
        push user_stack_top                 ; ESP
        push 0x2                            ; EFLAGS: IF=0, IOPL=0
        push UCODE                          ; CS
        push user_entry                     ; EIP
        mov cx, UDATA
        mov ds, cx
        mov es, cx
        iretd
; ring 3 (the kernel's pages are all user-accessible; only the page under
; test is not)
user_entry:
        cmp eax, 1
        je da_w3
        ja da_f3
acc_read3:
        mov eax, [esi]
        mov [read_val], eax
        int 0x80
da_w3:
acc_write3:
        mov dword [esi], WRITE_VAL
        int 0x80
da_f3:    call esi
        int 0x80

section .rodata
align 4
stubs:
%assign v 0
%rep 32
        dd stub_%+v
%assign v v + 1
%endrep

section .data
align 8
gdt:    dq 0
        dq 0x00cf9a000000ffff               ; 0x08 kernel code, flat
        dq 0x00cf92000000ffff               ; 0x10 kernel data, flat
        dq 0x00cffa000000ffff               ; 0x18 user code, flat, DPL 3
        dq 0x00cff2000000ffff               ; 0x20 user data, flat, DPL 3
        dq 0x0000890000000067               ; 0x28 32-bit TSS, limit 103 (base set at entry)
gdt_end:
gdt_ptr:
        dw gdt_end - gdt - 1
        dd gdt
align 4
idt_ptr:
        dw 256 * 8 - 1
        dd idt

section .bss
alignb 16
idt:    resb 256 * 8
tss:    resb 104
alignb 4
in_test:   resd 1
saved_esp: resd 1
pf_err:    resd 1
pf_cr2:    resd 1
pf_eip:    resd 1
read_val:  resd 1
alignb 16
        resb 8192
stack_top:
        resb 4096
ring0_stack_top:
        resb 4096
user_stack_top:
