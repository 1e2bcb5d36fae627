/**
 * Cheap size estimates for channel accounting. Channels bound their queues in bytes, so every batch needs a size;
 * serialising it to learn the size would cost more than moving it. Instead: estimate one sampled record by walking it
 * (approximately its msgpack size; the exact figure does not matter, consistency does) and multiply. A batch of
 * uniform records (the normal case) is estimated within a few percent.
 */
const MAX_DEPTH = 4;
const MAX_FIELDS = 64;

/** Approximate serialised size of one value, in bytes. */
export function estimateValueBytes(value: unknown, depth = 0): number {
  switch (typeof value) {
    case 'string':
      return value.length + 3;
    case 'number':
      return 9;
    case 'boolean':
      return 1;
    case 'bigint':
      return 9;
    case 'undefined':
      return 1;
    case 'object': {
      if (value === null) return 1;
      if (depth >= MAX_DEPTH) return 16;
      if (value instanceof Uint8Array) return value.byteLength + 5;
      if (Array.isArray(value)) {
        let size = 5;
        const n = Math.min(value.length, MAX_FIELDS);
        for (let i = 0; i < n; i++) size += estimateValueBytes(value[i], depth + 1);
        // Unsampled elements are assumed to look like the sampled ones.
        return n < value.length && n > 0 ? Math.round((size * value.length) / n) : size;
      }
      let size = 5;
      let fields = 0;
      for (const key in value) {
        if (++fields > MAX_FIELDS) break;
        size += key.length + 3 + estimateValueBytes((value as Record<string, unknown>)[key], depth + 1);
      }
      return size;
    }
    default:
      return 8;
  }
}

/** Estimated bytes of a batch: the mean of its first and last records, times its length. */
export function estimateBatchBytes(records: readonly unknown[]): number {
  const n = records.length;
  if (n === 0) return 0;
  if (n === 1) return estimateValueBytes(records[0]);
  const sample = (estimateValueBytes(records[0]) + estimateValueBytes(records[n - 1])) / 2;
  return Math.ceil(sample * n);
}
