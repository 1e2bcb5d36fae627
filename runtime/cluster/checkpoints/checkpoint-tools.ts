import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Kafka, Message } from 'kafkajs';
import { CheckpointStore, writtenBytesOf, isIncremental, type CheckpointInfo } from '../../checkpoint/index.ts';
import { jobBlobsPrefix } from '../../checkpoint/store-layout.ts';
import { SluiceError } from '../../errors/index.ts';
import type { Logger } from '../../logging/index.ts';
import { backupDocument } from '../../service/savepoint-files.ts';
import { badRequest } from '../../service/service-errors.ts';
import type { BackupDocument } from '../../service/supervisor-api.ts';
import { CHUNK_BYTES, chunkKey, chunksOf, chunksOfFile, crc32, encodeImport, importBlobKey, importKey, partitionOf, type ManifestRecord } from './replicated-records.ts';
import { readingAgainIfChanged } from './chunk-reader.ts';
import { ReplicatedJobView } from './replicated-view.ts';
import { clusterProducer } from '../kafka/cluster-producer.ts';

/** A replicated checkpoint as `sluice checkpoints` shows it in cluster mode: the store's fields, and who wrote it. */
export interface ReplicatedCheckpointInfo extends CheckpointInfo {
  readonly epoch: number;
  readonly member: string;
}

export interface ClusterCheckpointToolsOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  readonly partitions: number;
  /** Scratch stores for exports live under `<dataDir>/tmp` and are always removed. */
  readonly dataDir: string;
  /** This member's name, written into import records. */
  readonly member: () => string;
  readonly logger: Logger;
}

/** Bytes of chunks per produce request (one record batch stays under the brokers' `max.message.bytes`). */
const SEND_BYTES = 768 * 1024;

/**
 * The checkpoint tools of cluster mode, on the checkpoints topic rather than a local store, so any member answers
 * them whether or not it runs the job: listing a job's replicated checkpoints, a backup of one, publishing a
 * checkpoint export for the job's owner to restore (`sluice checkpoint restore`, `submit --from`), and tombstoning
 * every checkpoint of a job (`clear`, `delete --checkpoints`). Exports go through a scratch {@link CheckpointStore}
 * so their format is the standalone one, chains merged.
 *
 * @example
 * ```ts
 * const tools = new ClusterCheckpointTools({ kafka, topic: 'sluice.prod.checkpoints', partitions: 1, dataDir, member: () => 'm1', logger });
 * const backup = await tools.backup('orders'); // the newest complete checkpoint, as `sluice checkpoint backup` writes it
 * ```
 */
export class ClusterCheckpointTools {
  readonly #options: ClusterCheckpointToolsOptions;

  constructor(options: ClusterCheckpointToolsOptions) {
    this.#options = options;
  }

  /** What the topic holds for `job` now. */
  view(job: string): Promise<ReplicatedJobView> {
    const { kafka, topic, partitions, logger } = this.#options;
    return ReplicatedJobView.read({ kafka, topic, partitions, job, logger });
  }

  /** The job's restorable checkpoints, newest first; `incomplete` for one whose chunks are missing or damaged. */
  async list(job: string): Promise<ReplicatedCheckpointInfo[]> {
    const view = await this.view(job);
    return view.candidates.map((record) => {
      const m = record.manifest;
      const status = view.problemOf(record) === undefined ? 'valid' : 'incomplete';
      return { job, id: m.id, kind: m.kind, timestamp: m.timestamp, durationMs: m.durationMs, totalBytes: m.totalBytes, writtenBytes: writtenBytesOf(m), incremental: isIncremental(m), status, epoch: record.epoch, member: record.member };
    });
  }

  /** Checkpoint `id` (default: the newest complete one) as the export file's bytes; throws `SLUICE_CHECKPOINT_NOT_FOUND`. */
  async exportOf(job: string, id?: number): Promise<{ checkpoint: ManifestRecord; bytes: Buffer }> {
    const exported = await this.exportFile(job, id);
    try {
      return { checkpoint: exported.checkpoint, bytes: await readFile(exported.file) };
    } finally {
      await exported.release();
    }
  }

