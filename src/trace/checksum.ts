/**
 * The running check of a trace: a 32-bit FNV-1-style hash over what every
 * access translated to, in order. For an access that translated, the low 32
 * bits of its guest-physical address (and, when the gpa is 4 GiB or more, its
 * high bits as a second step); for a fault, 0xf0000000 | vector << 16 |
 * error code. The recorder writes the hash every `checkEvery` accesses
 * (a CHECK record); the replayer computes the same and compares.
 */
export const CHECK_PRIME = 0x01000193;

/** The value hashed for a faulting access. */
export function faultValue(vector: number, errorCode: number): number {
  return (0xf0000000 | (vector << 16) | (errorCode & 0xffff)) >>> 0;
}
