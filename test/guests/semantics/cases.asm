; cases.asm - the instruction sequences the semantics checker runs, and the
; harness that runs one of them on a given machine state.
;
; This file is assembled twice from the same source: into the guest kernel
; (semantics.asm includes it) and into the generator (gen.c links it as an
; ELF object and runs every case natively on the host CPU to get the expected
; results). So the guest and the host run the very same instruction bytes.
;
; A snippet is code that ends in RET. The harness loads EAX-EDI and EFLAGS
; from a struct sem_state, points EBP at a 32-byte scratch area (whose dword
; at [EBP] comes from the state), calls the snippet, and stores the registers,
; EFLAGS, that dword and an FNV-1a hash (over dwords) of all the memory the snippets may
; touch back into the state. ESI and EDI are offsets: into the 64-byte source
; and destination buffers of the string instructions, so results do not depend
; on where those buffers are.
;
; The table (section semtab) describes each snippet:
;   name, code, class (how the generator picks operands), width in bits,
;   flag mask (the EFLAGS bits the SDM defines after it: set, cleared or left
;   unchanged; undefined ones are left out), rule (when the defined flags
;   depend on the operands, e.g. the shift count: the generator then records
;   a mask per case), inputs and outputs (which of EAX EBX ECX EDX ESI EDI
;   [EBP] hash the expected-results file stores for each case), param (an
;   immediate count, a string element size, ...).
; Flag masks and rules follow the "Flags Affected" sections of the SDM Vol. 2
; instruction pages.

%include "classes.inc"

struc sem_state
S_EAX:      resd 1
S_EBX:      resd 1
S_ECX:      resd 1
S_EDX:      resd 1
S_ESI:      resd 1                          ; offset into src
S_EDI:      resd 1                          ; offset into dst
S_MEM:      resd 1                          ; the dword at [EBP]
S_SUM:      resd 1                          ; out: FNV-1a of scratch, src, dst
S_EFLAGS:   resd 1
S_PAD:      resd 3
S_SCRATCH:  resb 32                         ; EBP = S_SCRATCH + 16
S_SRC:      resb 64
S_DST:      resb 64
endstruc

; SNIP "name", class, width, flagmask, rule, inputs, outputs, param
; then the snippet's instructions, then RET.
%macro SNIP 8
        [section .rodata]
%%name: db %1, 0
        [section semtab]
        dd %%name, %%code, %2, %3, %4, %5, %6, %7, %8
        __SECT__
%%code:
%endmacro

section semtab progbits alloc noexec nowrite align=4
global sem_table
sem_table:

section .text
global sem_harness, sem_table_end, sem_defaults

; void sem_harness(struct sem_state *s, void (*code)(void)) - cdecl
sem_harness:
        push ebp
        push ebx
        push esi
        push edi
        mov eax, [esp + 20]
        mov [h_state], eax
        mov eax, [esp + 24]
        mov [h_code], eax
        mov ebx, [h_state]
        ; the memory: scratch, src and dst from the template, then [EBP] = S_MEM
        xor ecx, ecx
.init:  mov eax, [sem_memory + ecx * 4]
        mov [ebx + S_SCRATCH + ecx * 4], eax
        inc ecx
        cmp ecx, 40
        jb .init
        mov eax, [ebx + S_MEM]
        mov [ebx + S_SCRATCH + 16], eax
        ; load the machine state
        mov eax, [ebx + S_EFLAGS]
        and eax, 0x0cd5                     ; status flags and DF only
        or eax, 2
        push eax
        mov eax, [ebx + S_EAX]
        mov ecx, [ebx + S_ECX]
        mov edx, [ebx + S_EDX]
        mov esi, [ebx + S_ESI]
        lea esi, [ebx + S_SRC + esi]
        mov edi, [ebx + S_EDI]
        lea edi, [ebx + S_DST + edi]
        lea ebp, [ebx + S_SCRATCH + 16]
        mov ebx, [ebx + S_EBX]
        popfd
        call [h_code]
        pushfd
        mov [h_eax], eax
        mov eax, [h_state]
        mov [eax + S_EBX], ebx
        mov [eax + S_ECX], ecx
        mov [eax + S_EDX], edx
        lea ebx, [eax + S_SRC]
        sub esi, ebx
        mov [eax + S_ESI], esi
        lea ebx, [eax + S_DST]
        sub edi, ebx
        mov [eax + S_EDI], edi
        pop dword [eax + S_EFLAGS]
        mov ebx, [h_eax]
        mov [eax + S_EAX], ebx
        mov ebx, [eax + S_SCRATCH + 16]
        mov [eax + S_MEM], ebx
        cld
        ; a hash of scratch, src and dst: FNV-1a over the 40 dwords
        xor ecx, ecx
        mov edx, 2166136261