  /**
   * Checkpoint `id` (default: the newest complete one) written as an export file in this member's scratch folder,
   * for a caller that streams it (the REST export): `release` removes it. Throws `SLUICE_CHECKPOINT_NOT_FOUND`.
   */
  async exportFile(job: string, id?: number): Promise<{ checkpoint: ManifestRecord; file: string; size: number; release: () => Promise<void> }> {
    return readingAgainIfChanged(
      () => this.#exportFileOnce(job, id),
      (err) => this.#options.logger.info({ job, err }, `the checkpoints of job "${job}" changed while they were exported; reading them again`),
    );
  }

  async #exportFileOnce(job: string, id: number | undefined): Promise<{ checkpoint: ManifestRecord; file: string; size: number; release: () => Promise<void> }> {
    const view = await this.view(job);
    const found = id === undefined ? view.latestComplete() : view.checkpoint(id);
    if (typeof found !== 'object') {
      const why = found === undefined ? (id === undefined ? 'no complete replicated checkpoint' : `no replicated checkpoint ${id}`) : `checkpoint ${id} is incomplete in the checkpoints topic (${found})`;
      throw new SluiceError('SLUICE_CHECKPOINT_NOT_FOUND', `job "${job}" has ${why}; list them with \`sluice checkpoints ${job}\``);
    }
    const dir = await this.#scratchDir();
    const release = () => rm(dir, { recursive: true, force: true });
    try {
      const file = join(dir, 'export.bin');
      await this.#inStore(join(dir, 'store'), async (store) => {
        await store.adopt(found.manifest, view.blobs(found));
        await store.exportTo(job, found.manifest.id, file);
      });
      return { checkpoint: found, file, size: (await stat(file)).size, release };
    } catch (err) {
      await release();
      throw err;
    }
  }

  /** A backup document of checkpoint `id` (default: the newest complete one), as a standalone service writes it. */
  async backup(job: string, id?: number): Promise<BackupDocument> {
    const { checkpoint, bytes } = await this.exportOf(job, id);
    const m = checkpoint.manifest;
    const info = { job, checkpoint: m.id, kind: m.kind, timestamp: m.timestamp, totalBytes: m.totalBytes };
    return backupDocument(info, bytes, "its chunks are in the cluster's checkpoints topic already: back up that topic (or a member's data directory, copied while the member is stopped)");
  }

  /**
   * Publishes a checkpoint export as import `serial` of `job` (its chunks, then its record); the job's owner restores
   * it at its next start (start override `import`). The export is checked first (every blob against its manifest, in
   * a scratch store): a damaged export publishes nothing. An export file (`{ file }`) is read chunk by chunk as it is
   * sent, so its size is bounded by the disk, not memory; bytes are sent from memory. Answers the keys it wrote, for
   * {@link tombstone} when the spec that names the import cannot be written.
   */
  async publishImport(job: string, serial: number, input: Uint8Array | { readonly file: string }): Promise<readonly string[]> {
    const where = `the checkpoint export for job "${job}"`;
    await this.#withScratchStore((store) => (input instanceof Uint8Array ? store.importExport(input, { job, where }) : store.importFrom(input.file, { job, where })));
    const key = importBlobKey(jobBlobsPrefix(job), serial);
    const chunkCrcs: number[] = [];
    const keys: string[] = [];
    let size = 0;
    let crc = 0;
    const perSend = Math.max(1, Math.floor(SEND_BYTES / CHUNK_BYTES));
    await this.#withProducer(job, async (send) => {
      let batch: Message[] = [];
      for await (const { bytes, crc: chunkCrc } of input instanceof Uint8Array ? chunksOf(input) : chunksOfFile(input.file)) {
        const n = chunkCrcs.length;
        chunkCrcs.push(chunkCrc);
        size += bytes.length;
        crc = crc32(bytes, crc);
        // Views of the bytes or of the read buffer, not copies: each batch is sent before the next chunk is read.
        batch.push({ key: chunkKey(0, key, n), value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
        if (batch.length >= perSend) {
          await send(batch);
          keys.push(...batch.map((m) => m.key as string));
          batch = [];
        }
      }
      // Its record last: the import exists once every chunk is in the topic.
      batch.push({ key: importKey(job, serial), value: encodeImport({ member: this.#options.member(), at: Date.now(), location: { key, epoch: 0, chunkCrcs }, size, crc }) });
      await send(batch);
      keys.push(...batch.map((m) => m.key as string));
    });
    return keys;
  }

  /**
   * Import `serial` of `job` (published by {@link publishImport}) read from the topic into an export file in this
   * member's scratch folder, for `CheckpointStore.importFrom`; `release` removes it. Throws
   * `SLUICE_CLUSTER_IMPORT_MISSING` when the import is gone or damaged.
   */
  async readImport(view: ReplicatedJobView, serial: number): Promise<{ file: string; release: () => Promise<void> }> {
    const dir = await this.#scratchDir();
    const release = () => rm(dir, { recursive: true, force: true });
    try {
      const file = join(dir, 'import.bin');
      await view.writeImport(serial, file);
      return { file, release };
    } catch (err) {
      await release();
      throw err;
    }
  }

  /** Writes an uploaded checkpoint export (a REST body) to this member's scratch folder and publishes it as {@link publishImport} does. */
  async publishUpload(job: string, serial: number, upload: Readable): Promise<readonly string[]> {
    const dir = await this.#scratchDir();
    try {
      const file = join(dir, 'upload.bin');
      try {
        await pipeline(upload, createWriteStream(file));
      } catch (err) {
        throw badRequest(`the upload of the checkpoint export broke off (${(err as Error).message}); send it again`);
      }
      return await this.publishImport(job, serial, { file });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Tombstones every checkpoint, chunk and import of `job` in the topic; answers how many checkpoints there were. */
  async purge(job: string, view?: ReplicatedJobView): Promise<number> {
    const current = view ?? (await this.view(job));
    await this.tombstone(job, current.keys());
    return current.candidates.length;
  }

  /** Writes tombstones for `keys` of `job`'s partition, 1,000 to a produce request. */
  async tombstone(job: string, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.#withProducer(job, async (send) => {
      for (let n = 0; n < keys.length; n += 1_000) await send(keys.slice(n, n + 1_000).map((key) => ({ key, value: null })));
    });
  }

  /**
   * Runs `use` with a `send` of records to `job`'s partition on one producer: one produce request per call, in order,
   * each acknowledged by all in-sync replicas.
   */
  async #withProducer(job: string, use: (send: (messages: readonly Message[]) => Promise<void>) => Promise<void>): Promise<void> {
    const { kafka, topic, partitions } = this.#options;
    const failed = (err: unknown): SluiceError =>
      new SluiceError('SLUICE_CLUSTER_REPLICATION_FAILED', `cannot write job "${job}"'s checkpoints to topic "${topic}": ${(err as Error).message}; check that the brokers are up, then try again`, { cause: err, retriable: true });
    const producer = clusterProducer(kafka);
    try {
      await producer.connect().catch((err: unknown) => {
        throw failed(err);
      });
      const partition = partitionOf(job, partitions);
      await use(async (messages) => {
        try {
          await producer.send({ topic, acks: -1, messages: messages.map((m) => ({ ...m, partition })) });
        } catch (err) {
          throw failed(err);
        }
      });
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  }

  async #withScratchStore<T>(use: (store: CheckpointStore) => Promise<T>): Promise<T> {
    const dir = await this.#scratchDir();
    try {
      return await this.#inStore(dir, use);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** A new folder under `<dataDir>/tmp`, which the caller removes. */
  async #scratchDir(): Promise<string> {
    const parent = join(this.#options.dataDir, 'tmp');
    await mkdir(parent, { recursive: true });
    return mkdtemp(join(parent, 'cluster-checkpoint-'));
  }

  /** Runs `use` on a checkpoint store opened in `dir`, closed after. */
  async #inStore<T>(dir: string, use: (store: CheckpointStore) => Promise<T>): Promise<T> {
    const store = await CheckpointStore.open(dir, { logger: this.#options.logger });
    try {
      return await use(store);
    } finally {
      await store.close();
    }
  }
}
