import type { Kafka, Message, Producer } from 'kafkajs';
import type { BlobRef, CheckpointManifest, CheckpointStore } from '../../checkpoint/index.ts';
import { SluiceError } from '../../errors/index.ts';
import type { Logger } from '../../logging/index.ts';
import { chunkKey, chunksOf, claimKey, encodeClaim, encodeManifestRecord, manifestRecordKey, partitionOf, type BlobLocation, type ManifestRecord } from './replicated-records.ts';
import type { ReplicatedJobView } from './replicated-view.ts';
import { clusterProducer } from '../kafka/cluster-producer.ts';

/** At most this many bytes of chunks per produce request: one record batch must stay under `max.message.bytes`. */
const SEND_BYTES = 768 * 1024;
/** At most this many bytes of blobs read from the local store at once (one larger blob is read alone). */
const READ_BYTES = 8 * 1024 * 1024;

/** The blobs from `from` on that one read takes: at least one, then as many as fit in READ_BYTES. */
function readGroup(blobs: readonly BlobRef[], from: number): BlobRef[] {
  let end = from + 1;
  let bytes = blobs[from]!.size;
  while (end < blobs.length && bytes + blobs[end]!.size <= READ_BYTES) bytes += blobs[end++]!.size;
  return blobs.slice(from, end);
}

export interface CheckpointPublisherOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  readonly partitions: number;
  readonly job: string;
  /** The owner epoch of this member's run of the job (from the group generation that gave it the job). */
  readonly epoch: number;
  readonly member: string;
  /** The local store the checkpoints were written to first: blobs are read back from it. */
  readonly store: CheckpointStore;
  /** Checkpoints to keep in the topic (savepoints are always kept), as the local store keeps them. */
  readonly retain: number;
  /** The serial of the start override this run is under (0: none), stamped on every checkpoint it replicates. */
  readonly override: number;
  /** What the topic held when the member took the job: blobs published before are not sent again. */
  readonly view: ReplicatedJobView;
  readonly logger: Logger;
}

/**
 * Replicates one job's checkpoints to the cluster's checkpoints topic, for the member that owns the job: first a
 * claim (this epoch, restoring which checkpoint), then every checkpoint as it completes — the blobs not in the topic
 * yet, in chunks of at most 512 KiB, then its manifest record. A checkpoint is replicated once `publish` resolved:
 * the idempotent producer waits for every in-sync replica (acks = all). Retention writes tombstones for checkpoints
 * past `retain` and for the chunks only they named.
 *
 * @example
 * ```ts
 * const publisher = await CheckpointPublisher.open({ kafka, topic, partitions: 1, job: 'orders', epoch: 7, member, store, retain: 3, override: 0, view, logger });
 * await publisher.claim({ epoch: 5, id: 41 }); // restoring checkpoint 41, replicated under epoch 5
 * const runner = new JobRunner({ job, store, replicateCheckpoint: (manifest) => publisher.publish(manifest) });
 * ```
 */
export class CheckpointPublisher {
  /** Without `view`: it holds every chunk read at takeover, which would stay in memory for the whole run. */
  readonly #options: Omit<CheckpointPublisherOptions, 'view'>;
  readonly #producer: Producer;
  readonly #partition: number;
  /** Blobs in the topic, by store key. */
  readonly #located = new Map<string, BlobLocation>();
  /** Checkpoints in the topic, oldest first. */
  readonly #published: ManifestRecord[] = [];

  private constructor({ view, ...options }: CheckpointPublisherOptions, producer: Producer) {
    this.#options = options;
    this.#producer = producer;
    this.#partition = partitionOf(options.job, options.partitions);
    for (const record of view.candidates.reverse()) {
      this.#published.push(record);
      for (const location of record.locations) this.#located.set(location.key, location);
    }
  }

  static async open(options: CheckpointPublisherOptions): Promise<CheckpointPublisher> {
    const producer = clusterProducer(options.kafka);
    await producer.connect();
    return new CheckpointPublisher(options, producer);
  }

  /** Records that this member took the job at its epoch, restoring checkpoint `basedOn` (`null`: nothing). */
  async claim(basedOn: { readonly epoch: number; readonly id: number } | null): Promise<void> {
    const { job, epoch, member } = this.#options;
    const value = encodeClaim({ epoch, member, basedOn, at: Date.now() });
    await this.#send([{ key: claimKey(job), value }]);
  }

