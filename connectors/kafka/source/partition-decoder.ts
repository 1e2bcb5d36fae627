/**
 * One fetched partition, decoded into chunks of records for the reader's {@link FetchBuffer}: the Kafka source's
 * record path. Batches are read in place ({@link RecordSetReader}); with read_committed the batches of aborted
 * transactions and the transaction markers are skipped ({@link CommittedRecordFilter}); values are decoded by the
 * source's format, and a record that cannot be decoded fails the source, is skipped, or goes to the dead-letter sink
 * as `onDeserializationError` says. Chunks carry the position after them, so a checkpoint covers exactly what
 * `poll()` handed out.
 */
import { SluiceError } from '../../../runtime/errors/index.ts';
import type { KafkaHeaders, KafkaRecord } from '../kafka-record.ts';
import type { DeadLetter, DeadLetterWriter } from './dead-letter.ts';
import type { ValueDeserializer } from './deserializer.ts';
import { KafkaSourceErrorCode } from './errors.ts';
import type { FetchedChunk } from './fetch-buffer.ts';
import type { FetchedPartition } from './fetch/fetch-response.ts';
import { RecordSetReader } from './fetch/record-set-reader.ts';
import type { ResolvedKafkaSourceOptions } from './options.ts';
import { CommittedRecordFilter } from './transaction-filter.ts';

/** Estimated heap bytes of a record beyond its key and value bytes (object, offset, headers object). */
const RECORD_OVERHEAD_BYTES = 96;
const EMPTY_HEADERS: KafkaHeaders = Object.freeze({});

/** One owned partition of a reader. */
export interface SplitState {
  readonly id: string;
  readonly topic: string;
  readonly partition: number;
  /** Next offset after what `poll()` handed out: the checkpointed position. */
  position: number;
  /** Next offset after what is in the buffer: where a (re)started consumer continues. */
  fetchedUpTo: number;
  /** Last high watermark a fetch reported for the partition. */
  highWatermark: number;
  /**
   * Bumped when `fetchedUpTo` moves back to `position` (watermark alignment paused the split and its buffered chunks
   * were dropped): a decode that began before must stop, its records are fetched again.
   */
  rewinds: number;
}

/** How values are decoded: the source's options, with its format's deserializer. */
export interface DecodingOptions<V> extends Pick<ResolvedKafkaSourceOptions<V>, 'format' | 'maxBatchRecords' | 'onDeserializationError' | 'readUncommitted'> {
  readonly deserialize: ValueDeserializer<V>;
}

/** Where decoded chunks go: the reader's buffer, for the fetch generation that fetched them. */
export interface DecodedChunkSink<V> {
  /** Waits for room in the buffer; false when the fetch is obsolete (the fetcher was restarted). */
  awaitRoom(): Promise<boolean>;
  /** Whether the fetch generation is still the reader's. */
  current(): boolean;
  push(chunk: FetchedChunk<KafkaRecord<V>>): void;
  readonly deadLetters: DeadLetterWriter | undefined;
  /** Fails the reader (its next poll throws). */
  fail(error: Error): void;
}

/**
 * Decodes `fetched` from `split.fetchedUpTo` on into chunks of at most `maxBatchRecords` records, advancing
 * `split.fetchedUpTo` as chunks are pushed; stops early when the fetch becomes obsolete or fails.
 */