.hash:  xor edx, [eax + S_SCRATCH + ecx * 4]
        imul edx, edx, 16777619
        inc ecx
        cmp ecx, 40
        jb .hash
        mov [eax + S_SUM], edx
        pop edi
        pop esi
        pop ebx
        pop ebp
        ret

; the memory before each case: scratch dword j = 0x5c5c0000 + j * 0x01010101;
; src byte i = 7 i + 0x31; dst the same except that bytes 21 and 42 differ in
; bit 7 (so CMPS finds mismatches there)
align 4
sem_memory:
%assign j 0
%rep 8
        dd 0x5c5c0000 + j * 0x01010101
%assign j j + 1
%endrep
%assign i 0
%rep 64
        db (7 * i + 0x31) & 0xff
%assign i i + 1
%endrep
%assign i 0
%rep 64
%if i == 21 || i == 42
        db ((7 * i + 0x31) & 0xff) ^ 0x80
%else
        db (7 * i + 0x31) & 0xff
%endif
%assign i i + 1
%endrep

; the inputs a case does not list: EAX EBX ECX EDX ESI EDI [EBP]
sem_defaults:
        dd 0xa0a1a2a3, 0xb0b1b2b3, 0xc0c1c2c3, 0xd0d1d2d3, 16, 24, 0xe0e1e2e3

F_CF    equ 0x001
F_PF    equ 0x004
F_AF    equ 0x010
F_ZF    equ 0x040
F_SF    equ 0x080
F_DF    equ 0x400
F_OF    equ 0x800
F_ALL   equ F_CF | F_PF | F_AF | F_ZF | F_SF | F_DF | F_OF
F_LOGIC equ F_ALL & ~F_AF                   ; AND OR XOR TEST: AF undefined
F_MUL   equ F_CF | F_OF | F_DF              ; MUL IMUL: SF ZF AF PF undefined
F_NONE  equ F_DF                            ; DIV IDIV: all six undefined

; --- ADD ADC SUB SBB CMP AND OR XOR TEST (SDM Vol. 2A/2B) -------------------
%macro BINOP 3                              ; mnemonic, class, mask
        SNIP %str(%1 r32), %2, 32, %3, R_NONE, IN_EAX | IN_EBX, OUT_EAX, 0
        %1 eax, ebx
        ret
        SNIP %str(%1 r16), %2, 16, %3, R_NONE, IN_EAX | IN_EBX, OUT_EAX, 0
        %1 ax, bx
        ret
        SNIP %str(%1 r8), %2, 8, %3, R_NONE, IN_EAX | IN_EBX, OUT_EAX, 0
        %1 al, bl
        ret
