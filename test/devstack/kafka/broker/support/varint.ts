/** A zigzag varint as record batches encode lengths and deltas, written independently of the broker's decoder. */
export function varint(n: number): number[] {
  let z = n >= 0 ? n * 2 : -n * 2 - 1
  const out: number[] = []
  while (z >= 0x80) {
    out.push((z & 0x7f) | 0x80)
    z = Math.floor(z / 128)
  }
  out.push(z)
  return out
}