export async function decodePartition<V>(fetched: FetchedPartition, split: SplitState, options: DecodingOptions<V>, sink: DecodedChunkSink<V>): Promise<void> {
  const { topic, partition } = split;
  const { format, deserialize, maxBatchRecords: maxRecords, onDeserializationError: policy } = options;
  const set = await RecordSetReader.open(fetched.records);
  // read_committed: the broker listed the aborted transactions overlapping the fetch; filtered batch by batch.
  const committed = options.readUncommitted ? undefined : new CommittedRecordFilter(fetched.abortedTransactions);
  let records: KafkaRecord<V>[] = [];
  let bytes = 0;
  let covered = -1;
  let deadLetters: DeadLetter[] = [];
  const flush = async (failure?: Error): Promise<boolean> => {
    const news = records.length > 0 || covered > split.fetchedUpTo || deadLetters.length > 0;
    if (!news && failure === undefined) return true;
    if (!(await sink.awaitRoom())) return false;
    let chunkLetters: DeadLetter[] | undefined;
    if (deadLetters.length > 0 && sink.deadLetters?.checkpointed === true) {
      // Travel with the chunk: written when poll() hands its position out (see the reader's #writeDeadLetters).
      chunkLetters = deadLetters;
      deadLetters = [];
    } else if (deadLetters.length > 0) {
      // Committed before the position passes the poison records: a checkpoint never covers an undelivered one.
      try {
        await sink.deadLetters?.deliver(deadLetters);
      } catch (err) {
        sink.fail(new SluiceError(KafkaSourceErrorCode.deadLetter, `the dead-letter sink failed to take ${deadLetters.length} record(s) of ${topic}-${partition}: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
        return false;
      }
      deadLetters = [];
      if (!sink.current()) return false;
    }
    // Checked right before the push and the advance, with no await between: a pause may have rewound the split
    // while this decode waited.
    if (!sink.current()) return false;
    // A failure chunk does not advance the position: the poison record stays unread.
    const next = failure === undefined ? Math.max(covered, split.fetchedUpTo) : split.fetchedUpTo;
    sink.push({
      split: split.id,
      records,
      next,
      bytes,
      ...(failure === undefined ? {} : { failure }),
      ...(chunkLetters === undefined ? {} : { deadLetters: chunkLetters }),
    });
    split.fetchedUpTo = next;
    records = [];
    bytes = 0;
    return true;
  };
  while (set.nextBatch()) {
    const batchEnd = set.nextOffset;
    // Every batch goes through the filter, in offset order: it tracks which producers are inside aborted transactions.
    const visible = committed === undefined ? !set.isControlBatch : committed.isVisible(set, set.isControlBatch ? set.controlType() : undefined);
    if (!visible || batchEnd <= split.fetchedUpTo) {
      // Aborted batches and transaction markers: the position moves past them, nothing is delivered.
      if (batchEnd > split.fetchedUpTo) covered = batchEnd;
      continue;
    }
    while (set.nextRecord()) {
      const offset = set.offset;
      if (offset < split.fetchedUpTo) continue;
      let value: V;
      try {
        // Built-in formats decode straight from the fetch buffer: no Buffer view, no context object per record.
        value =
          format === 'json'
            ? (parseJson(set.valueString()) as V)
            : format === 'string'
              ? (set.valueString() as V)
              : format === 'bytes'
                ? (set.value() as V)
                : deserialize(set.value(), { topic, partition, offset, key: set.key(), timestamp: set.timestamp, headers: set.headers(EMPTY_HEADERS) });
      } catch (err) {
        const reason = (err as Error)?.message ?? String(err);
        if (policy === 'fail') {
          const failure = new SluiceError(
            KafkaSourceErrorCode.deserialization,
            `record ${topic}/${partition}/${offset} (topic/partition/offset) could not be deserialized as ${typeof format === 'function' ? 'by the source\'s deserializer' : format}: ${reason}. ` +
              "Fix the producer, or set onDeserializationError to 'skip' or { deadLetter: sink } to set such records aside",
            // The same bytes come back on every replay.
            { cause: err, retriable: false },
          );
          if (await flush()) await flush(failure);
          return;
        }
        covered = offset + 1;
        if (policy !== 'skip') deadLetters.push({ topic, partition, offset, key: set.key(), value: set.value(), timestamp: set.timestamp, headers: set.headers(EMPTY_HEADERS), reason });
        continue;
      }
      records.push({ topic, partition, offset, key: set.key(), value, timestamp: set.timestamp, headers: set.headers(EMPTY_HEADERS) });
      bytes += RECORD_OVERHEAD_BYTES + set.valueSize + set.keySize;
      covered = offset + 1;
      if (records.length >= maxRecords && !(await flush())) return;
    }
    // Compaction may have removed the batch's last records: reading continues after the batch as written.
    covered = Math.max(covered, batchEnd);
  }
  await flush();
}

/** JSON value of a record; a tombstone (null value) is null. */
function parseJson(text: string | null): unknown {
  return text === null ? null : JSON.parse(text);
}
