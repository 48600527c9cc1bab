; semantics - integer instruction semantics (Intel SDM Vol. 2), checked
; against results recorded on a real CPU.
;
; cases.asm holds the instruction sequences (snippets) and the harness that
; runs one on a given machine state; gen.c ran every case natively on the
; host CPU and wrote the inputs and expected outputs to expected.inc (EFLAGS
; masked to the flags the SDM defines for that instruction and those
; operands). This kernel runs the same cases on the CPU under test and
; compares: every output register (and every register that is no output must
; be unchanged), the dword at [EBP], a hash of the memory the snippets may
; write, and the defined flags. Each mismatch gets a line; then the summary
; "semantics: N cases, M mismatches". Exit status: 0, or the 1-based number of
; the first snippet with a mismatch.
;
; Covered: ADD ADC SUB SBB CMP AND OR XOR TEST INC DEC NEG NOT (8/16/32-bit,
; high-byte registers, memory and immediate forms), MUL, IMUL (1, 2 and 3
; operands), DIV, IDIV, SHL SHR SAR ROL ROR RCL RCR (by CL with counts 0-255,
; by 1, by imm8, on memory), SHLD SHRD, BT BTS BTR BTC (register, immediate,
; memory bit strings), BSF BSR, BSWAP, XADD, CMPXCHG, CMPXCHG8B, DAA DAS AAA
; AAS AAM AAD, CBW CWDE CWD CDQ, SETcc and CMOVcc (all 16 conditions, every
; CF PF ZF SF OF combination), MOVS STOS LODS CMPS SCAS (8/16/32-bit, both
; directions, with REP/REPE/REPNE).

%include "multiboot.inc"
%include "console.inc"
%include "x86.inc"
%include "cases.asm"
%include "expected.inc"

SNIP_SIZE       equ 36                      ; bytes per sem_table entry
SN_NAME         equ 0
SN_CODE         equ 4
SN_MASK         equ 16
SN_RULE         equ 20
SN_IN           equ 24
SN_OUT          equ 28

section .text
main:
        PRINT "semantics: "
        PRINTDEC SEM_SNIPPETS
        PRINTLN " instruction forms, expected results from a native run (see expected.inc)"
        mov eax, sem_table_end - sem_table
        cmp eax, SEM_SNIPPETS * SNIP_SIZE
        je .table_ok
        PRINTLN "semantics: expected.inc does not match cases.asm: regenerate it"
        mov eax, 0x7c
        jmp exit
.table_ok:
        mov dword [snip_index], 0
.snippet:
        mov eax, [snip_index]
        cmp eax, SEM_SNIPPETS
        jae .done
        imul esi, eax, SNIP_SIZE
        add esi, sem_table
        mov [snip], esi
        mov edi, [sem_case_dir + eax * 8]
        mov eax, [sem_case_dir + eax * 8 + 4]
        mov [case_end], eax
.case:  cmp edi, [case_end]
        jae .next_snippet
        call run_case                       ; EDI = record; returns EDI past it
        inc dword [cases_run]
        jmp .case
.next_snippet:
        inc dword [snip_index]
        jmp .snippet
.done:  PRINT "semantics: "
        PRINTDEC [cases_run]
        PRINT " cases, "
        PRINTDEC [mismatches]
        PRINTLN " mismatches"
        mov eax, [first_bad]
        jmp exit

; run_case: EDI = case record of snippet [snip]. Runs it, compares, prints a
; mismatch line if needed. Returns EDI past the record.
run_case:
        mov esi, [snip]
        ; inputs: defaults, then the listed ones
        xor ecx, ecx
.in:    mov eax, [sem_defaults + ecx * 4]
        bt dword [esi + SN_IN], ecx
        jnc .in_set
        mov eax, [edi]
        add edi, 4
.in_set:
        mov [state + ecx * 4], eax
        mov [inputs + ecx * 4], eax
        mov [expect + ecx * 4], eax         ; an unlisted output must stay as it was
        inc ecx
        cmp ecx, 7
        jb .in
        mov eax, [edi]
        add edi, 4
        mov [flag_word], eax
        movzx eax, ax
        mov [state + S_EFLAGS], eax
        push dword [esi + SN_CODE]
        push state
        call sem_harness
        add esp, 8
        mov esi, [snip]
        ; expected outputs
        xor ecx, ecx
.out:   bt dword [esi + SN_OUT], ecx
        jnc .out_next
        mov eax, [edi]
        add edi, 4
        mov [expect + ecx * 4], eax
