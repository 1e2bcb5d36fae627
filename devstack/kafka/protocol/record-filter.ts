import { gunzipSync, gzipSync } from 'node:zlib';
import { crc32c } from './crc32c.ts';
import { BATCH_HEADER_SIZE, CRC_START, LOG_OVERHEAD, readBatchHeader, readVarint } from './record-batch.ts';

/** One record of a batch as the log cleaner sees it. */
export interface FilterableRecord {
  /** Offset within the batch (the record's offset is the batch's base offset plus this). */
  readonly offsetDelta: number;
  /** The record's key, `null` for none (a view into the batch). */
  readonly key: Buffer | null;
  /** Whether the value is null: a tombstone. */
  readonly tombstone: boolean;
}

/** What {@link filterRecords} made of a batch. */
export type FilterResult =
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'empty' }
  /** The batch's codec (snappy, lz4, zstd) cannot be read here: it is kept whole. */
  | { readonly kind: 'unreadable' }
  | { readonly kind: 'filtered'; readonly batch: Buffer };

const CODEC_NONE = 0;
const CODEC_GZIP = 1;

/**
 * Keeps the records of a data batch that `keep` accepts, as Kafka's log cleaner does (`MemoryRecords.filterTo`):
 * the new batch has the same base offset, and the same last offset delta even when its last records are gone (a
 * producer's sequence numbers run to the batch's last offset; losing it would make the next batch look out of
 * order), the same producer id, epoch, base sequence and attributes; only the record count, the records and the CRC
 * change. Retained records are copied byte for byte: their offset and timestamp deltas stay relative to the unchanged
 * base offset and first timestamp. A gzip batch is recompressed with gzip.
 *
 * @example
 * ```ts
 * const result = filterRecords(batch, (r) => r.key !== null && !r.tombstone);
 * if (result.kind === 'filtered') store(result.batch);
 * ```
 */
export function filterRecords(batch: Buffer, keep: (record: FilterableRecord) => boolean): FilterResult {
  const header = readBatchHeader(batch);
  if (header === undefined) return { kind: 'unreadable' };
  const codec = header.attributes & 0x07;
  if (codec !== CODEC_NONE && codec !== CODEC_GZIP) return { kind: 'unreadable' };
  const stored = batch.subarray(BATCH_HEADER_SIZE, header.size);
  const body = codec === CODEC_GZIP ? gunzipSync(stored) : stored;
  const kept: Buffer[] = [];
  const pos = { at: 0 };
  for (let i = 0; i < header.recordCount && pos.at < body.length; i++) {
    const start = pos.at;
    const length = readVarint(body, pos);
    const end = pos.at + length;
    pos.at += 1; // attributes
    readVarint(body, pos); // timestamp delta
    const offsetDelta = readVarint(body, pos);
    const keyLength = readVarint(body, pos);
    const key = keyLength < 0 ? null : body.subarray(pos.at, pos.at + keyLength);
    pos.at += Math.max(0, keyLength);
    const tombstone = readVarint(body, pos) < 0;
    if (keep({ offsetDelta, key, tombstone })) kept.push(body.subarray(start, end));
    pos.at = end;
  }
  if (kept.length === header.recordCount) return { kind: 'unchanged' };
  if (kept.length === 0) return { kind: 'empty' };
  const records = Buffer.concat(kept);
  const payload = codec === CODEC_GZIP ? gzipSync(records) : records;
  const out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + payload.length);
  batch.copy(out, 0, 0, BATCH_HEADER_SIZE);
  payload.copy(out, BATCH_HEADER_SIZE);
  out.writeInt32BE(out.length - LOG_OVERHEAD, 8);
  out.writeInt32BE(kept.length, 57);
  out.writeUInt32BE(crc32c(out, CRC_START, out.length), 17);
  return { kind: 'filtered', batch: out };
}