%endmacro
        BINOP add, C_BIN, F_ALL
        BINOP adc, C_BINC, F_ALL
        BINOP sub, C_BIN, F_ALL
        BINOP sbb, C_BINC, F_ALL
        BINOP cmp, C_BIN, F_ALL
        BINOP and, C_BIN, F_LOGIC
        BINOP or, C_BIN, F_LOGIC
        BINOP xor, C_BIN, F_LOGIC
        BINOP test, C_BIN, F_LOGIC
        SNIP "add ah, bh (high bytes)", C_BIN, 8, F_ALL, R_NONE, IN_EAX | IN_EBX, OUT_EAX, 0
        add ah, bh
        ret
        SNIP "sbb bh, al", C_BINC, 8, F_ALL, R_NONE, IN_EAX | IN_EBX, OUT_EBX, 0
        sbb bh, al
        ret
        SNIP "add [mem32], r32", C_BINM, 32, F_ALL, R_NONE, IN_MEM | IN_EBX, OUT_MEM | OUT_SUM, 0
        add [ebp], ebx
        ret
        SNIP "sub r32, [mem32]", C_BINM, 32, F_ALL, R_NONE, IN_MEM | IN_EBX, OUT_EBX, 0
        sub ebx, [ebp]
        ret
        SNIP "cmp byte [mem], 0x80", C_UNM, 8, F_ALL, R_NONE, IN_MEM, 0, 0
        cmp byte [ebp], 0x80
        ret
        SNIP "adc al, 0x7f", C_UN, 8, F_ALL, R_NONE, IN_EAX, OUT_EAX, 0
        adc al, 0x7f
        ret
        SNIP "sbb ax, 0x8000", C_UN, 16, F_ALL, R_NONE, IN_EAX, OUT_EAX, 0
        sbb ax, 0x8000
        ret
        SNIP "add eax, 0x12345678", C_UN, 32, F_ALL, R_NONE, IN_EAX, OUT_EAX, 0
        add eax, 0x12345678
        ret
        SNIP "and ebx, -16 (imm8)", C_UNB, 32, F_LOGIC, R_NONE, IN_EBX, OUT_EBX, 0
        and ebx, strict byte -16
        ret
        SNIP "cmp ebx, -1 (imm8)", C_UNB, 32, F_ALL, R_NONE, IN_EBX, 0, 0
        cmp ebx, strict byte -1
        ret
        SNIP "test al, 0x81", C_UN, 8, F_LOGIC, R_NONE, IN_EAX, 0, 0
        test al, 0x81
        ret
        SNIP "test bx, 0x8001", C_UNB, 16, F_LOGIC, R_NONE, IN_EBX, 0, 0
        test bx, 0x8001
        ret
        SNIP "xor eax, 0xffffffff", C_UN, 32, F_LOGIC, R_NONE, IN_EAX, OUT_EAX, 0
        xor eax, strict dword 0xffffffff
        ret

; --- INC DEC NEG NOT ------------------------------------------------------------
; INC/DEC leave CF unchanged; NEG sets CF = (src != 0); NOT changes no flag.
%macro UNOP 2                               ; mnemonic, mask
        SNIP %str(%1 r32), C_UN, 32, %2, R_NONE, IN_EAX, OUT_EAX, 0
        %1 eax
        ret
        SNIP %str(%1 r16), C_UN, 16, %2, R_NONE, IN_EAX, OUT_EAX, 0
        %1 ax
        ret
        SNIP %str(%1 r8), C_UN, 8, %2, R_NONE, IN_EAX, OUT_EAX, 0
        %1 al
        ret
%endmacro
        UNOP inc, F_ALL
        UNOP dec, F_ALL
        UNOP neg, F_ALL
        UNOP not, F_ALL
        SNIP "inc dword [mem]", C_UNM, 32, F_ALL, R_NONE, IN_MEM, OUT_MEM | OUT_SUM, 0
        inc dword [ebp]
        ret
        SNIP "neg byte [mem]", C_UNM, 8, F_ALL, R_NONE, IN_MEM, OUT_MEM | OUT_SUM, 0
        neg byte [ebp]
        ret
        SNIP "dec bh", C_UNB, 8, F_ALL, R_NONE, IN_EBX, OUT_EBX, 0
        dec bh
        ret

; --- MUL IMUL DIV IDIV -----------------------------------------------------------
        SNIP "mul r8", C_MUL, 8, F_MUL, R_NONE, IN_EAX | IN_EBX | IN_EDX, OUT_EAX, 0
        mul bl
        ret
        SNIP "mul r16", C_MUL, 16, F_MUL, R_NONE, IN_EAX | IN_EBX | IN_EDX, OUT_EAX | OUT_EDX, 0
        mul bx
        ret
        SNIP "mul r32", C_MUL, 32, F_MUL, R_NONE, IN_EAX | IN_EBX | IN_EDX, OUT_EAX | OUT_EDX, 0
        mul ebx
        ret
        SNIP "imul r8", C_MUL, 8, F_MUL, R_NONE, IN_EAX | IN_EBX | IN_EDX, OUT_EAX, 0
        imul bl
        ret
        SNIP "imul r16", C_MUL, 16, F_MUL, R_NONE, IN_EAX | IN_EBX | IN_EDX, OUT_EAX | OUT_EDX, 0
        imul bx
        ret
        SNIP "imul r32", C_MUL, 32, F_MUL, R_NONE, IN_EAX | IN_EBX | IN_EDX, OUT_EAX | OUT_EDX, 0
        imul ebx
        ret
        SNIP "imul r16, r16", C_MUL, 16, F_MUL, R_NONE, IN_EAX | IN_EBX, OUT_EAX, 0
        imul ax, bx
        ret
        SNIP "imul r32, r32", C_MUL, 32, F_MUL, R_NONE, IN_EAX | IN_EBX, OUT_EAX, 0
        imul eax, ebx
        ret
        SNIP "imul r32, [mem32]", C_BINM, 32, F_MUL, R_NONE, IN_MEM | IN_EBX, OUT_EBX, 0
        imul ebx, [ebp]
        ret
        SNIP "imul r32, r32, -3 (imm8)", C_UNB, 32, F_MUL, R_NONE, IN_EBX, OUT_EAX, 0
        imul eax, ebx, strict byte -3
        ret
        SNIP "imul r32, r32, 0x12345 (imm32)", C_UNB, 32, F_MUL, R_NONE, IN_EBX, OUT_EAX, 0
        imul eax, ebx, strict dword 0x12345
        ret
        SNIP "imul r16, r16, 1000 (imm16)", C_UNB, 16, F_MUL, R_NONE, IN_EBX, OUT_EAX, 0
        imul ax, bx, strict word 1000
        ret
        SNIP "div r8", C_DIV, 8, F_NONE, R_NONE, IN_EAX | IN_EBX | IN_EDX, OUT_EAX, 0
        div bl
        ret
        SNIP "div r16", C_DIV, 16, F_NONE, R_NONE, IN_EAX | IN_EBX | IN_EDX, OUT_EAX | OUT_EDX, 0
        div bx
        ret
        SNIP "div r32", C_DIV, 32, F_NONE, R_NONE, IN_EAX | IN_EBX | IN_EDX, OUT_EAX | OUT_EDX, 0
        div ebx
        ret
        SNIP "idiv r8", C_IDIV, 8, F_NONE, R_NONE, IN_EAX | IN_EBX | IN_EDX, OUT_EAX, 0
        idiv bl
        ret
        SNIP "idiv r16", C_IDIV, 16, F_NONE, R_NONE, IN_EAX | IN_EBX | IN_EDX, OUT_EAX | OUT_EDX, 0
        idiv bx
        ret
        SNIP "idiv r32", C_IDIV, 32, F_NONE, R_NONE, IN_EAX | IN_EBX | IN_EDX, OUT_EAX | OUT_EDX, 0
        idiv ebx
        ret

; --- shifts and rotates: SAL/SAR/SHL/SHR, ROL/ROR, RCL/RCR ----------------
; Counts are masked to 5 bits. Count 0: no flag changes. SHL/SHR/SAR: CF =
; last bit out (undefined for SHL/SHR when the count >= width), OF defined
; only for count 1, AF undefined. ROL/ROR/RCL/RCR change only CF and OF (OF
; defined only for count 1); RCL/RCR rotate by count mod 9 (8-bit) or mod 17
; (16-bit) through CF. The generator applies these per case (rules R_*).
%macro SHIFTOP 2                            ; mnemonic, rule
        SNIP %str(%1 r32, cl), C_SHIFT, 32, F_ALL, %2, IN_EAX | IN_ECX, OUT_EAX, 0
        %1 eax, cl
        ret
        SNIP %str(%1 r16, cl), C_SHIFT, 16, F_ALL, %2, IN_EAX | IN_ECX, OUT_EAX, 0
        %1 ax, cl
        ret
        SNIP %str(%1 r8, cl), C_SHIFT, 8, F_ALL, %2, IN_EAX | IN_ECX, OUT_EAX, 0
        %1 al, cl
        ret
