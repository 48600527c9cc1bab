; entry.asm - the access64 kernel's assembly: Multiboot entry in 32-bit
; protected mode, the way into IA-32e mode (SDM vol. 3A, 9.8.5), the 64-bit
; GDT, TSS and IDT, the trap path, and the accesses themselves (at CPL 0, or
; at CPL 3 after an IRETQ into ring 3), as test/guests/access does them for
; 32-bit and PAE paging.
;
; u64 do_access(kind, addr, cpl, ac) performs one access and returns 0 if it
; completed, 1 if it raised #PF (error code, CR2 and saved RIP are then in
; pf_err, pf_cr2, pf_rip). kind 0 reads the dword at addr (into read_val),
; 1 writes WRITE_VAL there, 2 CALLs addr (where a RET waits). With ac = 1,
; EFLAGS.AC is 1 during a CPL 0 access. At CPL 3 the access runs in the
; user code (section .user, linked at 4 MiB: the one user-mode page of the
; identity map, so that the kernel's own pages stay supervisor-mode
; addresses under SMEP, SMAP and protection keys) and comes back by
; INT 0x81; a #PF from either ring unwinds to do_access's caller (SDM vol.
; 3A, 6.12, 6.14).
;
; Assembled as ELF64 (nasm -f elf64); the 32-bit entry is `bits 32`. Every
; address is below 4 GiB.

%include "multiboot.inc"

KCODE32         equ 0x08
KDATA           equ 0x10
KCODE64         equ 0x18
UDATA           equ 0x20 | 3
UCODE64         equ 0x28 | 3
TSS_SEL         equ 0x30

CR0_PG          equ 0x80000000
CR4_PAE         equ 0x20
EFER            equ 0xc0000080
EFER_LME        equ 0x100
F_AC            equ 1 << 18
WRITE_VAL       equ 0x5a5aa5a5
USER_VECTOR     equ 0x81

extern kmain, unexpected_trap
global do_access, pf_err, pf_cr2, pf_rip, read_val
global acc_read0, acc_write0, acc_read3, acc_write3

section .text
bits 32
global _start
_start:
        cli
        cld
        mov esp, boot_stack_top
        mov [mb_magic], eax
        mov [mb_info], ebx
        lgdt [gdtr32]
        jmp KCODE32:.flat
.flat:  mov ax, KDATA
        mov ds, ax
        mov es, ax
        mov fs, ax
        mov gs, ax
        mov ss, ax
        ; boot tables: 16 x 2 MiB identity (kmain builds the tables it tests)
        mov dword [boot_pml4], boot_pdpt + 7
        mov dword [boot_pdpt], boot_pd + 7
        xor ecx, ecx
.pde:   mov eax, ecx
        shl eax, 21
        or eax, 0x87                        ; P RW US PS
        mov [boot_pd + ecx * 8], eax
        inc ecx
        cmp ecx, 16
        jb .pde
        mov eax, boot_pml4
        mov cr3, eax
        mov eax, cr4
        or eax, CR4_PAE
        mov cr4, eax
        mov ecx, EFER
        rdmsr
        or eax, EFER_LME
        wrmsr
        mov eax, cr0
        or eax, CR0_PG                      ; IA-32e mode (EFER.LMA) from here
        mov cr0, eax
        jmp KCODE64:long_entry

bits 64
long_entry:
        mov ax, KDATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov fs, ax
        mov gs, ax
        mov rsp, stack_top
        ; the 16-byte TSS descriptor (SDM vol. 3A, 8.2.3) and RSP0 for traps from CPL 3
        mov rax, tss
        mov [gdt_tss + 2], ax
        shr rax, 16
        mov [gdt_tss + 4], al
        mov [gdt_tss + 7], ah
        shr rax, 16
        mov [gdt_tss + 8], eax
        mov rax, kstack_top
        mov [tss + 4], rax                  ; RSP0
        mov word [tss + 102], 104           ; no I/O bitmap
        mov ax, TSS_SEL
        ltr ax
        ; 64-bit interrupt gates (SDM vol. 3A, 6.14.1): 0-31 DPL 0, USER_VECTOR DPL 3
        xor ecx, ecx
.gate:  mov rax, [trap_stubs + rcx * 8]
        mov edx, 0x8e00
        call set_gate
        inc ecx
        cmp ecx, 32
        jb .gate
        mov ecx, USER_VECTOR
        mov rax, user_return
        mov edx, 0xee00
        call set_gate
        lidt [idtr]
        mov edi, [mb_magic]
        mov esi, [mb_info]
        call kmain                          ; does not return (exit_with)
.hang:  cli
        hlt
        jmp .hang

; set_gate: ECX = vector, RAX = handler, EDX = type/attribute word
set_gate:
        mov r8, rcx
        shl r8, 4
        add r8, idt
        mov [r8], ax
        mov word [r8 + 2], KCODE64
        mov [r8 + 4], dx
        mov r9, rax
        shr r9, 16
        mov [r8 + 6], r9w
        shr r9, 16
        mov [r8 + 8], r9d
        mov dword [r8 + 12], 0
        ret