.out_next:
        inc ecx
        cmp ecx, 7
        jb .out
        test dword [esi + SN_OUT], OUT_SUM
        jz .nosum
        mov eax, [edi]
        add edi, 4
        mov [expect_sum], eax
.nosum: mov eax, [esi + SN_MASK]
        xor edx, edx
        cmp dword [esi + SN_RULE], R_NONE
        je .mask
        mov eax, [edi]
        add edi, 4
        mov edx, eax
        shr edx, 16                         ; outputs the SDM leaves undefined
        and eax, 0xffff
.mask:  mov [flag_mask], eax
        mov [undefined], edx
        ; compare
        mov dword [bad], 0
        xor ecx, ecx
.cmp:   bt dword [undefined], ecx
        jc .cmp_next
        mov eax, [state + ecx * 4]
        cmp eax, [expect + ecx * 4]
        je .cmp_next
        bts dword [bad], ecx
.cmp_next:
        inc ecx
        cmp ecx, 7
        jb .cmp
        test dword [esi + SN_OUT], OUT_SUM
        jz .flags
        mov eax, [state + S_SUM]
        cmp eax, [expect_sum]
        je .flags
        or dword [bad], 0x80
.flags: mov eax, [state + S_EFLAGS]
        and eax, [flag_mask]
        mov [got_flags], eax
        mov edx, [flag_word]
        shr edx, 16
        cmp eax, edx
        je .flags_ok
        or dword [bad], 0x100
.flags_ok:
        cmp dword [bad], 0
        jne report
        ret

; report: print one mismatch line for the case just run, e.g.
; "mismatch: adc r32 (in eax=... ebx=... flags=...): eax got ... want ...; flags got ... want ... (mask ...)"
report:
        push edi
        inc dword [mismatches]
        cmp dword [first_bad], 0
        jne .counted
        mov eax, [snip_index]
        inc eax
        mov [first_bad], eax
.counted:
        PRINT "mismatch: "
        mov esi, [snip]
        mov esi, [esi + SN_NAME]
        call puts
        PRINT " (in"
        mov esi, [snip]
        xor ecx, ecx
.in:    bt dword [esi + SN_IN], ecx
        jnc .in_next
        mov al, ' '
        call putc
        push esi
        mov esi, [reg_names + ecx * 4]
        call puts
        pop esi
        mov al, '='
        call putc
        PRINTHEX [inputs + ecx * 4]
.in_next:
        inc ecx
        cmp ecx, 7
        jb .in
        PRINT " flags="
        movzx eax, word [flag_word]
        PRINTHEX eax
        PRINT ")"
        xor ecx, ecx
.reg:   bt dword [bad], ecx
        jnc .reg_next
        PRINT "; "
        push esi
        mov esi, [reg_names + ecx * 4]
        call puts
        pop esi
        PRINT " got "
        PRINTHEX [state + ecx * 4]
        PRINT " want "
        PRINTHEX [expect + ecx * 4]
.reg_next:
        inc ecx
        cmp ecx, 7
        jb .reg
        test dword [bad], 0x80
        jz .fl
        PRINT "; memory hash got "
        PRINTHEX [state + S_SUM]
        PRINT " want "
        PRINTHEX [expect_sum]
.fl:    test dword [bad], 0x100
        jz .eol
        PRINT "; flags got "
        PRINTHEX [got_flags]
        PRINT " want "
        mov eax, [flag_word]
        shr eax, 16
        PRINTHEX eax
        PRINT " (mask "
        PRINTHEX [flag_mask]
        PRINT ")"
.eol:   PRINTLN ""
        pop edi
        ret

section .rodata
kernel_name:    db "semantics", 0
align 4
reg_names:      dd .eax, .ebx, .ecx, .edx, .esi, .edi, .mem
.eax:           db "eax", 0
.ebx:           db "ebx", 0
.ecx:           db "ecx", 0
.edx:           db "edx", 0
.esi:           db "esi", 0
.edi:           db "edi", 0
.mem:           db "[ebp]", 0

section .data
snip_index:     dd 0
snip:           dd 0
case_end:       dd 0
cases_run:      dd 0
mismatches:     dd 0
first_bad:      dd 0
flag_word:      dd 0
flag_mask:      dd 0
got_flags:      dd 0
undefined:      dd 0
bad:            dd 0
expect_sum:     dd 0
inputs:         times 7 dd 0
expect:         times 7 dd 0

section .bss
alignb 16
state:          resb sem_state_size
