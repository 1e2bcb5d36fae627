/**
 * read_committed filtering of one fetched partition: which fetched record batches belong to aborted transactions.
 *
 * The broker bounds a read_committed fetch by the last stable offset, so every transaction with records in the
 * response is decided, and lists the aborted ones that overlap the fetched range as (producer id, first offset). That
 * list comes in the order of the partition's transaction index, i.e. by abort-marker offset, not by first offset
 * (Kafka's `TransactionIndex.collectAbortedTxns`). The filter does what Kafka's Java consumer does
 * (`CompletedFetch.nextFetchedRecord`): it orders the list by first offset, walks the record batches in offset order,
 * marks a producer aborted when the walk reaches the first offset of one of its aborted transactions (up to the batch's
 * last offset), drops that producer's transactional batches while it is marked, and unmarks it at its ABORT marker.
 * Filtering whole batches is exact: a producer writes the records of one transaction in batches of their own. Any
 * number of producers may be marked at once (transactions of different producers interleave in a partition).
 *
 * kafkajs 2.2.4's own filter (`consumer/filterAbortedMessages.js`) assumes the list is sorted by first offset and marks
 * at most one transaction per record, so with interleaved producers and aborts it shows aborted records and hides
 * committed ones; the source decodes fetches itself (fetch/record-set-reader.ts) and never uses it.
 */

/** One entry of a Fetch response's `aborted_transactions`. */
export interface AbortedTransaction {
  readonly producerId: number;
  readonly firstOffset: number;
}

/** What the filter reads of a fetched record batch ({@link RecordSetReader} has these fields). */
export interface FetchedBatchInfo {
  /** Offset after the batch's last record. */
  readonly nextOffset: number;
  /** -1 for a producer without an id (never transactional). */
  readonly producerId: number;
  readonly isTransactional: boolean;
  /** A transaction marker: never visible. */
  readonly isControlBatch: boolean;
}

/**
 * Decides, batch by batch in offset order, whether a read_committed consumer sees a fetched record batch. Make one per
 * fetched partition with that fetch's aborted-transactions list.
 *
 * @example
 * ```ts
 * const filter = new CommittedRecordFilter(partition.abortedTransactions);
 * while (set.nextBatch()) {
 *   if (!filter.isVisible(set, set.isControlBatch ? set.controlType() : undefined)) continue;
 *   while (set.nextRecord()) deliver(set);
 * }
 * ```
 */
export class CommittedRecordFilter {
  /** Aborted transactions not reached yet, by first offset ascending. */
  readonly #pending: AbortedTransaction[];
  #next = 0;
  /** Producers inside one of their aborted transactions at the current offset. */
  readonly #aborting = new Set<number>();

  constructor(aborted: readonly AbortedTransaction[] | null | undefined) {
    this.#pending = [...(aborted ?? [])].sort((a, b) => a.firstOffset - b.firstOffset);
  }

  /**
   * Whether the records of `batch` are data a read_committed consumer sees. Must be called for every fetched batch,
   * control batches included, in offset order; `marker` is the control batch's marker type.
   */
  isVisible(batch: FetchedBatchInfo, marker?: 'abort' | 'commit'): boolean {
    const pending = this.#pending;
    if (this.#next < pending.length) {
      const last = batch.nextOffset - 1;
      while (this.#next < pending.length && (pending[this.#next] as AbortedTransaction).firstOffset <= last) {
        this.#aborting.add((pending[this.#next] as AbortedTransaction).producerId);
        this.#next++;
      }
    }
    if (batch.isControlBatch) {
      if (marker === 'abort') this.#aborting.delete(batch.producerId);
      return false;
    }
    return !(batch.isTransactional && this.#aborting.size > 0 && this.#aborting.has(batch.producerId));
  }
}
