; paging32 - 32-bit paging (Intel SDM Vol. 3A 4.3) with 4 KiB pages and
; 4 MiB pages (CR4.PSE), checked from the guest side:
;
;   - the accessed flag is set by a read and the dirty flag by a write, in a
;     PTE and in a 4 MiB PDE; a PDE that references a page table gets A but
;     its bit 6 is left alone (SDM 4.8, Table 4-5/4-6)
;   - INVLPG, and a CR3 load, make an edited PTE or 4 MiB PDE take effect
;     (SDM 4.10.4.1)
;   - a supervisor write to a read-only page (PTE, 4 MiB PDE, or a PDE whose
;     R/W is 0 above a writable PTE) faults with #PF, error code P|W = 3, CR2 =
;     the address, EIP = the writing instruction; memory and D stay untouched
;     (SDM 4.6, 4.7, 6.15 "Interrupt 14")
;   - not-present reads and writes fault with error codes 0 and 2
;   - with CR0.WP = 0 supervisor writes to read-only pages succeed and set D
;     (SDM 4.6.1)
;
; Memory: 0-4 MiB identity-mapped with 4 KiB pages (kernel, tables, test
; frames at 3 MiB), 4-16 MiB identity-mapped with 4 MiB pages; the tests use
; linear addresses from 1 GiB up.

%include "multiboot.inc"
%include "console.inc"
%include "x86.inc"

PG_P            equ 0x001
PG_RW           equ 0x002
PG_A            equ 0x020
PG_D            equ 0x040
PG_PS           equ 0x080

CR0_WP          equ 1 << 16
CR0_PG          equ 1 << 31
CR4_PSE         equ 1 << 4

FRAME_A         equ 0x00300000              ; physical test frames (identity-mapped too)
FRAME_B         equ 0x00301000
FRAME_C         equ 0x00302000
FRAME_D         equ 0x00303000
FRAME_E         equ 0x00304000
BIG_FRAME       equ 0x00800000              ; physical 4 MiB page for the PSE tests
BIG_FRAME2      equ 0x00c00000

VA_A            equ 0x40000000              ; pt_test[0] -> FRAME_A, writable
VA_B            equ 0x40001000              ; pt_test[1] -> FRAME_B, read-only
VA_C            equ 0x40002000              ; pt_test[2] -> FRAME_C, later FRAME_D
VA_NP           equ 0x40003000              ; pt_test[3] not present
VA_BIG          equ 0x40400000              ; PDE 257: 4 MiB page -> BIG_FRAME, writable
VA_BIG_RO       equ 0x40800000              ; PDE 258: 4 MiB page -> BIG_FRAME, read-only
VA_RODIR        equ 0x40c00000              ; PDE 259: R/W = 0 -> pt_rodir[0] -> FRAME_E, PTE writable

PDE_TEST        equ pd + 256 * 4
PDE_BIG         equ pd + 257 * 4
PDE_BIG_RO      equ pd + 258 * 4
PDE_RODIR       equ pd + 259 * 4
PTE_A           equ pt_test + 0 * 4
PTE_B           equ pt_test + 1 * 4
PTE_C           equ pt_test + 2 * 4

section .text
main:
        PRINTLN "paging32: 32-bit paging, 4 KiB and 4 MiB pages (SDM 4.3)"
        call build_tables
        mov eax, pd
        mov cr3, eax
        mov eax, cr4
        or eax, CR4_PSE
        mov cr4, eax
        mov eax, cr0
        or eax, CR0_PG | CR0_WP
        mov cr0, eax
        jmp .paged                          ; identity-mapped: execution goes on
.paged:

; --- accessed and dirty flags, 4 KiB page (SDM 4.8) -------------------------
        and dword [PTE_A], ~(PG_A | PG_D)
        and dword [PDE_TEST], ~(PG_A | PG_D)
        invlpg [VA_A]
        mov eax, [VA_A + 0x10]
        CHECK "read through a 4 KiB page returns the frame's data", eax, 0xa0a0a0a0
        mov eax, [PTE_A]
        CHECK "read sets A, not D, in the PTE (0x00300021)", eax, FRAME_A | PG_P | PG_RW | PG_A
        mov eax, [PDE_TEST]
        CHECK "walk sets A in the PDE, bit 6 left clear", eax, pt_test + (PG_P | PG_RW | PG_A)
        mov dword [VA_A + 0x10], 0x11223344
        mov eax, [PTE_A]
        CHECK "write sets D in the PTE (0x00300061)", eax, FRAME_A | PG_P | PG_RW | PG_A | PG_D
        mov eax, [PDE_TEST]
        CHECK "write leaves the non-leaf PDE's bit 6 clear", eax, pt_test + (PG_P | PG_RW | PG_A)
        CHECK "the write reached the frame", [FRAME_A + 0x10], 0x11223344
        and dword [PTE_A], ~(PG_A | PG_D)
        invlpg [VA_A]
        mov dword [VA_A + 0x20], 0x55667788
        mov eax, [PTE_A]
        CHECK "first access a write: sets A and D together", eax, FRAME_A | PG_P | PG_RW | PG_A | PG_D