%endmacro
        SHIFTOP shl, R_SHL
        SHIFTOP shr, R_SHR
        SHIFTOP sar, R_SAR
        SHIFTOP rol, R_ROT
        SHIFTOP ror, R_ROT
        SHIFTOP rcl, R_RC
        SHIFTOP rcr, R_RC
        SNIP "shl r32, 1 (D1)", C_SHIFTI, 32, F_ALL, R_SHL, IN_EAX, OUT_EAX, 1
        shl eax, 1
        ret
        SNIP "shr r8, 1 (D0)", C_SHIFTI, 8, F_ALL, R_SHR, IN_EAX, OUT_EAX, 1
        shr al, 1
        ret
        SNIP "sar r16, 1 (D1)", C_SHIFTI, 16, F_ALL, R_SAR, IN_EAX, OUT_EAX, 1
        sar ax, 1
        ret
        SNIP "rol r32, 1 (D1)", C_SHIFTI, 32, F_ALL, R_ROT, IN_EAX, OUT_EAX, 1
        rol eax, 1
        ret
        SNIP "rcr r32, 1 (D1)", C_SHIFTI, 32, F_ALL, R_RC, IN_EAX, OUT_EAX, 1
        rcr eax, 1
        ret
        SNIP "rcl r8, 1 (D0)", C_SHIFTI, 8, F_ALL, R_RC, IN_EAX, OUT_EAX, 1
        rcl al, 1
        ret
        SNIP "shl r32, 7 (C1)", C_SHIFTI, 32, F_ALL, R_SHL, IN_EAX, OUT_EAX, 7
        shl eax, 7
        ret
        SNIP "sar r32, 31 (C1)", C_SHIFTI, 32, F_ALL, R_SAR, IN_EAX, OUT_EAX, 31
        sar eax, 31
        ret
        SNIP "ror r16, 9 (C1)", C_SHIFTI, 16, F_ALL, R_ROT, IN_EAX, OUT_EAX, 9
        ror ax, 9
        ret
        SNIP "rcl r32, 5 (C1)", C_SHIFTI, 32, F_ALL, R_RC, IN_EAX, OUT_EAX, 5
        rcl eax, 5
        ret
        SNIP "rcr r8, 12 (C0)", C_SHIFTI, 8, F_ALL, R_RC, IN_EAX, OUT_EAX, 12
        rcr al, 12
        ret
        SNIP "shr dword [mem], cl", C_SHIFTM, 32, F_ALL, R_SHR, IN_MEM | IN_ECX, OUT_MEM | OUT_SUM, 0
        shr dword [ebp], cl
        ret

; --- SHLD SHRD: count masked to 5 bits; 0 changes nothing; a count above
; the width leaves result and flags undefined (the generator skips it); OF
; only for count 1; AF undefined.
        SNIP "shld r32, r32, cl", C_SHD, 32, F_ALL, R_SHD, IN_EAX | IN_EBX | IN_ECX, OUT_EAX, 0
        shld eax, ebx, cl
        ret
        SNIP "shrd r32, r32, cl", C_SHD, 32, F_ALL, R_SHD, IN_EAX | IN_EBX | IN_ECX, OUT_EAX, 0
        shrd eax, ebx, cl
        ret
        SNIP "shld r16, r16, cl", C_SHD, 16, F_ALL, R_SHD, IN_EAX | IN_EBX | IN_ECX, OUT_EAX, 0
        shld ax, bx, cl
        ret
        SNIP "shrd r16, r16, cl", C_SHD, 16, F_ALL, R_SHD, IN_EAX | IN_EBX | IN_ECX, OUT_EAX, 0
        shrd ax, bx, cl
        ret
        SNIP "shld r32, r32, 4", C_SHDI, 32, F_ALL, R_SHD, IN_EAX | IN_EBX, OUT_EAX, 4
        shld eax, ebx, 4
        ret
        SNIP "shrd r32, r32, 1", C_SHDI, 32, F_ALL, R_SHD, IN_EAX | IN_EBX, OUT_EAX, 1
        shrd eax, ebx, 1
        ret
        SNIP "shrd r16, r16, 15", C_SHDI, 16, F_ALL, R_SHD, IN_EAX | IN_EBX, OUT_EAX, 15
        shrd ax, bx, 15
        ret
        SNIP "shld [mem32], r32, cl", C_SHDM, 32, F_ALL, R_SHD, IN_MEM | IN_EBX | IN_ECX, OUT_MEM | OUT_SUM, 0
        shld [ebp], ebx, cl
        ret

; --- BT BTS BTR BTC: CF = the bit; ZF unchanged; OF SF AF PF undefined.
; Register and immediate offsets are taken modulo the width; a register
; offset on a memory operand addresses the bit string (it may leave the dword).
F_BT    equ F_CF | F_ZF | F_DF
%macro BTOP 1
        SNIP %str(%1 r32, r32), C_BT, 32, F_BT, R_NONE, IN_EAX | IN_EBX, OUT_EAX, 0
        %1 eax, ebx
        ret
        SNIP %str(%1 [mem], r32), C_BTM, 32, F_BT, R_NONE, IN_MEM | IN_EBX, OUT_MEM | OUT_SUM, 0
        %1 [ebp], ebx
        ret
%endmacro
        BTOP bt
        BTOP bts
        BTOP btr
        BTOP btc
        SNIP "bt r16, r16", C_BT, 16, F_BT, R_NONE, IN_EAX | IN_EBX, OUT_EAX, 0
        bt ax, bx
        ret
        SNIP "btc r16, r16", C_BT, 16, F_BT, R_NONE, IN_EAX | IN_EBX, OUT_EAX, 0
        btc ax, bx
        ret
        SNIP "bts word [mem], r16", C_BTM, 16, F_BT, R_NONE, IN_MEM | IN_EBX, OUT_MEM | OUT_SUM, 0
        bts word [ebp], bx
        ret
        SNIP "bt r32, 35 (imm)", C_UN, 32, F_BT, R_NONE, IN_EAX, OUT_EAX, 35
        bt eax, 35
        ret
        SNIP "bts r32, 31 (imm)", C_UN, 32, F_BT, R_NONE, IN_EAX, OUT_EAX, 31
        bts eax, 31
        ret
        SNIP "btr r16, 17 (imm)", C_UN, 16, F_BT, R_NONE, IN_EAX, OUT_EAX, 17
        btr ax, 17
        ret
        SNIP "btc dword [mem], 33 (imm)", C_UNM, 32, F_BT, R_NONE, IN_MEM, OUT_MEM | OUT_SUM, 33
        btc dword [ebp], 33
        ret

; --- BSF BSR: ZF = (source == 0); other flags undefined; the destination
; is undefined for a zero source (rule R_BSX drops it from the check).
%macro BSOP 1
        SNIP %str(%1 r32, r32), C_BSX, 32, F_ZF | F_DF, R_BSX, IN_EAX | IN_EBX, OUT_EBX, 0
        %1 ebx, eax
        ret
        SNIP %str(%1 r16, r16), C_BSX, 16, F_ZF | F_DF, R_BSX, IN_EAX | IN_EBX, OUT_EBX, 0
        %1 bx, ax
        ret
%endmacro
        BSOP bsf
        BSOP bsr

; --- BSWAP XADD CMPXCHG CMPXCHG8B ----------------------------------------------
        SNIP "bswap eax", C_UN, 32, F_ALL, R_NONE, IN_EAX, OUT_EAX, 0
        bswap eax
        ret
        SNIP "bswap ecx", C_UNC, 32, F_ALL, R_NONE, IN_ECX, OUT_ECX, 0
        bswap ecx
        ret
        SNIP "xadd r32, r32", C_BIN, 32, F_ALL, R_NONE, IN_EAX | IN_EBX, OUT_EAX | OUT_EBX, 0
        xadd eax, ebx
        ret
        SNIP "xadd r16, r16", C_BIN, 16, F_ALL, R_NONE, IN_EAX | IN_EBX, OUT_EAX | OUT_EBX, 0
        xadd ax, bx
        ret
        SNIP "xadd r8, r8", C_BIN, 8, F_ALL, R_NONE, IN_EAX | IN_EBX, OUT_EAX | OUT_EBX, 0
        xadd al, bl
        ret
        SNIP "lock xadd [mem32], r32", C_BINM, 32, F_ALL, R_NONE, IN_MEM | IN_EBX, OUT_MEM | OUT_EBX | OUT_SUM, 0
        lock xadd [ebp], ebx
        ret
        SNIP "cmpxchg r32, r32", C_CMPX, 32, F_ALL, R_NONE, IN_EAX | IN_EBX | IN_ECX, OUT_EAX | OUT_EBX, 0
        cmpxchg ebx, ecx
        ret
        SNIP "cmpxchg r16, r16", C_CMPX, 16, F_ALL, R_NONE, IN_EAX | IN_EBX | IN_ECX, OUT_EAX | OUT_EBX, 0
        cmpxchg bx, cx
        ret
        SNIP "cmpxchg r8, r8", C_CMPX, 8, F_ALL, R_NONE, IN_EAX | IN_EBX | IN_ECX, OUT_EAX | OUT_EBX, 0
        cmpxchg bl, cl
        ret
        SNIP "lock cmpxchg [mem32], r32", C_CMPXM, 32, F_ALL, R_NONE, IN_EAX | IN_MEM | IN_ECX, OUT_EAX | OUT_MEM | OUT_SUM, 0
        lock cmpxchg [ebp], ecx
        ret
        ; CMPXCHG8B: only ZF changes; CF PF AF SF OF are left unchanged
        SNIP "lock cmpxchg8b [mem64]", C_CX8, 64, F_ALL, R_NONE, IN_EAX | IN_EBX | IN_ECX | IN_EDX | IN_MEM, OUT_EAX | OUT_EDX | OUT_MEM | OUT_SUM, 0
        lock cmpxchg8b [ebp]
        ret

; --- DAA DAS AAA AAS AAM AAD --------------------------------------------------
        SNIP "daa", C_BCD, 8, F_ALL & ~F_OF, R_NONE, IN_EAX, OUT_EAX, 0
        daa
        ret
        SNIP "das", C_BCD, 8, F_ALL & ~F_OF, R_NONE, IN_EAX, OUT_EAX, 0
        das
        ret
        SNIP "aaa", C_BCD, 8, F_AF | F_CF | F_DF, R_NONE, IN_EAX, OUT_EAX, 0
        aaa
        ret
        SNIP "aas", C_BCD, 8, F_AF | F_CF | F_DF, R_NONE, IN_EAX, OUT_EAX, 0
        aas
        ret
        SNIP "aam", C_AAM, 8, F_SF | F_ZF | F_PF | F_DF, R_NONE, IN_EAX, OUT_EAX, 10
        aam
        ret
        SNIP "aam 16", C_AAM, 8, F_SF | F_ZF | F_PF | F_DF, R_NONE, IN_EAX, OUT_EAX, 16
        aam 16
        ret
        SNIP "aad", C_AAM, 8, F_SF | F_ZF | F_PF | F_DF, R_NONE, IN_EAX, OUT_EAX, 10
        aad
        ret
        SNIP "aad 7", C_AAM, 8, F_SF | F_ZF | F_PF | F_DF, R_NONE, IN_EAX, OUT_EAX, 7
        aad 7
        ret

