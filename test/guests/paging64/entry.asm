; entry.asm - the paging64 kernel's assembly: Multiboot entry in 32-bit
; protected mode, the way into IA-32e mode (SDM vol. 3A, 9.8.5), the 64-bit
; GDT, TSS and IDT, the trap path with its fixup table, the probes the C
; checks call, a round trip to CPL 3, and the switch between 4-level and
; 5-level paging (which needs IA-32e mode left and entered again: CR4.LA57
; cannot change while EFER.LMA = 1, SDM vol. 3A, 2.5).
;
; Assembled as ELF64 (nasm -f elf64); the 32-bit code is `bits 32`. Every
; address is below 4 GiB (the kernel loads at 1 MiB), so 32-bit absolute
; relocations are enough there.
;
; Probes: a probe is a function whose one instruction may fault. The trap
; path records vector, error code, CR2 and RIP (trap_vector etc.); when the
; faulting RIP is in the fixup table it resumes at the fixup address, else
; it calls unexpected_trap (C), which prints the frame and exits with 0x7f.
; Each probe sets trap_vector to -1 first, so "no trap" shows as -1.

%include "multiboot.inc"

KCODE32         equ 0x08
KDATA           equ 0x10
KCODE64         equ 0x18
UDATA           equ 0x20 | 3
UCODE64         equ 0x28 | 3
TSS_SEL         equ 0x30

CR0_PG          equ 0x80000000
CR0_WP          equ 0x00010000
CR4_PAE         equ 0x20
CR4_PGE         equ 0x80
CR4_LA57        equ 0x1000
EFER            equ 0xc0000080
EFER_LME        equ 0x100

USER_VECTOR     equ 0x81                    ; INT 0x81 from CPL 3: back to the kernel

; FIXUP insn, resume - a fault at insn resumes at resume
%macro FIXUP 2
        [section .fixup]
        dq %1, %2
        __SECT__
%endmacro

extern kmain, unexpected_trap

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
        ; boot tables: PML4[0] -> PDPT[0] -> PD, 16 x 2 MiB identity, user and writable
        ; (the C code builds the tables it tests, and keeps this identity map in them)
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
        or eax, CR4_PAE | CR4_PGE
        mov cr4, eax
        mov ecx, EFER
        rdmsr
        or eax, EFER_LME
        wrmsr
        mov eax, cr0
        or eax, CR0_PG | CR0_WP             ; IA-32e mode (EFER.LMA) from here
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
        call tss_init
        call idt_init
        mov edi, [mb_magic]
        mov esi, [mb_info]
        call kmain                          ; does not return (exit_with)
.hang:  cli
        hlt
        jmp .hang

; tss_init: the 16-byte TSS descriptor (SDM vol. 3A, 8.2.3) and RSP0 for traps from CPL 3.
tss_init:
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
        ret

; idt_init: 64-bit interrupt gates (SDM vol. 3A, 6.14.1) for vectors 0-31 (DPL 0) and
; USER_VECTOR (DPL 3); the others not present.
idt_init:
        xor ecx, ecx
.gate:  mov rax, [trap_stubs + rcx * 8]
        mov edx, 0x8e00                     ; P, DPL 0, type 14
        call set_gate
        inc ecx
        cmp ecx, 32
        jb .gate
        mov ecx, USER_VECTOR
        mov rax, user_return_stub
        mov edx, 0xee00                     ; P, DPL 3, type 14
        call set_gate
        lidt [idtr]
        ret

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

; the frame from RSP: 15 saved registers, vector, error code, RIP, CS, RFLAGS, RSP, SS
F_VECTOR        equ 15 * 8
F_ERROR         equ 16 * 8
F_RIP           equ 17 * 8
F_CS            equ 18 * 8
trap_common:
        push rax
        push rbx
        push rcx
        push rdx
        push rsi
        push rdi
        push rbp
        push r8
        push r9
        push r10
        push r11
        push r12
        push r13
        push r14
        push r15
        mov rax, [rsp + F_VECTOR]
        mov [trap_vector], rax
        mov rax, [rsp + F_ERROR]
        mov [trap_error], rax
        mov rax, [rsp + F_RIP]
        mov [trap_rip], rax
        mov rax, cr2
        mov [trap_cr2], rax
        ; a fixup for this RIP?
        mov rax, [rsp + F_RIP]
        mov rsi, fixup_start
.look:  cmp rsi, fixup_end
        jae .unexpected
        cmp rax, [rsi]
        je .found
        add rsi, 16
        jmp .look
.found: mov rax, [rsi + 8]
        mov [rsp + F_RIP], rax
        pop r15
        pop r14
        pop r13
        pop r12
        pop r11
        pop r10
        pop r9
        pop r8
        pop rbp
        pop rdi
        pop rsi
        pop rdx
        pop rcx
        pop rbx
        pop rax
        add rsp, 16                         ; vector, error code
        iretq
.unexpected:
        mov rdi, rsp
        and rsp, -16
        call unexpected_trap                ; does not return

; ---- probes (System V AMD64 ABI: arguments in RDI, RSI, RDX; result in RAX) ----

; u64 probe_read(u64 addr)
global probe_read
probe_read:
        mov qword [trap_vector], -1
