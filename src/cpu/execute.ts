/**
 * The instruction decoder's front: prefixes, then dispatch through the
 * one-byte opcode map and the 0F map (SDM vol. 2, appendix A), each a table
 * of 256 handlers. Anything not implemented raises #UD, never silent garbage.
 *
 * The handlers are in ops/, one file per group of instructions (ALU; moves
 * and the stack; control transfer; strings and I/O; system; x87/MMX). Each
 * group describes itself as data: an OpcodeEntry per handler with the
 * opcodes it serves, its mnemonic and where execution goes after it
 * (ops/common.ts). The tables ONE and TWO below are built from those
 * descriptions and from nothing else, so anything else that needs to know
 * the opcode maps (a translator, say) reads the same descriptions.
 *
 * Rule for every handler: read and write memory first, update registers and
 * EIP-dependent state last, so that a fault (which restores EIP and ESP)
 * leaves the instruction restartable.
 */
import { CS, DS, ES, FS, GS, SS } from './constants.js';
import type { Cpu } from './cpu.js';
import { ALU_OPCODES } from './ops/alu.js';
import type { Handler, OpcodeEntry } from './ops/common.js';
import { CONTROL_OPCODES } from './ops/control.js';
import { FPU_OPCODES } from './ops/fpu.js';
import { MOVE_OPCODES } from './ops/move.js';
import { STRING_IO_OPCODES } from './ops/string-io.js';
import { SYSTEM_OPCODES } from './ops/system.js';
import { SSE_OPCODES } from './ops/sse.js';

/** Every instruction this CPU implements: the groups' descriptions, in one list. */
export const OPCODES: readonly OpcodeEntry[] = [
  ...ALU_OPCODES,
  ...MOVE_OPCODES,
  ...CONTROL_OPCODES,
  ...STRING_IO_OPCODES,
  ...SYSTEM_OPCODES,
  ...FPU_OPCODES,
  ...SSE_OPCODES,
];

/** 1 for the legacy prefix bytes (handled by execute, never dispatched) */
const PREFIX = new Uint8Array(256);
for (const p of [0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]) PREFIX[p] = 1;

// ---- dispatch tables ----
function undefinedOpcode(c: Cpu): void {
  c.ud();
}

/** 0F: the second opcode byte selects the handler in TWO. */
function escape0f(c: Cpu): void {
  const op2 = c.fetch8();
  TWO[op2]!(c, op2);
}

/** The one-byte map's handlers, and the 0F map's (also read by the block engine, block.ts). */
export const ONE: Handler[] = new Array<Handler>(256).fill(undefinedOpcode);
export const TWO: Handler[] = new Array<Handler>(256).fill(undefinedOpcode);
ONE[0x0f] = escape0f;
for (const e of OPCODES) {
  const table = e.map === 'one' ? ONE : TWO;
  for (const op of e.opcodes) {
    if (table[op] !== undefinedOpcode || (e.map === 'one' && PREFIX[op] !== 0)) {
      throw new Error(`opcode ${e.map === 'one' ? '' : '0F '}${op.toString(16).padStart(2, '0')} (${e.mnemonic}) is described twice or is a prefix`);
    }
    table[op] = e.handler;
  }
}

/** Executes one instruction at CS:EIP. */
export function execute(c: Cpu): void {
  c.o32 = c.codeBig;
  c.a32 = c.codeBig;
  c.segOverride = -1;
  c.rep = 0;
  c.lockPrefix = false;
  let op = c.fetch8();
  if (PREFIX[op] === 0) {
    dispatch(c, op);
    return;
  }
  // ---- prefixes (at most 14 bytes in all: SDM vol. 2A, 2.3.11) ----
  for (let n = 0; ; n++) {
    if (n > 14) c.gp(0);
    switch (op) {
      case 0x26: c.segOverride = ES; break;
      case 0x2e: c.segOverride = CS; break;
      case 0x36: c.segOverride = SS; break;
      case 0x3e: c.segOverride = DS; break;
      case 0x64: c.segOverride = FS; break;
      case 0x65: c.segOverride = GS; break;
      case 0x66: c.o32 = !c.codeBig; break;
      case 0x67: c.a32 = !c.codeBig; break;
      case 0xf0: c.lockPrefix = true; break;
      case 0xf2: c.rep = 1; break;
      case 0xf3: c.rep = 2; break;
      default:
        if (!c.codeBig) c.eip &= 0xffff;
        dispatch(c, op);
        return;
    }
    op = c.fetch8();
  }
}

function dispatch(c: Cpu, op: number): void {
  ONE[op]!(c, op);
}
