/**
 * Bit layouts of x86 paging entries, EPT entries, control registers and the
 * page-fault error code. Drawn once here; every other file uses these names.
 *
 * x86 paging entry, low 32 bits (32-bit paging: the whole entry; PAE,
 * 4-level and 5-level: bits 31:0 of a 64-bit entry). Intel SDM vol. 3A,
 * tables 4-4..4-6 (32-bit), 4-8..4-11 (PAE), 4-15..4-20 (4-level).
 *
 *   31                  12 11  9  8   7   6   5   4    3    2   1   0
 *  +----------------------+-----+---+---+---+---+-----+-----+---+---+---+
 *  | frame address 31:12  |avail| G |PS | D | A | PCD | PWT |U/S|R/W| P |
 *  +----------------------+-----+---+---+---+---+-----+-----+---+---+---+
 *    bit 7 is PAT in a 4 KiB PTE; in a large-page leaf bit 12 is PAT and
 *    bits 13.. are the PSE-36 address bits (32-bit paging) or reserved.
 *
 * High 32 bits (bits 63:32) of a 64-bit entry:
 *
 *   63  62   59 58   52 51        M-32 .. 0
 *  +---+-------+-------+--------------------+
 *  |XD | PKEY  | avail | frame address M-1:32|   (reserved between M-32 and 51)
 *  +---+-------+-------+--------------------+
 *    PKEY (bits 62:59) is read only in 4-/5-level leaf entries with CR4.PKE=1.
 *    In PAE paging bits 62:M are all reserved.
 *
 * EPT entry (SDM vol. 3C, 29.3.2, tables 29-1..29-6), low 32 bits:
 *
 *   31                  12 11  10   9   8   7    6   5  3  2   1   0
 *  +----------------------+---+---+---+---+---+-----+-----+---+---+---+
 *  | frame address 31:12  |   |UX | D | A |PS | IPAT| MT  | X | W | R |
 *  +----------------------+---+---+---+---+---+-----+-----+---+---+---+
 *    an EPT entry is present when any of R, W, X is set.
 */

// ---- x86 paging entries (low dword) ----
export const PTE_P = 1 << 0;
export const PTE_RW = 1 << 1;
export const PTE_US = 1 << 2;
export const PTE_PWT = 1 << 3;
export const PTE_PCD = 1 << 4;
export const PTE_A = 1 << 5;
export const PTE_D = 1 << 6;
export const PTE_PS = 1 << 7;
export const PTE_G = 1 << 8;
/** address bits 31:12 of a 4 KiB frame */
export const PTE_FRAME_LO = 0xfffff000 | 0;
// ---- x86 paging entries (high dword) ----
/** XD (execute disable), bit 63, as a bit of the high dword */
export const PTE_HI_XD = 1 << 31;
export const PTE_HI_PKEY_SHIFT = 27; // bits 62:59 -> high-dword bits 30:27
export const PTE_HI_PKEY_MASK = 0xf << 27;

// ---- EPT entries ----
export const EPT_R = 1 << 0;
export const EPT_W = 1 << 1;
export const EPT_X = 1 << 2;
export const EPT_RWX = 7;
export const EPT_MT_WB = 6 << 3;
export const EPT_IPAT = 1 << 6;
export const EPT_PS = 1 << 7;
export const EPT_A = 1 << 8;
export const EPT_D = 1 << 9;

// ---- control registers ----
export const CR0_PE = 1 << 0;
export const CR0_WP = 1 << 16;
export const CR0_NW = 1 << 29;
export const CR0_CD = 1 << 30;
export const CR0_PG = 1 << 31;
export const CR3_PWT = 1 << 3;
export const CR3_PCD = 1 << 4;
/** bit 63 of a MOV to CR3 with CR4.PCIDE=1: do not flush (high-dword bit 31) */
export const CR3_HI_NOFLUSH = 1 << 31;
export const CR4_PSE = 1 << 4;
export const CR4_PAE = 1 << 5;
export const CR4_PGE = 1 << 7;
export const CR4_LA57 = 1 << 12;
export const CR4_PCIDE = 1 << 17;
export const CR4_SMEP = 1 << 20;
export const CR4_SMAP = 1 << 21;
export const CR4_PKE = 1 << 22;
export const EFER_LME = 1 << 8;
export const EFER_LMA = 1 << 10;
export const EFER_NXE = 1 << 11;

// ---- page-fault error code (SDM vol. 3A, 4.7, figure 4-12) ----
export const PFERR_P = 1 << 0;
export const PFERR_W = 1 << 1;
export const PFERR_U = 1 << 2;
export const PFERR_RSVD = 1 << 3;
export const PFERR_ID = 1 << 4;
export const PFERR_PK = 1 << 5;

// ---- access kinds ----
/**
 * What an access is, as bits that line up with the page-fault error code:
 * ACC_WRITE is PFERR_W, ACC_USER is PFERR_U, ACC_FETCH is PFERR_ID.
 * ACC_USER means an explicit access at CPL 3. A supervisor access (CPL < 3,
 * or an implicit access such as a descriptor-table read at any CPL) leaves it
 * clear. ACC_AC marks an explicit supervisor data access made with
 * EFLAGS.AC = 1, which SMAP lets reach user pages (SDM 4.6.1).
 */
export const ACC_READ = 0;
export const ACC_WRITE = PFERR_W;
export const ACC_USER = PFERR_U;
export const ACC_FETCH = PFERR_ID;
export const ACC_AC = 1 << 8;
/**
 * The two halves of a read-modify-write (an ADD, XCHG, BTS... with a memory
 * destination), each with ACC_WRITE. ACC_RMW_R marks the read: a processor
 * translates the destination for a write before it reads (its #PF has
 * W/R = 1, a read-only page faults before A is set), so the read is checked
 * and walked as a write but stores nothing. ACC_RMW_W marks the write that
 * follows. A mode may treat the pair as one event: shadow paging takes one
 * exit for an RMW of a write-protected guest table, at its read, and
 * emulates the whole instruction, so the write takes none. The access
 * counters count the read as a read.
 */
export const ACC_RMW_R = 1 << 9;
export const ACC_RMW_W = 1 << 10;
/** Accesses carry their size (1..15 bytes of one page) in these bits of `acc` when the observer and cost model see them. */
export const ACC_SIZE_SHIFT = 12;
export const ACC_SIZE_MASK = 0xf << ACC_SIZE_SHIFT;
