import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LogSink } from '../log/partition-log.ts';
import { readBatchHeader, baseOffsetOf, type BatchHeader } from '../protocol/record-batch.ts';

/**
 * One partition's log file: `<dataDir>/logs/<topic>/<partition>.log`.
 *
 * Format: magic-2 record batches back to back, each exactly as the producer sent it except for its first eight
 * bytes (baseOffset), which hold the offset the broker assigned; transaction markers are broker-written control
 * batches in the same format. No index file: on startup the file is read once and the batch headers are walked to
 * rebuild the in-memory offset index, producer state and transaction ranges. A torn last batch (crash mid-write) is
 * cut off. Writes are plain `write(2)` calls (page cache, no fsync), like Kafka's default flush policy.
 *
 * After the log cleaner ran, the file is rewritten whole: `<partition>.log.cleaned` is written and fsynced, then
 * renamed over the log (a crash before the rename leaves the old log and a `.cleaned` file, removed on load).
 */
export class SegmentFile implements LogSink {
  readonly #path: string;
  #fd: number | undefined;

  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.#path = path;
    this.#fd = openSync(path, 'a');
  }

  append(batch: Buffer): void {
    if (this.#fd !== undefined) writeAll(this.#fd, batch);
  }

  rewrite(batches: readonly Buffer[]): void {
    if (this.#fd === undefined) return;
    const cleaned = `${this.#path}${CLEANED_SUFFIX}`;
    const fd = openSync(cleaned, 'w');
    try {
      for (const batch of batches) writeAll(fd, batch);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(cleaned, this.#path);
    closeSync(this.#fd);
    this.#fd = openSync(this.#path, 'a');
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}

const CLEANED_SUFFIX = '.cleaned';

function writeAll(fd: number, batch: Buffer): void {
  let written = 0;
  while (written < batch.length) written += writeSync(fd, batch, written, batch.length - written);
}

export interface LoadedBatch {
  buf: Buffer;
  header: BatchHeader;
  baseOffset: number;
}

/** Reads a log file, returning its complete batches (views into one buffer) and truncating a torn tail. */
export function loadSegment(path: string): LoadedBatch[] {
  rmSync(`${path}${CLEANED_SUFFIX}`, { force: true }); // a rewrite that crashed before its rename
  if (!existsSync(path)) return [];
  const data = readFileSync(path);
  const out: LoadedBatch[] = [];
  let at = 0;
  for (;;) {
    let header: BatchHeader | undefined;
    try {
      header = readBatchHeader(data, at);
    } catch {
      header = undefined;
    }
    if (header === undefined) break;
    const buf = data.subarray(at, at + header.size);
    out.push({ buf, header, baseOffset: baseOffsetOf(buf) });
    at += header.size;
  }
  if (at < data.length) {
    const fd = openSync(path, 'r+');
    try {
      ftruncateSync(fd, at);
    } finally {
      closeSync(fd);
    }
  }
  return out;
}