%macro TRAP_STUB 1
trap_stub_%1:
%if (%1 == 8) || (%1 >= 10 && %1 <= 14) || (%1 == 17) || (%1 == 21)
%else
        push 0
%endif
        push %1
        jmp trap_common
%endmacro
%assign v 0
%rep 32
        TRAP_STUB v
%assign v v + 1
%endrep

; stack: vector, error code, RIP, CS, RFLAGS, RSP, SS
trap_common:
        cmp qword [in_test], 0
        je .unexpected
        cmp qword [rsp], 14
        jne .unexpected
        mov rax, [rsp + 8]
        mov [pf_err], rax
        mov rax, cr2
        mov [pf_cr2], rax
        mov rax, [rsp + 16]
        mov [pf_rip], rax
        mov eax, 1
        jmp unwind
.unexpected:
        mov rdi, [rsp]                      ; vector
        mov rsi, [rsp + 8]                  ; error code
        mov rdx, [rsp + 16]                 ; RIP
        mov rcx, [rsp + 24]                 ; CS
        mov r8, cr2
        and rsp, -16
        call unexpected_trap                ; does not return

; INT USER_VECTOR from the user code: the CPL 3 access completed (a read's value in EBX)
user_return:
        mov [read_val], ebx
        xor eax, eax
; back to do_access's frame, whatever ring and stack the access left us on
unwind:
        mov rsp, [saved_rsp]
        mov cx, KDATA                       ; SS is null after a gate from CPL 3, DS and ES after the IRETQ to it
        mov ss, cx
        mov ds, cx
        mov es, cx
finish: pushfq
        and qword [rsp], ~F_AC
        popfq
        mov qword [in_test], 0
        pop r15
        pop r14
        pop r13
        pop r12
        pop rbp
        pop rbx
        ret

; u64 do_access(u64 kind, u64 addr, u64 cpl, u64 ac)   (System V: RDI, RSI, RDX, RCX)
do_access:
        push rbx
        push rbp
        push r12
        push r13
        push r14
        push r15
        mov [saved_rsp], rsp
        mov qword [in_test], 1
        test rdx, rdx
        jnz da_user
        test rcx, rcx
        jz da_noac
        pushfq
        or qword [rsp], F_AC
        popfq
da_noac:  cmp rdi, 1
        je da_w0
        ja da_f0
acc_read0:
        mov eax, [rsi]
        mov [read_val], eax
        jmp da_done0
da_w0:
acc_write0:
        mov dword [rsi], WRITE_VAL
        jmp da_done0
da_f0:    call rsi
da_done0: xor eax, eax
        jmp finish
da_user:  push UDATA                          ; SS
        push user_stack_top                 ; RSP
        push 0x2                            ; RFLAGS: IF = 0
        push UCODE64                        ; CS
        push user_entry                     ; RIP
        iretq

; ring 3: the only code in the user-mode page
section .user progbits alloc exec write align=16
user_entry:
        cmp rdi, 1
        je ua_w3
        ja ua_f3
acc_read3:
        mov eax, [rsi]
        mov ebx, eax
        int USER_VECTOR
ua_w3:
acc_write3:
        mov dword [rsi], WRITE_VAL
        int USER_VECTOR
ua_f3:    call rsi
        int USER_VECTOR
align 16
        times 4096 db 0
user_stack_top:

section .rodata
align 8
trap_stubs:
%assign v 0
%rep 32
        dq trap_stub_%+v
%assign v v + 1
%endrep

section .data
align 8
; GDT (SDM vol. 3A, 3.4.5, 5.2.1): 32-bit code (the way in), data, 64-bit code (L = 1),
; user data and 64-bit code (DPL 3), the TSS (16 bytes).
gdt:    dq 0
        dq 0x00cf9a000000ffff               ; 0x08 32-bit code
        dq 0x00cf92000000ffff               ; 0x10 data
        dq 0x00af9a000000ffff               ; 0x18 64-bit code
        dq 0x00cff2000000ffff               ; 0x20 user data
        dq 0x00affa000000ffff               ; 0x28 user 64-bit code
gdt_tss:
        dq 0x0000890000000067               ; 0x30 64-bit TSS: limit 103, type 9, base set at run time
        dq 0
gdt_end:
align 8
        dw 0, 0, 0
gdtr32: dw gdt_end - gdt - 1
        dd gdt
align 8
        dw 0, 0, 0
idtr:   dw 256 * 16 - 1
        dq idt

in_test:        dq 0
saved_rsp:      dq 0
pf_err:         dq 0
pf_cr2:         dq 0
pf_rip:         dq 0
read_val:       dd 0
mb_magic:       dd 0
mb_info:        dd 0

section .bss
alignb 4096
boot_pml4:      resb 4096
boot_pdpt:      resb 4096
boot_pd:        resb 4096
idt:            resb 256 * 16
tss:            resb 104
alignb 16
                resb 4096
boot_stack_top:
                resb 16384
stack_top:
                resb 8192
kstack_top:
