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