; --- accessed and dirty flags, 4 MiB page (SDM 4.8, Table 4-4) --------------
        and dword [PDE_BIG], ~(PG_A | PG_D)
        invlpg [VA_BIG]
        mov eax, [VA_BIG + 0x1234]
        CHECK "read through a 4 MiB page returns the frame's data", eax, 0xb1b1b1b1
        mov eax, [PDE_BIG]
        CHECK "read sets A, not D, in the 4 MiB PDE (0x008000a3)", eax, BIG_FRAME | PG_PS | PG_P | PG_RW | PG_A
        mov dword [VA_BIG + 0x3ff000], 0xcafef00d
        mov eax, [PDE_BIG]
        CHECK "write sets D in the 4 MiB PDE (0x008000e3)", eax, BIG_FRAME | PG_PS | PG_P | PG_RW | PG_A | PG_D
        CHECK "the write reached offset 0x3ff000 of the 4 MiB frame", [BIG_FRAME + 0x3ff000], 0xcafef00d

; --- INVLPG and CR3 loads make edited entries take effect (SDM 4.10.4.1) ----
        mov eax, [VA_C]                     ; the old translation is now likely cached
        CHECK "VA_C reads FRAME_C", eax, 0xc0c0c0c0
        mov dword [PTE_C], FRAME_D | PG_P | PG_RW
        invlpg [VA_C]
        mov eax, [VA_C]
        CHECK "after editing the PTE and INVLPG, VA_C reads FRAME_D", eax, 0xd0d0d0d0
        mov dword [PTE_C], FRAME_C | PG_P | PG_RW
        mov eax, cr3
        mov cr3, eax
        mov eax, [VA_C]
        CHECK "after editing it back and a CR3 load, VA_C reads FRAME_C", eax, 0xc0c0c0c0
        mov eax, [VA_BIG + 0x100]
        CHECK "VA_BIG reads the first 4 MiB frame", eax, 0xb1b1b1b1
        mov dword [PDE_BIG], BIG_FRAME2 | PG_PS | PG_P | PG_RW
        invlpg [VA_BIG + 0x100]
        mov eax, [VA_BIG + 0x100]
        CHECK "after editing the 4 MiB PDE and INVLPG, VA_BIG reads the second frame", eax, 0xb2b2b2b2

; --- write to a read-only page with CR0.WP = 1 (SDM 4.6.1, 4.7) -------------
        mov eax, [VA_B + 0x123]
        CHECK "a read of the read-only page works", eax, 0xb0b0b0b0
        EXPECT_TRAP .ro1
.ro1_insn:
        mov dword [VA_B + 0x123], 0xdeadbeef
.ro1:   TRAP_DONE
        CHECK "write to a read-only PTE: #PF", [trap_vector], 14
        CHECK "  error code P|W (3)", [trap_error], 3
        CHECK "  CR2 = the written address", [trap_cr2], VA_B + 0x123
        CHECK "  saved EIP = the writing instruction", [trap_eip], .ro1_insn
        CHECK "  saved CS = kernel code", [trap_cs], KCODE
        CHECK "  memory left unchanged", [FRAME_B + 0x120], 0xb0b0b0b0
        mov eax, [PTE_B]
        and eax, PG_D
        CHECK "  D left clear in the PTE", eax, 0

        EXPECT_TRAP .ro2
.ro2_insn:
        mov byte [VA_BIG_RO + 0x2345], 1
.ro2:   TRAP_DONE
        CHECK "write to a read-only 4 MiB page: #PF", [trap_vector], 14
        CHECK "  error code P|W (3)", [trap_error], 3
        CHECK "  CR2 = the written address", [trap_cr2], VA_BIG_RO + 0x2345
        CHECK "  saved EIP = the writing instruction", [trap_eip], .ro2_insn

        mov eax, [VA_RODIR]
        CHECK "a read below a read-only PDE works", eax, 0xe0e0e0e0
        EXPECT_TRAP .ro3
.ro3_insn:
        mov word [VA_RODIR + 0xffe], 1
.ro3:   TRAP_DONE
        CHECK "write below a read-only PDE (PTE writable): #PF", [trap_vector], 14
        CHECK "  error code P|W (3)", [trap_error], 3
        CHECK "  CR2 = the written address", [trap_cr2], VA_RODIR + 0xffe
        CHECK "  saved EIP = the writing instruction", [trap_eip], .ro3_insn

; --- not-present pages (SDM 4.7: P = 0 in the error code) ------------------
        EXPECT_TRAP .np1
.np1_insn:
        mov eax, [VA_NP + 4]
.np1:   TRAP_DONE
        CHECK "read of a not-present page: #PF error 0", [trap_error], 0
        CHECK "  CR2 = the read address", [trap_cr2], VA_NP + 4
        CHECK "  saved EIP = the reading instruction", [trap_eip], .np1_insn
        EXPECT_TRAP .np2
        mov dword [VA_NP + 8], eax
.np2:   TRAP_DONE
        CHECK "write to a not-present page: #PF error W (2)", [trap_error], 2
        CHECK "  CR2 = the written address", [trap_cr2], VA_NP + 8

; --- CR0.WP = 0: supervisor writes ignore R/W (SDM 4.6.1) -------------------
        mov eax, cr0
        and eax, ~CR0_WP
        mov cr0, eax
        invlpg [VA_B]
        invlpg [VA_BIG_RO]
        EXPECT_TRAP .wp0
        mov dword [VA_B + 0x40], 0x0badf00d
        mov byte [VA_BIG_RO + 0x2345], 0x5a
        mov dword [VA_RODIR + 0x40], 0x12345678
        mov dword [trap_vector], 0          ; reached: no trap
.wp0:   TRAP_DONE
        CHECK "CR0.WP=0: writes to read-only pages do not fault", [trap_vector], 0
        CHECK "  the 4 KiB frame was written", [FRAME_B + 0x40], 0x0badf00d
        movzx eax, byte [BIG_FRAME + 0x2345]
        CHECK "  the 4 MiB frame was written", eax, 0x5a
        CHECK "  the frame below the read-only PDE was written", [FRAME_E + 0x40], 0x12345678
        mov eax, [PTE_B]
        CHECK "  D set in the read-only PTE (0x00301061)", eax, FRAME_B | PG_P | PG_A | PG_D
        mov eax, [PDE_BIG_RO]
        CHECK "  D set in the read-only 4 MiB PDE (0x008000e1)", eax, BIG_FRAME | PG_PS | PG_P | PG_A | PG_D
        mov eax, cr0
        or eax, CR0_WP
        mov cr0, eax
        invlpg [VA_B]
        EXPECT_TRAP .wp1
        mov dword [VA_B + 0x40], 0
.wp1:   TRAP_DONE
        CHECK "CR0.WP=1 again: the write faults again with error 3", [trap_error], 3

        FINISH

; build_tables: the page directory, the identity page table for 0-4 MiB,
; the test page tables, and recognisable data in the test frames.
build_tables:
        mov edi, pt0                        ; 0-4 MiB: 4 KiB pages, identity
        mov eax, PG_P | PG_RW
.pt0:   mov [edi], eax
        add edi, 4
        add eax, 0x1000
        cmp edi, pt0 + 4096
        jb .pt0
        mov dword [pd + 0 * 4], pt0 + (PG_P | PG_RW)
        mov dword [pd + 1 * 4], 0x00400000 | PG_PS | PG_P | PG_RW
        mov dword [pd + 2 * 4], 0x00800000 | PG_PS | PG_P | PG_RW
        mov dword [pd + 3 * 4], 0x00c00000 | PG_PS | PG_P | PG_RW
        mov dword [PDE_TEST], pt_test + (PG_P | PG_RW)
        mov dword [PDE_BIG], BIG_FRAME | PG_PS | PG_P | PG_RW
        mov dword [PDE_BIG_RO], BIG_FRAME | PG_PS | PG_P
        mov dword [PDE_RODIR], pt_rodir + PG_P
        mov dword [PTE_A], FRAME_A | PG_P | PG_RW
        mov dword [PTE_B], FRAME_B | PG_P
        mov dword [PTE_C], FRAME_C | PG_P | PG_RW
        mov dword [pt_rodir], FRAME_E | PG_P | PG_RW
        ; fill each frame with a pattern: FRAME_A 0xa0.., B 0xb0.., ...
        mov edi, FRAME_A
        mov eax, 0xa0a0a0a0
        mov edx, 5
.frame: mov ecx, 1024
        rep stosd
        add eax, 0x10101010
        dec edx
        jnz .frame
        mov eax, 0xb1b1b1b1                 ; the first 4 KiB of each 4 MiB frame
        mov edi, BIG_FRAME
        mov ecx, 0x2000 / 4                 ; the first 8 KiB of each 4 MiB frame
        rep stosd
        mov eax, 0xb2b2b2b2
        mov edi, BIG_FRAME2
        mov ecx, 0x2000 / 4
        rep stosd
        ret

section .rodata
kernel_name:    db "paging32", 0

section .bss
alignb 4096
pd:             resb 4096
pt0:            resb 4096
pt_test:        resb 4096
pt_rodir:       resb 4096