; --- CBW CWDE CWD CDQ: no flags -----------------------------------------------
        SNIP "cbw", C_CONV, 16, F_ALL, R_NONE, IN_EAX | IN_EDX, OUT_EAX, 0
        cbw
        ret
        SNIP "cwde", C_CONV, 32, F_ALL, R_NONE, IN_EAX | IN_EDX, OUT_EAX, 0
        cwde
        ret
        SNIP "cwd", C_CONV, 16, F_ALL, R_NONE, IN_EAX | IN_EDX, OUT_EDX, 0
        cwd
        ret
        SNIP "cdq", C_CONV, 32, F_ALL, R_NONE, IN_EAX | IN_EDX, OUT_EDX, 0
        cdq
        ret

; --- SETcc CMOVcc: no flags; every combination of CF PF ZF SF OF -------------
%macro CCOPS 1
        SNIP %str(set%1 al), C_FLAGS, 8, F_ALL, R_NONE, IN_EAX, OUT_EAX, 0
        set%1 al
        ret
        SNIP %str(cmov%1 r32, r32), C_FLAGS, 32, F_ALL, R_NONE, IN_EAX | IN_EBX, OUT_EAX, 0
        cmov%1 eax, ebx
        ret
%endmacro
        CCOPS o
        CCOPS no
        CCOPS b
        CCOPS ae
        CCOPS e
        CCOPS ne
        CCOPS be
        CCOPS a
        CCOPS s
        CCOPS ns
        CCOPS p
        CCOPS np
        CCOPS l
        CCOPS ge
        CCOPS le
        CCOPS g
        SNIP "setle byte [mem]", C_FLAGS, 8, F_ALL, R_NONE, IN_MEM, OUT_MEM | OUT_SUM, 0
        setle byte [ebp]
        ret
        SNIP "cmovbe r16, r16", C_FLAGS, 16, F_ALL, R_NONE, IN_EAX | IN_EBX, OUT_EAX, 0
        cmovbe ax, bx
        ret
        SNIP "cmovg r32, [mem32]", C_FLAGS, 32, F_ALL, R_NONE, IN_EAX | IN_MEM, OUT_EAX, 0
        cmovg eax, [ebp]
        ret

; --- string instructions: MOVS STOS LODS CMPS SCAS, with REP/REPE/REPNE,
; DF = 0 and 1, elements of 1, 2 and 4 bytes (param). MOVS STOS LODS change
; no flag; CMPS SCAS set them like CMP. A REP with ECX = 0 changes nothing.
IO_STR  equ IN_EAX | IN_ECX | IN_ESI | IN_EDI
OO_STR  equ OUT_EAX | OUT_ECX | OUT_ESI | OUT_EDI | OUT_SUM
%macro STROP 3                              ; mnemonic, prefix, element size
        SNIP %str(%2 %1), C_STR, 32, F_ALL, R_NONE, IO_STR, OO_STR, %3
        %2 %1
        ret
%endmacro
        STROP movsb, , 1
        STROP movsw, , 2
        STROP movsd, , 4
        STROP movsb, rep, 1
        STROP movsw, rep, 2
        STROP movsd, rep, 4
        STROP stosb, , 1
        STROP stosw, , 2
        STROP stosd, , 4
        STROP stosb, rep, 1
        STROP stosw, rep, 2
        STROP stosd, rep, 4
        STROP lodsb, , 1
        STROP lodsw, , 2
        STROP lodsd, , 4
        STROP lodsb, rep, 1
        STROP cmpsb, , 1
        STROP cmpsw, , 2
        STROP cmpsd, , 4
        STROP cmpsb, repe, 1
        STROP cmpsw, repe, 2
        STROP cmpsd, repe, 4
        STROP cmpsb, repne, 1
        STROP cmpsd, repne, 4
        STROP scasb, , 1
        STROP scasw, , 2
        STROP scasd, , 4
        STROP scasb, repe, 1
        STROP scasd, repe, 4
        STROP scasb, repne, 1
        STROP scasw, repne, 2
        STROP scasd, repne, 4

        [section semtab]
sem_table_end:
        __SECT__

section .bss
h_state:        resd 1
h_code:         resd 1
h_eax:          resd 1
