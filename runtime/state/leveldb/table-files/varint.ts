/**
 * LevelDB's varint (`util/coding.cc`): 7 bits a byte, low bits first, the high bit set on every byte but the last.
 * Appends `value` (an integer below 2^53: file offsets and sizes, as varint64) to `out`.
 * @internal
 */
export function appendVarint(out: number[], value: number): void {
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}

/**
 * Writes `value` (an integer below 2^32: a block entry's lengths) as a varint into `out` at `at`, which has room;
 * returns the offset after it. Table files write one per key, so this one stays on 32-bit operations.
 * @internal
 */
export function writeVarint32(out: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  out[at++] = value;
  return at;
}
