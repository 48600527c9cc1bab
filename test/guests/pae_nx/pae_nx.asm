; pae_nx - PAE paging (Intel SDM Vol. 3A 4.4) with 2 MiB and 4 KiB pages and
; execute-disable (EFER.NXE), checked from the guest side:
;
;   - CPUID 0x80000001 EDX bit 20 reports NX; WRMSR sets EFER.NXE (bit 11)
;     and RDMSR reads it back (SDM 2.2.1, 4.1.4)
;   - code runs from a 4 KiB and a 2 MiB page while XD (bit 63) is clear
;   - with XD set in the PTE, in the 2 MiB PDE, or only in the PDE above a
;     PTE with XD clear, an instruction fetch faults: #PF, error code 0x11
;     (P | I/D), CR2 = EIP = the target (SDM 4.6.2, 4.7); data reads and
;     writes of the same page still work
;   - a fetch that runs off the end of an executable page into an XD page,
;     and an instruction that straddles the two, fault with CR2 = the first
;     byte of the XD page and EIP = the instruction's first byte
;   - a fetch from a not-present page has error code 0x10 (I/D, no P)
;   - with EFER.NXE = 0, bit 63 is reserved: an access through such an entry
;     faults with P | RSVD and, for a fetch, no I/D (SDM 4.7: "bit 3 of the
;     error code can be set only if bit 0 is also set"; QEMU 7.2 TCG leaves
;     P clear there, so those two checks fail on it)
;   - the PDPTE registers (SDM 4.4.1): MOV to CR3 loads the four PDPTEs into
;     registers, and walks start from those, not from memory. So a PDPTE
;     edited in memory has no effect, even on an address that no TLB holds,
;     until the next CR3 load. (QEMU TCG does not model this: it reads the
;     PDPT from memory on every walk, so that check fails there, as it
;     would on AMD CPUs under nested paging.)
;
; Memory: 0-2 MiB identity-mapped with 4 KiB pages (kernel), 2-16 MiB with
; 2 MiB pages; the tests use linear addresses at 1 GiB and 3 GiB.

%include "multiboot.inc"
%include "console.inc"
%include "x86.inc"

PG_P            equ 0x001
PG_RW           equ 0x002
PG_A            equ 0x020
PG_D            equ 0x040
PG_PS           equ 0x080
PG_XD_HI        equ 0x80000000              ; bit 63, in the high dword

CR0_WP          equ 1 << 16
CR0_PG          equ 1 << 31
CR4_PAE         equ 1 << 5
MSR_EFER        equ 0xc0000080
EFER_NXE        equ 1 << 11

FRAME_X1        equ 0x00300000              ; 4 KiB code frames
FRAME_X2        equ 0x00301000
FRAME_X3        equ 0x00302000              ; FRAME_X3/X4: a straddling instruction
FRAME_X4        equ 0x00303000
FRAME_X5        equ 0x00304000              ; FRAME_X5/X6: a run of NOPs into XD
FRAME_X6        equ 0x00305000
BIG_X           equ 0x00800000              ; 2 MiB code frame
BIG_MARK_A      equ 0x00a00000              ; 2 MiB frames for the PDPTE test
BIG_MARK_B      equ 0x00c00000

VA_X1           equ 0x40000000              ; PD1[0] -> PT1[0]: FRAME_X1
VA_X2           equ 0x40001000              ; PT1[1]: FRAME_X2
VA_X3           equ 0x40002000              ; PT1[2], PT1[3]: FRAME_X3, FRAME_X4
VA_X5           equ 0x40004000              ; PT1[4], PT1[5]: FRAME_X5, FRAME_X6
VA_NP           equ 0x40006000              ; PT1[6]: not present
VA_BIG          equ 0x40200000              ; PD1[1]: 2 MiB page BIG_X
VA_XDDIR        equ 0x40400000              ; PD1[2] (XD) -> PT2[0] (no XD): FRAME_X2
VA_HIGH         equ 0xc0000000              ; PDPTE 3 -> pd_a or pd_b

; ENTRY64 address, low, high - store a 64-bit paging entry
%macro ENTRY64 3
        mov dword [%1], %2
        mov dword [%1 + 4], %3
%endmacro

section .text
main:
        PRINTLN "pae_nx: PAE paging with 2 MiB and 4 KiB pages, execute-disable (SDM 4.4, 4.6)"

; --- NX support and EFER.NXE ------------------------------------------------
        mov eax, 0x80000000
        cpuid
        cmp eax, 0x80000001
        jb .no_nx
        mov eax, 0x80000001
        cpuid
        shr edx, 20
        and edx, 1
        jmp .nx_known
.no_nx: xor edx, edx
.nx_known:
        CHECK "CPUID 0x80000001: EDX bit 20 (NX) set", edx, 1
        test edx, edx
        jnz .nx_ok
        FINISH                              ; without NX the rest would #GP
.nx_ok:
        call build_tables
        mov ecx, MSR_EFER
        rdmsr
        or eax, EFER_NXE
        wrmsr
        rdmsr
        and eax, EFER_NXE
        CHECK "WRMSR set EFER.NXE; RDMSR reads it back", eax, EFER_NXE
        mov eax, pdpt
        mov cr3, eax
        mov eax, cr4
        or eax, CR4_PAE
        mov cr4, eax
        mov eax, cr0
        or eax, CR0_PG | CR0_WP
        mov cr0, eax
        jmp .paged
.paged:

; --- execute and XD (SDM 4.6.2) ---------------------------------------------
        mov eax, 0
        call VA_X1
        CHECK "code runs from a 4 KiB page with XD clear", eax, 0x1234
        mov eax, 0
        call VA_BIG + 0x1000
        CHECK "code runs from a 2 MiB page with XD clear", eax, 0x1234

        or dword [pt1 + 0 * 8 + 4], PG_XD_HI
        invlpg [VA_X1]
        EXPECT_TRAP .x1
        call VA_X1
.x1:    TRAP_DONE
        CHECK "fetch from a 4 KiB page with XD set: #PF", [trap_vector], 14
        CHECK "  error code P|I/D (0x11)", [trap_error], 0x11
        CHECK "  CR2 = the target", [trap_cr2], VA_X1
        CHECK "  saved EIP = the target", [trap_eip], VA_X1
        mov eax, [VA_X1]
        CHECK "  a data read of that page works (the code bytes)", eax, 0x001234b8
        mov dword [VA_X1 + 0x800], 0x600df00d
        CHECK "  a data write to that page works", [FRAME_X1 + 0x800], 0x600df00d

        or dword [pd1 + 1 * 8 + 4], PG_XD_HI
        invlpg [VA_BIG + 0x1000]
        EXPECT_TRAP .x2
        call VA_BIG + 0x1000
.x2:    TRAP_DONE
        CHECK "fetch from a 2 MiB page with XD set: #PF", [trap_vector], 14
        CHECK "  error code P|I/D (0x11)", [trap_error], 0x11
        CHECK "  CR2 = the target", [trap_cr2], VA_BIG + 0x1000
        CHECK "  saved EIP = the target", [trap_eip], VA_BIG + 0x1000
        mov eax, [VA_BIG + 0x1000]
        CHECK "  a data read of that page works", eax, 0x001234b8

        mov eax, 0
        call VA_X2
        CHECK "code runs from FRAME_X2 through a PDE with XD clear", eax, 0x1234
        EXPECT_TRAP .x3
        call VA_XDDIR
.x3:    TRAP_DONE
        CHECK "fetch through a PDE with XD (PTE XD clear): #PF", [trap_vector], 14
        CHECK "  error code P|I/D (0x11)", [trap_error], 0x11
        CHECK "  CR2 = the target", [trap_cr2], VA_XDDIR
        mov eax, [VA_XDDIR]
        CHECK "  a data read through that PDE works", eax, 0x001234b8

; --- fetches that cross into an XD page --------------------------------------
        mov eax, 0
        call VA_X3 + 0xffe
        CHECK "an instruction straddling two executable pages runs", eax, 0x12345678
        mov eax, 0
        call VA_X5 + 0xff0
        CHECK "a run of NOPs crossing into the next executable page runs", eax, 0x1234
        or dword [pt1 + 3 * 8 + 4], PG_XD_HI
        or dword [pt1 + 5 * 8 + 4], PG_XD_HI
        invlpg [VA_X3 + 0x1000]
        invlpg [VA_X5 + 0x1000]
        EXPECT_TRAP .x4
        call VA_X3 + 0xffe
.x4:    TRAP_DONE
        CHECK "instruction straddling into an XD page: #PF error 0x11", [trap_error], 0x11
        CHECK "  CR2 = the first byte of the XD page", [trap_cr2], VA_X3 + 0x1000
        CHECK "  saved EIP = the instruction's first byte", [trap_eip], VA_X3 + 0xffe
        EXPECT_TRAP .x5
        call VA_X5 + 0xff0
.x5:    TRAP_DONE
        CHECK "NOPs running into an XD page: #PF error 0x11", [trap_error], 0x11
        CHECK "  CR2 = the first byte of the XD page", [trap_cr2], VA_X5 + 0x1000
        CHECK "  saved EIP = the first byte of the XD page", [trap_eip], VA_X5 + 0x1000

        EXPECT_TRAP .x6
        call VA_NP
.x6:    TRAP_DONE
        CHECK "fetch from a not-present page: #PF error I/D (0x10)", [trap_error], 0x10
        CHECK "  CR2 = the target", [trap_cr2], VA_NP

; --- the PDPTEs (SDM 4.4.1) ---------------------------------------------------
        mov eax, [VA_HIGH]
        CHECK "PDPTE 3 -> pd_a: 0xc0000000 reads frame A", eax, 0xaaaa0000
        ENTRY64 pdpt + 3 * 8, pd_b + PG_P, 0 ; edit PDPTE 3 in memory only
        mov eax, [VA_HIGH]
        CHECK "PDPTE edited, no CR3 load: the cached 0xc0000000 still reads A", eax, 0xaaaa0000
        mov eax, [VA_HIGH + 0x100000]       ; never accessed: in no TLB, so walked now
        CHECK "  and an address never used before still walks the old PDPTE", eax, 0xaaaa0100
        mov eax, cr3
        mov cr3, eax
        mov eax, [VA_HIGH]
        CHECK "after a CR3 load 0xc0000000 reads frame B", eax, 0xbbbb0000
        mov eax, [VA_HIGH + 0x100000]
        CHECK "  and 0xc0100000 too", eax, 0xbbbb0100
        ENTRY64 pdpt + 3 * 8, pd_a + PG_P, 0
        mov eax, cr3
        mov cr3, eax
        mov eax, [VA_HIGH + 0x100000]
        CHECK "PDPTE 3 restored and CR3 loaded: reads frame A again", eax, 0xaaaa0100

; --- EFER.NXE = 0: bit 63 is reserved (SDM 4.7) ------------------------------
        mov ecx, MSR_EFER
        rdmsr
        and eax, ~EFER_NXE
        wrmsr
        mov eax, cr3                        ; the TLB may hold entries made under NXE = 1
        mov cr3, eax
        EXPECT_TRAP .r1
.r1_insn:
        mov eax, [VA_X1]
.r1:    TRAP_DONE
        CHECK "NXE=0, read through a PTE with bit 63 set: #PF error P|RSVD (9)", [trap_error], 9
        CHECK "  CR2 = the address", [trap_cr2], VA_X1
        CHECK "  saved EIP = the reading instruction", [trap_eip], .r1_insn
        EXPECT_TRAP .r2
        call VA_X1
.r2:    TRAP_DONE
        CHECK "NXE=0, fetch through it: #PF error P|RSVD (9), no I/D", [trap_error], 9
        EXPECT_TRAP .r3
        call VA_NP
.r3:    TRAP_DONE
        CHECK "NXE=0, fetch from a not-present page: #PF error 0, no I/D", [trap_error], 0

        FINISH

; build_tables: PDPT, page directories and page tables (64-bit entries,
; SDM 4.4.2 Tables 4-8 to 4-11), and the code and data in the test frames.
build_tables:
        mov edi, pt0                        ; 0-2 MiB: 4 KiB pages, identity
        mov eax, PG_P | PG_RW
.pt0:   mov [edi], eax
        mov dword [edi + 4], 0
        add edi, 8
        add eax, 0x1000
        cmp edi, pt0 + 4096
        jb .pt0
        ENTRY64 pd0 + 0 * 8, pt0 + (PG_P | PG_RW), 0
        mov edi, pd0 + 8                    ; 2-16 MiB: 2 MiB pages, identity
        mov eax, 0x00200000 | PG_PS | PG_P | PG_RW
.pd0:   mov [edi], eax
        mov dword [edi + 4], 0
        add edi, 8
        add eax, 0x00200000
        cmp edi, pd0 + 8 * 8
        jb .pd0
        ; PDPTEs: P only (bits 1, 2, 5-8 are reserved in a PDPTE, Table 4-8)
        ENTRY64 pdpt + 0 * 8, pd0 + PG_P, 0
        ENTRY64 pdpt + 1 * 8, pd1 + PG_P, 0
        ENTRY64 pdpt + 3 * 8, pd_a + PG_P, 0
        ENTRY64 pd1 + 0 * 8, pt1 + (PG_P | PG_RW), 0
        ENTRY64 pd1 + 1 * 8, BIG_X | PG_PS | PG_P | PG_RW, 0
        ENTRY64 pd1 + 2 * 8, pt2 + (PG_P | PG_RW), PG_XD_HI
        ENTRY64 pt1 + 0 * 8, FRAME_X1 | PG_P | PG_RW, 0
        ENTRY64 pt1 + 1 * 8, FRAME_X2 | PG_P | PG_RW, 0
        ENTRY64 pt1 + 2 * 8, FRAME_X3 | PG_P | PG_RW, 0
        ENTRY64 pt1 + 3 * 8, FRAME_X4 | PG_P | PG_RW, 0
        ENTRY64 pt1 + 4 * 8, FRAME_X5 | PG_P | PG_RW, 0
        ENTRY64 pt1 + 5 * 8, FRAME_X6 | PG_P | PG_RW, 0
        ENTRY64 pt2 + 0 * 8, FRAME_X2 | PG_P | PG_RW, 0
        ENTRY64 pd_a + 0 * 8, BIG_MARK_A | PG_PS | PG_P | PG_RW, 0
        ENTRY64 pd_b + 0 * 8, BIG_MARK_B | PG_PS | PG_P | PG_RW, 0
        ; code: "mov eax, 0x1234; ret" at FRAME_X1, FRAME_X2 and BIG_X + 0x1000
        mov esi, stub
        mov edi, FRAME_X1
        mov ecx, stub_len
        rep movsb
        mov esi, stub
        mov edi, FRAME_X2
        mov ecx, stub_len
        rep movsb
        mov esi, stub
        mov edi, BIG_X + 0x1000
        mov ecx, stub_len
        rep movsb
        ; "mov eax, 0x12345678; ret" from FRAME_X3 + 0xffe into FRAME_X4
        mov esi, stub_wide
        mov edi, FRAME_X3 + 0xffe
        mov ecx, 2
        rep movsb
        mov edi, FRAME_X4
        mov ecx, stub_wide_len - 2
        rep movsb
        ; 16 NOPs at the end of FRAME_X5, then the stub at the start of FRAME_X6
        mov edi, FRAME_X5 + 0xff0
        mov al, 0x90
        mov ecx, 16
        rep stosb
        mov esi, stub
        mov edi, FRAME_X6
        mov ecx, stub_len
        rep movsb
        ; the PDPTE test's frames: a tag at offsets 0 and 1 MiB of each
        mov dword [BIG_MARK_A], 0xaaaa0000
        mov dword [BIG_MARK_A + 0x100000], 0xaaaa0100
        mov dword [BIG_MARK_B], 0xbbbb0000
        mov dword [BIG_MARK_B + 0x100000], 0xbbbb0100
        ret

section .rodata
kernel_name:    db "pae_nx", 0
stub:           mov eax, 0x1234
                ret
stub_len        equ $ - stub
stub_wide:      mov eax, 0x12345678
                ret
stub_wide_len   equ $ - stub_wide

section .bss
alignb 4096
pdpt:           resq 512                    ; only 4 entries used; 32-byte alignment needed
pd0:            resq 512
pd1:            resq 512
pd_a:           resq 512
pd_b:           resq 512
pt0:            resq 512
pt1:            resq 512
pt2:            resq 512
