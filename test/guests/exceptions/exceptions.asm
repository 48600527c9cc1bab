; exceptions - exception and interrupt delivery (Intel SDM Vol. 3A chapter 6),
; each check one line:
;
;   - faults at CPL 0: #DE (divide by zero, quotient overflow), #UD (UD2, LOCK
;     on a register destination, MOV to CS), #GP (selector past the GDT limit,
;     SS loaded with a DPL 3 selector), #NP (INT n through a not-present
;     gate), #BR (BOUND), #BP (INT3 and INT 3), #OF (INTO): vector, error code
;     (SDM 6.13), saved CS:EIP (the instruction for faults, the next one for
;     traps, SDM 6.5), and that no stack switch happened
;   - #DF from two contributory exceptions (SDM 6.15 Table 6-5): a #GP whose
;     gate is not present (-> #NP), and an #NP whose gate names a selector past
;     the GDT limit (-> #GP); error code 0 (the saved EIP is undefined there,
;     so it is not checked)
;   - #PF error codes (SDM 4.7) with PAE paging and EFER.NXE: every
;     combination of P, W, U, RSVD (a reserved bit in a 2 MiB PDE) and I/D
;     that a supervisor or user access can produce, with CR2
;   - CPL 3 -> 0: #GP from HLT, MOV from CR0 and INT to a DPL 0 gate; #PF;
;     INT 0x80 through a DPL 3 gate and back with IRET; SYSENTER/SYSEXIT
;     (MSRs 0x174-0x176, SDM Vol. 2B): the CPU switched to the TSS's SS0:ESP0
;     (or to IA32_SYSENTER_ESP) and pushed the user SS:ESP, EFLAGS, CS:EIP.
;
; QEMU 7.2 TCG (and upstream QEMU, by its current source) leaves P clear in the error code
; of reserved-bit page faults (SDM 4.7: "bit 3 of the error code can be set
; only if bit 0 is also set"), so the three reserved-bit checks fail there:
; see exceptions.qemu.expected.

%include "multiboot.inc"
%include "console.inc"
%include "x86.inc"

PG_P            equ 0x001
PG_RW           equ 0x002
PG_US           equ 0x004
PG_PS           equ 0x080
PG_XD_HI        equ 0x80000000
PG_RSVD13       equ 1 << 13                 ; reserved in a 2 MiB PAE PDE (SDM Table 4-11)

CR0_WP          equ 1 << 16
CR0_PG          equ 1 << 31
CR4_PAE         equ 1 << 5
MSR_EFER        equ 0xc0000080
EFER_NXE        equ 1 << 11
MSR_SYSENTER_CS  equ 0x174
MSR_SYSENTER_ESP equ 0x175
MSR_SYSENTER_EIP equ 0x176
EFLAGS_IF       equ 1 << 9

FRAME_URO       equ 0x00300000
FRAME_URW       equ 0x00301000
FRAME_S         equ 0x00302000
FRAME_UNX       equ 0x00303000
FRAME_SCODE     equ 0x00304000
BIG_RSVD        equ 0x00800000

VA_URO          equ 0x40000000              ; user, read-only
VA_URW          equ 0x40001000              ; user, writable
VA_S            equ 0x40002000              ; supervisor only
VA_NP           equ 0x40003000              ; not present
VA_UNX          equ 0x40004000              ; user, execute-disable
VA_SCODE        equ 0x40005000              ; supervisor only, holds a RET
VA_RSVD         equ 0x40200000              ; 2 MiB PDE with reserved bit 13 set

TRAP_PF         equ 14
GATE_NOT_PRESENT equ 0x0e                   ; a 32-bit interrupt gate with P = 0 (type 0 would be #GP)

extern _utext, _eutext                      ; the user code pages (kernel.ld)

; PF_CHECK "text", error code, address - vector 14 and the error code in one
; value (0x000e00EE), then CR2.
%macro PF_CHECK 3
        mov eax, [trap_vector]
        shl eax, 16
        or eax, [trap_error]
        CHECK %1, eax, (TRAP_PF << 16) | %2
        CHECK "  CR2", [trap_cr2], %3
%endmacro

; AT_CPL0_FAULT label - arm a resume point, run the code at label: (which
; must fault), come back at the resume point.
; USER entry, resume - run entry at CPL 3 (IF = 1, user stack), resume in
; the kernel when it traps.
%macro USER 2
        EXPECT_TRAP %2
        push dword UDATA                    ; SS
        push dword ustack_top               ; ESP
        push dword 0x202                    ; EFLAGS: IF = 1 (the PIC masks every line)
        push dword UCODE                    ; CS
        push dword %1                       ; EIP
        mov ax, UDATA
        mov ds, ax
        mov es, ax
        iretd
%endmacro

section .text
main:
        PRINTLN "exceptions: exception and interrupt delivery (SDM chapter 6)"
        mov eax, 1
        cpuid
        shr edx, 11                         ; SEP
        and edx, 1
        mov esi, edx                        ; (CPUID overwrites EBX)
        mov eax, 0x80000000
        cpuid
        xor edx, edx
        cmp eax, 0x80000001
        jb .no_ext
        mov eax, 0x80000001
        cpuid
        shr edx, 20 - 1                     ; NX to bit 1
        and edx, 2
.no_ext:
        or esi, edx
        CHECK "CPUID reports SEP (SYSENTER) and NX", esi, 3
        cmp esi, 3
        je .cpu_ok
        FINISH
.cpu_ok:
        call setup_paging
        mov eax, 0x80
        mov ebx, syscall_handler
        mov [trap_handler + 0x80 * 4], ebx
        mov ebx, [trap_stubs + 0x80 * 4]
        mov cl, GATE_INT_USER
        call set_gate                       ; INT 0x80: DPL 3
        mov eax, 0x81
        mov ebx, [trap_stubs + 0x81 * 4]
        call set_gate                       ; INT 0x81: DPL 3, "back to the kernel"
        mov eax, 0x41
        mov ebx, [trap_stubs + 0x41 * 4]
        mov cl, GATE_NOT_PRESENT
        call set_gate                       ; INT 0x41: not present
        xor edx, edx
        mov eax, KCODE
        mov ecx, MSR_SYSENTER_CS
        wrmsr
        mov eax, sysenter_stack_top
        mov ecx, MSR_SYSENTER_ESP
        wrmsr
        mov eax, sysenter_entry
        mov ecx, MSR_SYSENTER_EIP
        wrmsr

; --- faults and traps at CPL 0 (SDM 6.15) ------------------------------------
        EXPECT_TRAP .de1
        mov eax, 1
        xor edx, edx
        xor ecx, ecx
.de1_i: div ecx
.de1:   TRAP_DONE
        CHECK "#DE: DIV by zero, vector 0", [trap_vector], 0
        CHECK "  saved EIP = the DIV", [trap_eip], .de1_i
        CHECK "  saved CS = kernel code", [trap_cs], KCODE
        mov eax, [trap_resume_esp]
        sub eax, 12
        CHECK "  same stack: EIP, CS, EFLAGS pushed below the old ESP", [trap_entry_esp], eax
        EXPECT_TRAP .de2
        mov edx, 0xffffffff
        mov eax, 0x80000000
        mov ecx, -1
.de2_i: idiv ecx
.de2:   TRAP_DONE
        CHECK "#DE: IDIV -2^31 / -1 overflows", [trap_vector], 0
        CHECK "  saved EIP = the IDIV", [trap_eip], .de2_i
        EXPECT_TRAP .de3
        mov eax, 0x1000
        mov cl, 0x10
.de3_i: div cl
.de3:   TRAP_DONE
        CHECK "#DE: 8-bit DIV quotient 0x100 overflows", [trap_vector], 0
        CHECK "  saved EIP = the DIV", [trap_eip], .de3_i

        EXPECT_TRAP .ud1
.ud1_i: ud2
.ud1:   TRAP_DONE
        CHECK "#UD: UD2, vector 6", [trap_vector], 6
        CHECK "  saved EIP = the UD2", [trap_eip], .ud1_i
        EXPECT_TRAP .ud2
.ud2_i: db 0xf0, 0x01, 0xd8                 ; lock add eax, ebx: LOCK needs a memory destination
.ud2:   TRAP_DONE
        CHECK "#UD: LOCK ADD with a register destination", [trap_vector], 6
        CHECK "  saved EIP = the LOCK prefix", [trap_eip], .ud2_i
        EXPECT_TRAP .ud3
        mov eax, KCODE
.ud3_i: db 0x8e, 0xc8                       ; mov cs, ax
.ud3:   TRAP_DONE
        CHECK "#UD: MOV to CS", [trap_vector], 6
        CHECK "  saved EIP = the MOV", [trap_eip], .ud3_i

        EXPECT_TRAP .gp1
        mov eax, 0x1003
.gp1_i: mov ds, ax
.gp1:   TRAP_DONE
        CHECK "#GP: MOV DS, 0x1003 (past the GDT limit), vector 13", [trap_vector], 13
        CHECK "  error code = the selector without RPL (0x1000)", [trap_error], 0x1000
        CHECK "  saved EIP = the MOV", [trap_eip], .gp1_i
        mov eax, [trap_resume_esp]
        sub eax, 16
        CHECK "  same stack: error code, EIP, CS, EFLAGS pushed", [trap_entry_esp], eax
        EXPECT_TRAP .gp2
        mov eax, UDATA
.gp2_i: mov ss, ax
.gp2:   TRAP_DONE
        CHECK "#GP: MOV SS, 0x23 at CPL 0 (RPL, DPL != CPL)", [trap_vector], 13
        CHECK "  error code 0x20", [trap_error], 0x20

        EXPECT_TRAP .np1
.np1_i: int 0x41
.np1:   TRAP_DONE
        CHECK "#NP: INT 0x41 through a not-present gate, vector 11", [trap_vector], 11
        CHECK "  error code 0x41*8+2 (IDT) = 0x20a", [trap_error], 0x20a
        CHECK "  saved EIP = the INT", [trap_eip], .np1_i

        EXPECT_TRAP .br1
        mov eax, 3
        bound eax, [bounds_1_4]
        mov dword [trap_vector], -2         ; reached: BOUND in range did not trap
        mov eax, 0x11
.br1_i: bound eax, [bounds_1_4]
.br1:   TRAP_DONE
        CHECK "#BR: BOUND 0x11 outside [1, 4] (3 inside passes), vector 5", [trap_vector], 5
        CHECK "  saved EIP = the BOUND", [trap_eip], .br1_i

        EXPECT_TRAP .bp1
        int3
.bp1:   TRAP_DONE
        CHECK "#BP: INT3 (0xcc), vector 3", [trap_vector], 3
        CHECK "  saved EIP = the next instruction (a trap)", [trap_eip], .bp1
        EXPECT_TRAP .bp2
        db 0xcd, 0x03                       ; int 3, the two-byte form
.bp2:   TRAP_DONE
        CHECK "#BP: INT 3 (0xcd 0x03)", [trap_vector], 3
        CHECK "  saved EIP = the next instruction", [trap_eip], .bp2

        EXPECT_TRAP .of1
        mov al, 0x7f
        add al, 0                           ; OF = 0
        into                                ; no trap
        mov dword [trap_vector], -2
        add al, 1                           ; OF = 1
        into
.of1:   TRAP_DONE
        CHECK "#OF: INTO with OF = 1 (not with OF = 0), vector 4", [trap_vector], 4
        CHECK "  saved EIP = the next instruction", [trap_eip], .of1

; --- double faults: contributory + contributory (SDM 6.15, Table 6-5) -------
        mov eax, 13
        mov cl, GATE_NOT_PRESENT
        mov ebx, [trap_stubs + 13 * 4]
        call set_gate                       ; #GP gate not present
        EXPECT_TRAP .df1
        mov eax, 0x1000
        mov ds, ax                          ; #GP, then #NP delivering it
.df1:   TRAP_DONE
        mov eax, 13
        mov cl, GATE_INT
        mov ebx, [trap_stubs + 13 * 4]
        call set_gate
        CHECK "#DF: #GP whose gate is not present (#NP), vector 8", [trap_vector], 8
        CHECK "  error code 0", [trap_error], 0
        mov word [idt + 11 * 8 + 2], 0x1000 ; #NP gate: code selector past the GDT limit
        EXPECT_TRAP .df2
        int 0x41                            ; #NP, then #GP delivering it
.df2:   TRAP_DONE
        mov word [idt + 11 * 8 + 2], KCODE
        CHECK "#DF: #NP whose gate has a bad selector (#GP), vector 8", [trap_vector], 8
        CHECK "  error code 0", [trap_error], 0

; --- page-fault error codes at CPL 0 (SDM 4.7) -------------------------------
        EXPECT_TRAP .pf1
        mov eax, [VA_NP]
.pf1:   TRAP_DONE
        PF_CHECK "#PF: supervisor read, not present: error 0", 0x00, VA_NP
        EXPECT_TRAP .pf2
        mov [VA_NP + 4], eax
.pf2:   TRAP_DONE
        PF_CHECK "#PF: supervisor write, not present: error W (2)", 0x02, VA_NP + 4
        EXPECT_TRAP .pf3
.pf3_i: mov [VA_URO + 8], eax
.pf3:   TRAP_DONE
        PF_CHECK "#PF: supervisor write, read-only (CR0.WP=1): error P|W (3)", 0x03, VA_URO + 8
        CHECK "  saved EIP = the MOV", [trap_eip], .pf3_i
        EXPECT_TRAP .pf4
        mov eax, [VA_RSVD + 0x10]
.pf4:   TRAP_DONE
        PF_CHECK "#PF: supervisor read, reserved bit: error P|RSVD (9)", 0x09, VA_RSVD + 0x10
        EXPECT_TRAP .pf5
        mov [VA_RSVD + 0x20], eax
.pf5:   TRAP_DONE
        PF_CHECK "#PF: supervisor write, reserved bit: error P|W|RSVD (0xb)", 0x0b, VA_RSVD + 0x20
        EXPECT_TRAP .pf6
        call VA_UNX
.pf6:   TRAP_DONE
        PF_CHECK "#PF: supervisor fetch, execute-disable: error P|I/D (0x11)", 0x11, VA_UNX
        CHECK "  saved EIP = the target", [trap_eip], VA_UNX
        EXPECT_TRAP .pf7
        call VA_NP
.pf7:   TRAP_DONE
        PF_CHECK "#PF: supervisor fetch, not present: error I/D (0x10)", 0x10, VA_NP
        mov eax, [VA_URO]
        mov ebx, [VA_UNX]
        mov [VA_URW], eax
        call VA_SCODE
        CHECK "supervisor read of user pages, write of a user RW page, fetch of a supervisor page: no fault", eax, 0x5c0de

; --- CPL 3 -> CPL 0 (SDM 6.12.1: stack switch through the TSS) -------------
        USER u_hlt, .u1
.u1:    CHECK "CPL 3 HLT: #GP, vector 13", [trap_vector], 13
        CHECK "  error code 0", [trap_error], 0
        CHECK "  saved CS = user code (0x1b)", [trap_cs], UCODE
        CHECK "  saved EIP = the HLT", [trap_eip], u_hlt
        CHECK "  saved SS = user data (0x23)", [trap_ss3], UDATA
        CHECK "  saved ESP = the user stack", [trap_esp3], ustack_top
        mov eax, [trap_eflags]
        and eax, EFLAGS_IF
        CHECK "  saved EFLAGS has IF = 1", eax, EFLAGS_IF
        CHECK "  stack switched to TSS.ESP0: frame at ESP0 - 24", [trap_entry_esp], kstack_top - 24
        USER u_cr0, .u2
.u2:    CHECK "CPL 3 MOV EAX, CR0: #GP(0)", [trap_error], 0
        CHECK "  saved EIP = the MOV", [trap_eip], u_cr0
        USER u_int40, .u3
.u3:    CHECK "CPL 3 INT 0x40 through a DPL 0 gate: #GP", [trap_vector], 13
        CHECK "  error code 0x40*8+2 = 0x202", [trap_error], 0x202
        CHECK "  saved EIP = the INT", [trap_eip], u_int40

        USER u_read_np, .u4
.u4:    PF_CHECK "#PF: user read, not present: error U (4)", 0x04, VA_NP
        CHECK "  stack switched: frame at ESP0 - 24", [trap_entry_esp], kstack_top - 24
        CHECK "  saved EIP = the read", [trap_eip], u_read_np
        USER u_write_np, .u5
.u5:    PF_CHECK "#PF: user write, not present: error U|W (6)", 0x06, VA_NP + 4
        USER u_read_s, .u6
.u6:    PF_CHECK "#PF: user read, supervisor page: error U|P (5)", 0x05, VA_S + 8
        USER u_write_s, .u7
.u7:    PF_CHECK "#PF: user write, supervisor page: error U|W|P (7)", 0x07, VA_S + 12
        USER u_write_ro, .u8
.u8:    PF_CHECK "#PF: user write, read-only user page: error U|W|P (7)", 0x07, VA_URO + 16
        CHECK "  after a user read of that page and a user write to VA_URW", [trap_ebx], 0xa5a5a5a5
        USER u_read_rsvd, .u9
.u9:    PF_CHECK "#PF: user read, reserved bit: error U|RSVD|P (0xd)", 0x0d, VA_RSVD + 0x30
        USER u_fetch_nx, .u10
.u10:   PF_CHECK "#PF: user fetch, execute-disable: error U|I/D|P (0x15)", 0x15, VA_UNX
        CHECK "  saved EIP = the target", [trap_eip], VA_UNX
        USER u_fetch_s, .u11
.u11:   PF_CHECK "#PF: user fetch, supervisor page: error U|I/D|P (0x15)", 0x15, VA_SCODE
        USER u_fetch_np, .u12
.u12:   PF_CHECK "#PF: user fetch, not present: error U|I/D (0x14)", 0x14, VA_NP

; --- system calls ----------------------------------------------------------
        USER u_int80, .u13
.u13:   CHECK "INT 0x80 (DPL 3 gate) from CPL 3: handler saw vector 0x80", [sc_vector], 0x80
        CHECK "  saved CS = user code", [sc_cs], UCODE
        CHECK "  saved EIP = after the INT", [sc_eip], u_int80_ret
        CHECK "  saved SS:ESP = the user stack (SS)", [sc_ss3], UDATA
        CHECK "  saved SS:ESP = the user stack (ESP)", [sc_esp3], ustack_top - 4
        CHECK "  no error code: frame at ESP0 - 20", [sc_entry_esp], kstack_top - 20
        CHECK "  handler runs in kernel CS", [sc_now_cs], KCODE
        CHECK "  handler runs on SS0", [sc_now_ss], KDATA
        CHECK "  interrupt gate cleared IF", [sc_now_if], 0
        CHECK "  IRET returned to CPL 3 with EAX from the handler", [trap_eax], 0x1235
        CHECK "  back in user code CS", [trap_ebx], UCODE
        CHECK "  back on the user stack", [trap_edx], ustack_top - 4
        USER u_sysenter, .u14
.u14:   CHECK "SYSENTER from CPL 3: entered with CS = IA32_SYSENTER_CS", [se_cs], KCODE
        CHECK "  SS = IA32_SYSENTER_CS + 8", [se_ss], KDATA
        CHECK "  ESP = IA32_SYSENTER_ESP", [se_esp], sysenter_stack_top
        CHECK "  IF cleared", [se_if], 0
        CHECK "  EAX passed in", [se_eax], 0x5678
        CHECK "SYSEXIT: back at EIP = EDX with EAX from the kernel", [trap_eax], 0x5679
        CHECK "  CS = IA32_SYSENTER_CS + 16 | 3", [trap_ebx], UCODE
        CHECK "  SS = IA32_SYSENTER_CS + 24 | 3", [trap_ecx], UDATA
        CHECK "  ESP = ECX", [trap_edx], ustack_top - 8
        CHECK "  the INT 0x81 after it saved EIP = the next instruction", [trap_eip], u_sysenter_done + 2

        FINISH

; syscall_handler: trap_handler[0x80], called by trap_common (EBP = frame).
; Records what the CPU pushed and where, adds 1 to EAX, returns by IRET.
syscall_handler:
        mov eax, [trap_vector]
        mov [sc_vector], eax
        mov eax, [trap_cs]
        mov [sc_cs], eax
        mov eax, [trap_eip]
        mov [sc_eip], eax
        mov eax, [trap_ss3]
        mov [sc_ss3], eax
        mov eax, [trap_esp3]
        mov [sc_esp3], eax
        mov eax, [trap_entry_esp]
        mov [sc_entry_esp], eax
        xor eax, eax
        mov ax, cs
        mov [sc_now_cs], eax
        mov ax, ss
        mov [sc_now_ss], eax
        pushfd
        pop eax
        and eax, EFLAGS_IF
        mov [sc_now_if], eax
        inc dword [ebp + TF_EAX]
        xor eax, eax                        ; return with IRET
        ret

; sysenter_entry: IA32_SYSENTER_EIP. DS is still the user's flat segment
; (SYSENTER loads only CS and SS), which is fine for these stores.
sysenter_entry:
        mov [se_esp], esp
        mov [se_eax], eax
        push eax
        xor eax, eax
        mov ax, cs
        mov [se_cs], eax
        mov ax, ss
        mov [se_ss], eax
        pushfd
        pop eax
        and eax, EFLAGS_IF
        mov [se_if], eax
        pop eax
        inc eax
        sysexit                             ; EIP = EDX, ESP = ECX

; setup_paging: PAE, NXE, CR0.WP. 0-2 MiB identity with 4 KiB pages (the
; user code and stack pages user-accessible), 2-16 MiB with 2 MiB pages,
; the test pages at 1 GiB.
setup_paging:
        mov edi, pt0
        mov eax, PG_P | PG_RW
.pt0:   mov [edi], eax
        add edi, 8
        add eax, 0x1000
        cmp edi, pt0 + 4096
        jb .pt0
        mov eax, _utext                     ; user code pages: U = 1
.ucode: mov ebx, eax
        shr ebx, 12
        or dword [pt0 + ebx * 8], PG_US
        add eax, 0x1000
        cmp eax, _eutext
        jb .ucode
        mov ebx, ustack_top - 4096
        shr ebx, 12
        or dword [pt0 + ebx * 8], PG_US
        mov dword [pd0], pt0 + (PG_P | PG_RW | PG_US)
        mov edi, pd0 + 8
        mov eax, 0x00200000 | PG_PS | PG_P | PG_RW
.pd0:   mov [edi], eax
        add edi, 8
        add eax, 0x00200000
        cmp edi, pd0 + 8 * 8
        jb .pd0
        mov dword [pdpt + 0 * 8], pd0 + PG_P
        mov dword [pdpt + 1 * 8], pd1 + PG_P
        mov dword [pd1 + 0 * 8], pt1 + (PG_P | PG_RW | PG_US)
        mov dword [pd1 + 1 * 8], BIG_RSVD | PG_RSVD13 | PG_PS | PG_P | PG_RW | PG_US
        mov dword [pt1 + 0 * 8], FRAME_URO | PG_P | PG_US
        mov dword [pt1 + 1 * 8], FRAME_URW | PG_P | PG_RW | PG_US
        mov dword [pt1 + 2 * 8], FRAME_S | PG_P | PG_RW
        mov dword [pt1 + 4 * 8], FRAME_UNX | PG_P | PG_RW | PG_US
        mov dword [pt1 + 4 * 8 + 4], PG_XD_HI
        mov dword [pt1 + 5 * 8], FRAME_SCODE | PG_P | PG_RW
        mov edi, FRAME_SCODE                ; mov eax, 0x5c0de; ret
        mov byte [edi], 0xb8
        mov dword [edi + 1], 0x5c0de
        mov byte [edi + 5], 0xc3
        mov dword [FRAME_URO], 0xa5a5a5a5
        mov ecx, MSR_EFER
        rdmsr
        or eax, EFER_NXE
        wrmsr
        mov eax, pdpt
        mov cr3, eax
        mov eax, cr4
        or eax, CR4_PAE
        mov cr4, eax
        mov eax, cr0
        or eax, CR0_PG | CR0_WP
        mov cr0, eax
        ret

; --- code that runs at CPL 3 --------------------------------------------------
; Each piece ends in a trap; INT 0x81 (DPL 3, no handler) just returns to the
; kernel's resume point with the registers recorded.
section .utext progbits alloc exec nowrite align=4096
u_hlt:  hlt
u_cr0:  mov eax, cr0
u_int40:
        int 0x40
u_read_np:
        mov eax, [VA_NP]
u_write_np:
        mov [VA_NP + 4], eax
u_read_s:
        mov eax, [VA_S + 8]
u_write_s:
        mov [VA_S + 12], eax
u_write_ro:
        mov ebx, [VA_URO]                   ; reading it is fine
        mov [VA_URW], ebx                   ; so is writing a writable user page
        mov [VA_URO + 16], ebx
u_read_rsvd:
        mov eax, [VA_RSVD + 0x30]
u_fetch_nx:
        jmp VA_UNX
u_fetch_s:
        call VA_SCODE
u_fetch_np:
        call VA_NP
u_int80:
        mov eax, 0x1234
        push eax                            ; user ESP = ustack_top - 4 at the INT
        int 0x80
u_int80_ret:
        mov ebx, cs
        mov edx, esp
        int 0x81
u_sysenter:
        push eax
        push eax                            ; user ESP = ustack_top - 8
        mov eax, 0x5678
        mov ecx, esp
        mov edx, u_sysenter_back
        sysenter
u_sysenter_back:
        mov ebx, cs
        mov ecx, ss
        mov edx, esp
u_sysenter_done:
        int 0x81

section .rodata
kernel_name:    db "exceptions", 0
align 4
bounds_1_4:     dd 1, 4

section .data
sc_vector:      dd 0
sc_cs:          dd 0
sc_eip:         dd 0
sc_ss3:         dd 0
sc_esp3:        dd 0
sc_entry_esp:   dd 0
sc_now_cs:      dd 0
sc_now_ss:      dd 0
sc_now_if:      dd -1
se_cs:          dd 0
se_ss:          dd 0
se_esp:         dd 0
se_if:          dd -1
se_eax:         dd 0

section .bss
alignb 4096
pdpt:           resq 512
pd0:            resq 512
pd1:            resq 512
pt0:            resq 512
pt1:            resq 512
                resb 4096
ustack_top:                                 ; a page of its own, user-accessible
                resb 4096
sysenter_stack_top:
