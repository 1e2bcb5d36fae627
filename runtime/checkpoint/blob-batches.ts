import type { StoreBatchOp } from './checkpoint-store.ts';

/**
 * Most bytes of blobs in one LevelDB batch of a checkpoint write. LevelDB's batch call copies its values on the
 * calling thread: measured on a 2-vCPU machine, one 32 MB batch held the event loop for ~160 ms, batches of 4 MB
 * for at most ~25 ms in all (and the whole write took no longer). Checkpoint writes are split so that the REST API,
 * `/metrics` and in-process subtasks keep their turns while a large checkpoint is written.
 */
export const BLOB_BATCH_BYTES = 4 * 1024 * 1024;

/** Bytes an operation adds to a batch: a put's value (keys and deletes are small beside blobs). */
export function bytesOfOp(op: StoreBatchOp): number {
  return op.type === 'put' ? op.value.byteLength : 0;
}

/** Splits `ops` into runs of at most `maxBytes` by `sizeOf` (a single larger op is a run of its own), in order. */
export function batchesOfAtMost<T>(ops: readonly T[], maxBytes: number, sizeOf: (op: T) => number): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const op of ops) {
    const size = sizeOf(op);
    if (current.length > 0 && bytes + size > maxBytes) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(op);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * {@link batchesOfAtMost} for ops made one at a time (blobs read from a file or a topic, or merged, as they are
 * written): each run is yielded once the next op would overflow it, and the next op is made only when the caller
 * asks for more, so a caller that writes each run before it asks holds about one run.
 *
 * @example
 * ```ts
 * for await (const batch of streamedBatchesOfAtMost(puts(), BLOB_BATCH_BYTES, (op) => op.value.byteLength)) await db.batch(batch);
 * ```
 */
export async function* streamedBatchesOfAtMost<T>(ops: AsyncIterable<T> | Iterable<T>, maxBytes: number, sizeOf: (op: T) => number): AsyncGenerator<T[]> {
  let current: T[] = [];
  let bytes = 0;
  for await (const op of ops) {
    const size = sizeOf(op);
    if (current.length > 0 && bytes + size > maxBytes) {
      yield current;
      current = [];
      bytes = 0;
    }
    current.push(op);
    bytes += size;
  }
  if (current.length > 0) yield current;
}
