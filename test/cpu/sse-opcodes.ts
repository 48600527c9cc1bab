/**
 * The opcodes of the SSE2 integer instructions and the SSE logicals that
 * test/cpu/sse-int.test.ts and sse-exec-ref.test.ts run, from the SDM's
 * opcode map (vol. 2, table A-3).
 */
/** the 66 0F op2 of each two-operand instruction, from the SDM opcode map (vol. 2, table A-3) */
export const OP66: Record<string, number> = {
  paddb: 0xfc, paddw: 0xfd, paddd: 0xfe, paddq: 0xd4, psubb: 0xf8, psubw: 0xf9, psubd: 0xfa, psubq: 0xfb,
  paddsb: 0xec, paddsw: 0xed, paddusb: 0xdc, paddusw: 0xdd, psubsb: 0xe8, psubsw: 0xe9, psubusb: 0xd8, psubusw: 0xd9,
  pmullw: 0xd5, pmulhw: 0xe5, pmulhuw: 0xe4, pmuludq: 0xf4, pmaddwd: 0xf5, psadbw: 0xf6, pavgb: 0xe0, pavgw: 0xe3,
  pminub: 0xda, pmaxub: 0xde, pminsw: 0xea, pmaxsw: 0xee,
  pcmpeqb: 0x74, pcmpeqw: 0x75, pcmpeqd: 0x76, pcmpgtb: 0x64, pcmpgtw: 0x65, pcmpgtd: 0x66,
  pand: 0xdb, pandn: 0xdf, por: 0xeb, pxor: 0xef, andpd: 0x54, andnpd: 0x55, orpd: 0x56, xorpd: 0x57,
  packsswb: 0x63, packssdw: 0x6b, packuswb: 0x67,
  punpcklbw: 0x60, punpcklwd: 0x61, punpckldq: 0x62, punpckhbw: 0x68, punpckhwd: 0x69, punpckhdq: 0x6a,
  punpcklqdq: 0x6c, punpckhqdq: 0x6d, unpcklpd: 0x14, unpckhpd: 0x15,
  psllw: 0xf1, pslld: 0xf2, psllq: 0xf3, psrlw: 0xd1, psrld: 0xd2, psrlq: 0xd3, psraw: 0xe1, psrad: 0xe2,
};
/** the unprefixed 0F op2 forms */
export const OP0F: Record<string, number> = { andps: 0x54, andnps: 0x55, orps: 0x56, xorps: 0x57, unpcklps: 0x14, unpckhps: 0x15 };
/** 66 0F 71/72/73 and the reg field of the immediate shifts */
export const SHIFT_IMM: Record<string, [number, number]> = {
  psllwi: [0x71, 6], pslldi: [0x72, 6], psllqi: [0x73, 6], psrlwi: [0x71, 2], psrldi: [0x72, 2], psrlqi: [0x73, 2],
  psrawi: [0x71, 4], psradi: [0x72, 4], pslldq: [0x73, 7], psrldq: [0x73, 3],
};