.i:     mov rax, [rdi]
.f:     ret
        FIXUP .i, .f

; void probe_write(u64 addr, u64 value)
global probe_write
probe_write:
        mov qword [trap_vector], -1
.i:     mov [rdi], rsi
.f:     ret
        FIXUP .i, .f

; void probe_cr4(u64 value): MOV to CR4
global probe_cr4
probe_cr4:
        mov qword [trap_vector], -1
.i:     mov cr4, rdi
.f:     ret
        FIXUP .i, .f

; void probe_cr3(u64 value): MOV to CR3
global probe_cr3
probe_cr3:
        mov qword [trap_vector], -1
.i:     mov cr3, rdi
.f:     ret
        FIXUP .i, .f

; void probe_cr8(u64 value): MOV to CR8
global probe_cr8
probe_cr8:
        mov qword [trap_vector], -1
.i:     mov cr8, rdi
.f:     ret
        FIXUP .i, .f

; void probe_invpcid(u64 type, const u64 *descriptor)
global probe_invpcid
probe_invpcid:
        mov qword [trap_vector], -1
.i:     invpcid rdi, [rsi]
.f:     ret
        FIXUP .i, .f

; u64 probe_user(u64 addr, u64 value, u64 what): at CPL 3, through an IRETQ to user code
; that ends in INT USER_VECTOR, one read of [addr] (what = 0), a write of value there (1),
; INVPCID addr, [value] (2) or MOV CR8, addr (3).
global probe_user
probe_user:
        push rbx
        push rbp
        push r12
        push r13
        push r14
        push r15
        mov [kernel_rsp], rsp
        mov qword [trap_vector], -1
        push UDATA                          ; SS
        push user_stack_top                 ; RSP
        push 0x2                            ; RFLAGS: IF = 0
        push UCODE64                        ; CS
        push user_code                      ; RIP
        iretq
user_code:
        cmp rdx, 2
        je .inv
        ja .cr8
        test rdx, rdx
        jnz .w
.r:     mov rax, [rdi]
        jmp .done
.w:     mov [rdi], rsi
        jmp .done
.inv:   invpcid rdi, [rsi]
        jmp .done
.cr8:   mov cr8, rdi
.done:  int USER_VECTOR
        FIXUP .r, .done
        FIXUP .w, .done
        FIXUP .inv, .done
        FIXUP .cr8, .done
user_return_stub:                           ; INT USER_VECTOR: back on the kernel's stack
        mov rsp, [kernel_rsp]
        mov cx, KDATA                       ; SS is null after the gate, DS and ES after the IRETQ to CPL 3
        mov ss, cx                          ; (RAX holds the result)
        mov ds, cx
        mov es, cx
        pop r15
        pop r14
        pop r13
        pop r12
        pop rbp
        pop rbx
        ret

; void switch_paging(u64 cr3, u64 la57): leave IA-32e mode through compatibility mode
; (clearing CR0.PG clears EFER.LMA, SDM vol. 3A, 9.8.5.4), set CR4.LA57 as asked and
; CR3, then turn paging on again (IA-32e mode with 4- or 5-level paging) and come back
; to 64-bit mode. CR4.PCIDE must be clear (else clearing CR0.PG is #GP). The code and
; the stack are identity-mapped in both tables. The upper halves of registers are
; undefined after compatibility mode, so the callee-saved ones are kept in memory.
global switch_paging
switch_paging:
        push rbx
        push rbp
        push r12
        push r13
        push r14
        push r15
        mov [kernel_rsp], rsp
        mov [new_cr3], edi
        mov [new_la57], esi
        push KCODE32
        push .compat
        retfq
bits 32
.compat:
        mov eax, cr0
        and eax, ~CR0_PG
        mov cr0, eax                        ; IA-32e mode off
        mov eax, cr4
        and eax, ~CR4_LA57
        cmp dword [new_la57], 0
        je .four
        or eax, CR4_LA57
.four:  mov cr4, eax
        mov eax, [new_cr3]
        mov cr3, eax
        mov eax, cr0
        or eax, CR0_PG
        mov cr0, eax                        ; IA-32e mode on, 4- or 5-level paging
        jmp KCODE64:.back
bits 64
.back:  mov ax, KDATA
        mov ss, ax
        mov ds, ax
        mov es, ax
        mov rsp, [kernel_rsp]
        pop r15
        pop r14
        pop r13
        pop r12
        pop rbp
        pop rbx
        ret

section .rodata
align 8
trap_stubs:
%assign v 0
%rep 32
        dq trap_stub_%+v
%assign v v + 1
%endrep

section .fixup progbits alloc noexec nowrite align=8
extern fixup_start, fixup_end               ; paging64.ld puts them around every .fixup

section .data
align 8
; GDT (SDM vol. 3A, 3.4.5, 5.2.1): 32-bit code (for the way in and compatibility mode),
; data, 64-bit code (L = 1), user data and 64-bit code (DPL 3), the TSS (16 bytes).
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

global trap_vector, trap_error, trap_cr2, trap_rip
trap_vector:    dq -1
trap_error:     dq 0
trap_cr2:       dq 0
trap_rip:       dq 0
kernel_rsp:     dq 0
new_cr3:        dd 0
new_la57:       dd 0
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
                resb 4096
user_stack_top:
