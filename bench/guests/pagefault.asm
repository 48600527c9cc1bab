; pagefault: a page-fault-heavy guest for the MIPS benchmark. 32-bit
; paging; the #PF handler maps a fresh frame for each not-present page (by
; writing the PTE through an identity mapping, as a kernel does); the main
; loop touches 4096 pages, unmaps them all (PTE writes + INVLPG), and repeats.
; Build: nasm -f elf32 pagefault.asm -o pagefault.o && ld -m elf_i386 -T ../../test/guests/lib/kernel.ld pagefault.o -o pagefault.elf
bits 32
PAGES      equ 4096
ROUNDS     equ 12
AREA       equ 0x40000000         ; demand-paged area (PDE 256..259)
FRAMES     equ 0x01000000         ; frames handed out from 16 MiB
section .multiboot
align 4
  dd 0x1BADB002, 0x00000003, -(0x1BADB002 + 3)
section .text
global _start
_start:
  mov esp, stack_top
  ; page directory: identity-map the first 32 MiB with 4 MiB pages (PSE)
  mov edi, pd
  xor eax, eax
  mov ecx, 1024
  rep stosd
  mov eax, 0x83                 ; P | RW | PS
  mov ecx, 8
  mov edi, pd
.id: mov [edi], eax
  add eax, 0x400000
  add edi, 4
  loop .id
  ; four page tables for the area (PDE 256..259), all entries not present
  mov edi, pts
  xor eax, eax
  mov ecx, 4096
  rep stosd
  mov eax, pts
  or eax, 3
  mov edi, pd + 256*4
  mov ecx, 4
.pt: mov [edi], eax
  add eax, 4096
  add edi, 4
  loop .pt
  ; IDT with the #PF handler
  mov eax, pf_handler
  mov [idt + 14*8], ax
  mov word [idt + 14*8 + 2], 0x08
  mov word [idt + 14*8 + 4], 0x8e00
  shr eax, 16
  mov [idt + 14*8 + 6], ax
  lgdt [gdtr]
  jmp 0x08:.reload
.reload:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov ss, ax
  lidt [idtr]
  mov eax, cr4
  or eax, 0x10                  ; PSE
  mov cr4, eax
  mov eax, pd
  mov cr3, eax
  mov eax, cr0
  or eax, 0x80000000
  mov cr0, eax
  mov ebp, ROUNDS
.round:
  mov edi, AREA
  mov ecx, PAGES
.touch:
  mov [edi], ecx                ; faults, handler maps, retried
  add dword [edi], 1
  add edi, 4096
  dec ecx
  jnz .touch
  ; unmap everything: clear each PTE and INVLPG
  mov esi, pts
  mov edi, AREA
  mov ecx, PAGES
.unmap:
  mov dword [esi], 0
  invlpg [edi]
  add esi, 4
  add edi, 4096
  dec ecx
  jnz .unmap
  mov dword [next_frame], FRAMES
  dec ebp
  jnz .round
  mov dx, 0xf4
  xor eax, eax
  out dx, eax
  hlt

pf_handler:
  push eax
  push ebx
  mov eax, cr2
  sub eax, AREA
  shr eax, 12                   ; page index in the area
  mov ebx, [next_frame]
  add dword [next_frame], 4096
  or ebx, 3
  mov [pts + eax*4], ebx
  pop ebx
  pop eax
  add esp, 4                    ; error code
  iret

section .data
align 8
gdt: dq 0, 0x00cf9a000000ffff, 0x00cf92000000ffff
gdtr: dw 23
      dd gdt
idtr: dw 256*8-1
      dd idt
next_frame: dd FRAMES
section .bss
align 4096
pd: resb 4096
pts: resb 4*4096
idt: resb 256*8
resb 8192
stack_top:
