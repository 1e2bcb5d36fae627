/**
 * read_committed filtering of one fetched partition: which fetched records belong to aborted transactions.
 *
 * The broker bounds a read_committed fetch by the last stable offset, so every transaction with records in the
 * response is decided, and lists the aborted ones that overlap the fetched range as (producer id, first offset). That
 * list comes in the order of the partition's transaction index, i.e. by abort-marker offset, not by first offset
 * (Kafka's `TransactionIndex.collectAbortedTxns`). The filter does what Kafka's Java consumer does
 * (`CompletedFetch.nextFetchedRecord`): it orders the list by first offset, walks the records in offset order, marks a
 * producer aborted when the walk reaches the first offset of one of its aborted transactions, drops that producer's
 * transactional records while it is marked, and unmarks it at its ABORT marker. Any number of producers may be
 * marked at once (transactions of different producers interleave in a partition).
 *
 * kafkajs 2.2.4's own filter (`consumer/filterAbortedMessages.js`) assumes the list is sorted by first offset and marks
 * at most one transaction per record, so with interleaved producers and aborts it shows aborted records and hides
 * committed ones; the source therefore never uses it (see fetch-tap.ts and docs/connectors/kafka.md).
 */

/** One entry of a Fetch response's `aborted_transactions` (kafkajs decodes both numbers as decimal strings). */
export interface AbortedTransaction {
  readonly producerId: string;
  readonly firstOffset: string;
}

/**
 * What the filter reads of a fetched record: kafkajs's decoded record-batch entry has these fields. Entries of the
 * pre-0.11 message format have no `batchContext` (they cannot be transactional).
 */
export interface FetchedRecordInfo {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly isControlRecord?: boolean;
  readonly batchContext?: { readonly producerId: string; readonly inTransaction: boolean };
}

/** Control record type of an ABORT marker: the key is version (int16, 0) then type (int16: 0 abort, 1 commit). */
const CONTROL_TYPE_ABORT = 0;

/**
 * Decides, record by record in offset order, whether a read_committed consumer sees a fetched record. Make one per
 * fetched partition (per kafkajs batch) with that fetch's aborted-transactions list.
 *
 * @example
 * const filter = new CommittedRecordFilter(abortedTransactionsOfTheFetch);
 * for (const message of batch.messagesWithinOffset) if (filter.isVisible(message)) deliver(message);
 */
export class CommittedRecordFilter {
  /** Aborted transactions not reached yet, by first offset ascending. */
  readonly #pending: { readonly producerId: string; readonly firstOffset: number }[];
  #next = 0;
  /** Producers inside one of their aborted transactions at the current offset. */
  readonly #aborting = new Set<string>();

  constructor(aborted: readonly AbortedTransaction[] | null | undefined) {
    this.#pending = (aborted ?? [])
      .map((a) => ({ producerId: a.producerId, firstOffset: Number(a.firstOffset) }))
      .sort((a, b) => a.firstOffset - b.firstOffset);
  }

  /**
   * Whether `record` is a data record a read_committed consumer sees. Control records (transaction markers) are never
   * visible. Must be called for every fetched record, control records included, in offset order.
   */
  isVisible(record: FetchedRecordInfo): boolean {
    if (this.#next < this.#pending.length) {
      const offset = Number(record.offset);
      while (this.#next < this.#pending.length && (this.#pending[this.#next] as { firstOffset: number }).firstOffset <= offset) {
        this.#aborting.add((this.#pending[this.#next] as { producerId: string }).producerId);
        this.#next++;
      }
    }
    const context = record.batchContext;
    if (context === undefined) return true;
    const { producerId, inTransaction } = context;
    if (record.isControlRecord === true) {
      if (isAbortMarker(record.key)) this.#aborting.delete(producerId);
      return false;
    }
    return !(inTransaction && this.#aborting.size > 0 && this.#aborting.has(producerId));
  }
}

function isAbortMarker(key: Buffer | null): boolean {
  return key !== null && key.length >= 4 && key.readInt16BE(2) === CONTROL_TYPE_ABORT;
}
