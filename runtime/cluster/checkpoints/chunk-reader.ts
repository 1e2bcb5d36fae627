import type { Kafka } from 'kafkajs';
import { isSluiceError, SluiceError } from '../../errors/index.ts';
import { readPartition } from '../kafka/partition-scan.ts';

/** A chunk of a blob as a scan of the checkpoints topic found it: where it is and what it holds, not its bytes. */
export interface ChunkInfo {
  readonly offset: number;
  readonly size: number;
  readonly crc: number;
}

/** A blob to read back from the topic: its chunks' record keys and offsets, in order. */
export interface ChunkedBlob {
  readonly name: string;
  readonly chunks: ReadonlyArray<{ readonly key: string; readonly offset: number }>;
}

/** Where the chunks are: the job's partition of the checkpoints topic. */
export interface ChunkSource {
  readonly kafka: Kafka;
  readonly topic: string;
  readonly partition: number;
  readonly job: string;
}

/**
 * Reads `blobs` back from the topic by the offsets a scan found their chunks at, and yields each blob's bytes (its
 * chunks joined, a copy) as soon as its last chunk is read, in the order they complete. One read of the offsets from
 * the first chunk to the last, fetched only as the caller asks for more: a caller that stores each blob before it
 * asks for the next holds about one blob and one fetch response (8 MiB) at a time, however large the checkpoint.
 *
 * A chunk gone from its offset, or another record there (the topic changed since the scan: a tombstone, a cleaned
 * segment) is `SLUICE_CLUSTER_CHECKPOINT_CHANGED`, retriable: reading the topic again finds what it holds now.
 * Callers check each blob's size and crc32.
 *
 * @example
 * ```ts
 * for await (const [name, bytes] of readChunkedBlobs(source, [{ name: 'blob-1', chunks: [{ key, offset: 42 }] }])) store(name, bytes);
 * ```
 */
export async function* readChunkedBlobs(source: ChunkSource, blobs: readonly ChunkedBlob[]): AsyncGenerator<readonly [string, Buffer]> {
  const byOffset = new Map<number, { blob: number; index: number; key: string }>();
  const parts: Array<Array<Buffer | undefined>> = [];
  const missing: number[] = [];
  let from = Infinity;
  let to = -Infinity;
  blobs.forEach((blob, i) => {
    parts.push(new Array<Buffer | undefined>(blob.chunks.length));
    missing.push(blob.chunks.length);
    blob.chunks.forEach((chunk, index) => {
      byOffset.set(chunk.offset, { blob: i, index, key: chunk.key });
      from = Math.min(from, chunk.offset);
      to = Math.max(to, chunk.offset + 1);
    });
  });
  let done = 0;
  const complete = (i: number): readonly [string, Buffer] => {
    // Buffer.concat copies, also a single part: the parts are views of fetch responses, which are let go of.
    const bytes = Buffer.concat(parts[i]! as Buffer[]);
    parts[i] = [];
    done++;
    return [blobs[i]!.name, bytes];
  };
  for (let i = 0; i < blobs.length; i++) if (missing[i] === 0) yield complete(i);
  if (done === blobs.length) return;
  for await (const records of readPartition(source.kafka, source.topic, source.partition, { from, to })) {
    for (const record of records) {
      const wanted = byOffset.get(record.offset);
      if (wanted === undefined) continue;
      if (record.key !== wanted.key || record.value === null) throw changed(source, wanted.key, record.value === null ? 'was tombstoned' : 'was replaced');
      byOffset.delete(record.offset);
      parts[wanted.blob]![wanted.index] = record.value;
      if (--missing[wanted.blob]! === 0) yield complete(wanted.blob);
    }
  }
  const left = byOffset.values().next();
  if (!left.done) throw changed(source, left.value.key, 'is gone');
}

function changed(source: ChunkSource, key: string, what: string): SluiceError {
  return new SluiceError(
    'SLUICE_CLUSTER_CHECKPOINT_CHANGED',
    `chunk ${key} of job "${source.job}" ${what} in topic "${source.topic}" while it was read (retention or the log cleaner ran since the topic was scanned); ` +
      'nothing was adopted: the member reads the topic again when it retries',
    { retriable: true },
  );
}

/** Reads of the checkpoints topic one operation makes when what it read changed meanwhile. */
const CHANGED_READS = 3;

/**
 * Runs `read` (which scans the topic, then reads blobs back from it) again when it fails with
 * `SLUICE_CLUSTER_CHECKPOINT_CHANGED`: the topic changed between its scan and its read (retention, the log cleaner),
 * and a new scan is all that takes. Three reads in all, then the error stands (it is retriable). `onChanged` hears of
 * each read that is made again.
 *
 * @example
 * ```ts
 * const start = await readingAgainIfChanged(() => prepareOnce(options), (err) => logger.info({ err }, 'reading again'));
 * ```
 */
export async function readingAgainIfChanged<T>(read: () => Promise<T>, onChanged: (err: SluiceError) => void): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      if (attempt >= CHANGED_READS || !isSluiceError(err) || err.code !== 'SLUICE_CLUSTER_CHECKPOINT_CHANGED') throw err;
      onChanged(err);
    }
  }
}
