import { ErrorCode } from './protocol/error-codes.ts';

/**
 * Idempotent-producer bookkeeping for one partition, following Kafka 2.1's `ProducerStateManager`: per producer id
 * the current epoch, the last sequence number and the metadata of its last five batches (a producer has at most
 * five in flight), so a retried batch is recognised and answered with its original offset instead of being
 * appended twice.
 *
 * The table is derived from the log: on recovery the broker replays batch headers through {@link observe}, the way
 * Kafka rebuilds its producer snapshot, so nothing extra has to be persisted for duplicate detection.
 */
const MAX_CACHED_BATCHES = 5;
const INT32_MAX = 2147483647;

interface CachedBatch {
  firstSeq: number;
  lastSeq: number;
  baseOffset: number;
}

interface ProducerEntry {
  epoch: number;
  lastSeq: number;
  batches: CachedBatch[];
}

export type SequenceCheck =
  | { readonly kind: 'append' }
  | { readonly kind: 'duplicate'; readonly baseOffset: number }
  | { readonly kind: 'error'; readonly errorCode: number; readonly message: string };

const APPEND: SequenceCheck = { kind: 'append' };

export interface ProducedBatchInfo {
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  /** recordCount - 1 for data batches */
  lastOffsetDelta: number;
}

export class ProducerStateTable {
  readonly #entries = new Map<number, ProducerEntry>();

  /** Decides what to do with a data batch from an idempotent producer (producerId >= 0). */
  check(b: ProducedBatchInfo): SequenceCheck {
    const entry = this.#entries.get(b.producerId);
    const firstSeq = b.baseSequence;
    if (entry === undefined) {
      if (firstSeq !== 0) {
        return {
          kind: 'error',
          errorCode: ErrorCode.UNKNOWN_PRODUCER_ID,
          message: `producer ${b.producerId} is unknown and its first sequence is ${firstSeq}, not 0`,
        };
      }
      return APPEND;
    }
    if (b.producerEpoch < entry.epoch) {
      return {
        kind: 'error',
        errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
        message: `producer ${b.producerId} epoch ${b.producerEpoch} is older than ${entry.epoch}`,
      };
    }
    if (b.producerEpoch === entry.epoch) {
      const lastSeq = seqAdd(firstSeq, b.lastOffsetDelta);
      for (const c of entry.batches) {
        if (c.firstSeq === firstSeq && c.lastSeq === lastSeq) return { kind: 'duplicate', baseOffset: c.baseOffset };
      }
      if (entry.lastSeq === -1 ? firstSeq !== 0 : !inSequence(entry.lastSeq, firstSeq)) {
        return {
          kind: 'error',
          errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          message: `producer ${b.producerId} sent sequence ${firstSeq} after ${entry.lastSeq}`,
        };
      }
      return APPEND;
    }
    // A newer epoch restarts the sequence at 0.
    if (firstSeq !== 0) {
      return {
        kind: 'error',
        errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: `producer ${b.producerId} started epoch ${b.producerEpoch} with sequence ${firstSeq}, not 0`,
      };
    }
    return APPEND;
  }

  /** Epoch check for a transaction marker: markers of an older epoch are fenced. */
  checkMarkerEpoch(producerId: number, epoch: number): boolean {
    const entry = this.#entries.get(producerId);
    return entry === undefined || epoch >= entry.epoch;
  }

  /** Records an appended data batch (also used when replaying a log on startup). */
  observe(b: ProducedBatchInfo, baseOffset: number): void {
    let entry = this.#entries.get(b.producerId);
    if (entry === undefined || b.producerEpoch !== entry.epoch) {
      entry = { epoch: b.producerEpoch, lastSeq: -1, batches: [] };
      this.#entries.set(b.producerId, entry);
    }
    const lastSeq = seqAdd(b.baseSequence, b.lastOffsetDelta);
    entry.lastSeq = lastSeq;
    entry.batches.push({ firstSeq: b.baseSequence, lastSeq, baseOffset });
    if (entry.batches.length > MAX_CACHED_BATCHES) entry.batches.shift();
  }

  /** A transaction marker with a bumped epoch resets the producer's sequence, as in Kafka. */
  observeMarker(producerId: number, epoch: number): void {
    const entry = this.#entries.get(producerId);
    if (entry === undefined || epoch > entry.epoch) {
      this.#entries.set(producerId, { epoch, lastSeq: -1, batches: [] });
    }
  }
}

function seqAdd(seq: number, delta: number): number {
  const s = seq + delta;
  return s > INT32_MAX ? s - INT32_MAX - 1 : s;
}

function inSequence(last: number, next: number): boolean {
  return next === last + 1 || (next === 0 && last === INT32_MAX);
}