  /** Replicates a checkpoint or savepoint the local store holds; resolves once the topic has it. */
  async publish(manifest: CheckpointManifest): Promise<void> {
    const { job, epoch, member, store } = this.#options;
    const missing = manifest.blobs.filter((ref) => !this.#located.has(ref.key));
    const fresh: BlobLocation[] = [];
    let pending: Message[] = [];
    let pendingBytes = 0;
    let read: { readonly from: number; readonly bytes: Uint8Array[] } = { from: 0, bytes: [] };
    for (let i = 0; i < missing.length; i++) {
      // Read in groups of at most READ_BYTES (a blob larger than that alone): a savepoint's blobs are the whole state,
      // which need not fit in memory at once, while a checkpoint's many small deltas still take few reads.
      if (i >= read.from + read.bytes.length) read = { from: i, bytes: await store.readBlobs(readGroup(missing, i)) };
      const chunks = chunksOf(read.bytes[i - read.from]!);
      fresh.push({ key: missing[i]!.key, epoch, chunkCrcs: chunks.map((c) => c.crc) });
      for (let n = 0; n < chunks.length; n++) {
        const chunk = chunks[n]!.bytes;
        if (pendingBytes + chunk.length > SEND_BYTES && pending.length > 0) {
          await this.#send(pending);
          pending = [];
          pendingBytes = 0;
        }
        pending.push({ key: chunkKey(epoch, missing[i]!.key, n), value: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) });
        pendingBytes += chunk.length;
      }
    }
    if (pending.length > 0) await this.#send(pending);
    for (const location of fresh) this.#located.set(location.key, location);
    const locations = manifest.blobs.map((ref) => this.#located.get(ref.key)!);
    const record: ManifestRecord = { epoch, member, manifest, locations, override: this.#options.override };
    await this.#send([{ key: manifestRecordKey(job, epoch, manifest.id), value: encodeManifestRecord(record) }]);
    this.#published.push(record);
    this.#options.logger.debug({ job, checkpoint: manifest.id, kind: manifest.kind, epoch, chunks: fresh.reduce((n, l) => n + l.chunkCrcs.length, 0) }, `replicated ${manifest.kind} ${manifest.id} of job "${job}"`);
    await this.#applyRetention();
  }

  /** Disconnects the producer. */
  async close(): Promise<void> {
    await this.#producer.disconnect();
  }

  async #applyRetention(): Promise<void> {
    const checkpoints = this.#published.filter((r) => r.manifest.kind === 'checkpoint');
    const dropped = new Set(checkpoints.slice(0, Math.max(0, checkpoints.length - this.#options.retain)));
    if (dropped.size === 0) return;
    const kept = this.#published.filter((r) => !dropped.has(r));
    const named = new Set(kept.flatMap((r) => r.manifest.blobs.map((ref) => ref.key)));
    const tombstones: Message[] = [];
    for (const record of dropped) {
      tombstones.push({ key: manifestRecordKey(this.#options.job, record.epoch, record.manifest.id), value: null });
      for (const location of record.locations) {
        if (named.has(location.key) || this.#located.get(location.key) !== location) continue;
        this.#located.delete(location.key);
        location.chunkCrcs.forEach((_, n) => tombstones.push({ key: chunkKey(location.epoch, location.key, n), value: null }));
      }
    }
    this.#published.splice(0, this.#published.length, ...kept);
    try {
      await this.#send(tombstones);
    } catch (err) {
      // The checkpoint is replicated; old records only cost space until the next retention.
      this.#options.logger.warn({ err, job: this.#options.job }, 'retention of replicated checkpoints failed; old ones stay until the next checkpoint');
    }
  }

  async #send(messages: Message[]): Promise<void> {
    try {
      await this.#producer.send({ topic: this.#options.topic, acks: -1, messages: messages.map((m) => ({ ...m, partition: this.#partition })) });
    } catch (err) {
      throw new SluiceError(
        'SLUICE_CLUSTER_REPLICATION_FAILED',
        `cannot write job "${this.#options.job}"'s checkpoint to topic "${this.#options.topic}": ${(err as Error).message}; the checkpoint does not count until it is replicated, check that the brokers are up`,
        { cause: err, retriable: true },
      );
    }
  }
}
