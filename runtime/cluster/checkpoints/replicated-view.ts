import { open } from 'node:fs/promises';
import type { Kafka } from 'kafkajs';
import { jobBlobsPrefix } from '../../checkpoint/store-layout.ts';
import type { Logger } from '../../logging/index.ts';
import { scanPartition } from '../kafka/partition-scan.ts';
import { SluiceError } from '../../errors/index.ts';
import { readChunkedBlobs, type ChunkedBlob, type ChunkInfo, type ChunkSource } from './chunk-reader.ts';
import { chunkKey, claimKey, crc32, decodeClaim, decodeImport, decodeManifestRecord, importKey, parseKey, partitionOf, type BlobLocation, type ClaimRecord, type ImportRecord, type ManifestRecord } from './replicated-records.ts';

/**
 * What the checkpoints topic holds for one job: the latest claim, the checkpoints that may be restored (newest first)
 * and where their chunks are. Built by reading the job's partition from the start.
 *
 * The view keeps each chunk's offset, size and crc32, not its bytes: whether a checkpoint is complete is known from
 * the scan, and its blobs are read back from the topic only when a member adopts it ({@link blobs}), one blob at a
 * time. So taking over a job holds about one blob in memory, not its whole replicated state (which can be many times
 * the heap with the LevelDB state backend).
 *
 * Which checkpoints may be restored: a claim of epoch E based on checkpoint B makes every checkpoint of an older
 * epoch stale unless it is B or older — a member that lost the job (a GC pause, SIGSTOP past the session timeout) may
 * still write checkpoints, but its sinks were fenced by the new owner, so restoring them would replay output that
 * never committed. Checkpoints of epoch E or newer are the current owners'.
 *
 * @example
 * ```ts
 * const view = await ReplicatedJobView.read({ kafka, topic: 'sluice.prod.checkpoints', partitions: 1, job: 'orders', logger });
 * const latest = view.latestComplete(); // undefined: nothing to restore
 * ```
 */
export class ReplicatedJobView {
  readonly job: string;
  #claim: ClaimRecord | undefined;
  /** Manifest records by key, in topic order. */
  readonly #manifests = new Map<string, ManifestRecord>();
  readonly #chunks = new Map<string, ChunkInfo>();
  /** Checkpoints found stale (by key): never restored, and tombstoned when the job's checkpoints are purged. */
  readonly #staleKeys = new Set<string>();
  readonly #imports = new Map<number, ImportRecord>();
  readonly #logger: Logger;
  readonly #source: ChunkSource;
  #highestId = 0;

  private constructor(source: ChunkSource, logger: Logger) {
    this.job = source.job;
    this.#source = source;
    this.#logger = logger;
  }

  static async read(options: { kafka: Kafka; topic: string; partitions: number; job: string; logger: Logger }): Promise<ReplicatedJobView> {
    const partition = partitionOf(options.job, options.partitions);
    const view = new ReplicatedJobView({ kafka: options.kafka, topic: options.topic, partition, job: options.job }, options.logger);
    const blobs = jobBlobsPrefix(options.job);
    await scanPartition(options.kafka, options.topic, partition, (record) => {
      const parsed = parseKey(record.key);
      if (parsed === undefined) return;
      if (parsed.kind === 'chunk') {
        if (!parsed.blobKey.startsWith(blobs)) return;
        if (record.value === null) view.#chunks.delete(record.key);
        else view.#chunks.set(record.key, { offset: record.offset, size: record.value.length, crc: crc32(record.value) });
        return;
      }
      if (parsed.job !== options.job) return;
      if (parsed.kind === 'import') {
        const found = record.value === null ? undefined : decodeImport(record.value);
        if (found === undefined) view.#imports.delete(parsed.serial);
        else view.#imports.set(parsed.serial, found);
        return;
      }
      if (parsed.kind === 'claim') {
        if (record.value === null) return;
        const claim = decodeClaim(record.value);
        if (claim !== undefined) view.#onClaim(claim);
        return;
      }
      if (record.value === null) {
        view.#manifests.delete(record.key);
        view.#staleKeys.delete(record.key);
        return;
      }
      view.#highestId = Math.max(view.#highestId, parsed.id);
      if (view.#claim !== undefined && parsed.epoch < view.#claim.epoch) {
        view.#staleKeys.add(record.key); // written by a member that had lost the job
        return;
      }
      try {
        view.#manifests.set(record.key, decodeManifestRecord(record.value, `checkpoint ${parsed.id} (epoch ${parsed.epoch}) of job "${options.job}"`));
      } catch (err) {
        options.logger.warn({ err, job: options.job, checkpoint: parsed.id }, 'unreadable replicated checkpoint skipped');
      }
    });
    options.logger.debug({ job: options.job, claim: view.#claim, candidates: view.candidates.map((r) => `${r.manifest.id}@${r.epoch}`) }, 'read replicated checkpoints');
    if (view.#staleKeys.size > 0) options.logger.info({ job: options.job, stale: view.#staleKeys.size }, 'ignored checkpoints written by a member after it lost the job');
    return view;
  }

  /** The latest claim of the job, if any member ever took it. */
  get claim(): ClaimRecord | undefined {
    return this.#claim;
  }

  /** The highest checkpoint id the topic names for the job (stale ones and the claim's included); 0 for none. */
  get highestId(): number {
    return Math.max(this.#highestId, this.#claim?.basedOn?.id ?? 0);
  }

  /** The job's checkpoints that may be restored, newest first (complete or not). */
  get candidates(): ManifestRecord[] {
    return [...this.#manifests.values()].sort((a, b) => b.manifest.id - a.manifest.id || b.epoch - a.epoch);
  }

  /**
   * The newest checkpoint whose chunks are all present and pass their checksums; a missing or damaged chunk makes it
   * fall back to the one before (with a warning naming both). `undefined` when none is complete.
   */
  latestComplete(): ManifestRecord | undefined {
    for (const record of this.candidates) {
      const problem = this.problemOf(record);
      if (problem === undefined) return record;
      this.#logger.warn({ job: this.job, checkpoint: record.manifest.id, epoch: record.epoch, problem }, `replicated checkpoint ${record.manifest.id} of job "${this.job}" is incomplete (${problem}); trying the one before`);
    }
    return undefined;
  }

  /** Checkpoint `id` if it is complete, or why it is not (`undefined`: the topic has no such checkpoint of the job). */
  checkpoint(id: number): ManifestRecord | string | undefined {
    const record = this.candidates.find((r) => r.manifest.id === id);
    return record === undefined ? undefined : (this.problemOf(record) ?? record);
  }

  /**
   * Why `record` cannot be restored from the topic (a blob without a location, a chunk missing or failing its
   * checksum, chunks that do not add up to the blob's size), or `undefined` when every chunk is there and checked.
   */
  problemOf(record: ManifestRecord): string | undefined {
    const located = new Map(record.locations.map((l) => [l.key, l]));
    for (const ref of record.manifest.blobs) {
      const location = located.get(ref.key);
      if (location === undefined) return `blob ${ref.key} has no location`;
      const found = this.#chunksOf(location);
      if ('bad' in found) return `chunk ${found.bad} of blob ${ref.key} ${found.missing ? 'is missing' : 'fails its checksum'}`;
      if (found.size !== ref.size) return `the chunks of blob ${ref.key} add up to ${found.size} bytes, not its ${ref.size}`;
    }
    return undefined;
  }

  /**
   * The blobs of `record` (complete: {@link problemOf}), read back from the topic as they are asked for, each checked
   * against its size and crc32: `[key, bytes]` pairs in topic order, for `CheckpointStore.adopt`. Throws
   * `SLUICE_CLUSTER_CHECKPOINT_CHANGED` (retriable) when the topic no longer holds a chunk where the scan found it.
   *
   * @example
   * ```ts
   * const latest = view.latestComplete();
   * if (latest !== undefined) await store.adopt(latest.manifest, view.blobs(latest));
   * ```
   */
  async *blobs(record: ManifestRecord): AsyncGenerator<readonly [string, Uint8Array]> {
    const problem = this.problemOf(record);
    if (problem !== undefined) throw new SluiceError('SLUICE_CLUSTER_CHECKPOINT_CHANGED', `checkpoint ${record.manifest.id} of job "${this.job}" cannot be read from the checkpoints topic: ${problem}`, { retriable: true });
    const located = new Map(record.locations.map((l) => [l.key, l]));
    const refs = new Map(record.manifest.blobs.map((ref) => [ref.key, ref]));
    // Every chunk found and checked: problemOf said so just above.
    const wanted = record.manifest.blobs.map((ref) => this.#chunksOf(located.get(ref.key)!) as ChunkedBlob);
    for await (const [key, bytes] of readChunkedBlobs(this.#source, wanted)) {
      const ref = refs.get(key)!;
      if (bytes.length !== ref.size || crc32(bytes) !== ref.crc32) {
        throw new SluiceError('SLUICE_CLUSTER_CHECKPOINT_CHANGED', `blob ${key} of checkpoint ${record.manifest.id} of job "${this.job}" fails its checksum as read back from the checkpoints topic; nothing was adopted: the member reads the topic again when it retries`, { retriable: true });
      }
      yield [key, bytes];
    }
  }

  /**
   * Writes the checkpoint export published as import `serial` to `file`, read from the topic chunk by chunk (each
   * checked, then the whole against its size and crc32), so an export of any size is read holding about one fetch.
   * Throws `SLUICE_CLUSTER_IMPORT_MISSING` when the import is gone or damaged.
   */
  async writeImport(serial: number, file: string): Promise<void> {
    const found = this.#imports.get(serial);
    const missing = (problem: string): SluiceError =>
      new SluiceError('SLUICE_CLUSTER_IMPORT_MISSING', `the checkpoint imported for job "${this.job}" (import ${serial}) cannot be read: ${problem}; restore the backup again (sluice checkpoint restore ${this.job} --input <file>)`, { retriable: false });
    if (found === undefined) throw missing('its record is not in the checkpoints topic');
    const scanned = this.#chunksOf(found.location);
    if ('bad' in scanned) throw missing(`chunk ${scanned.bad} is ${scanned.missing ? 'missing' : 'damaged'}`);
    // Each chunk read as a blob of its own, so that each is written as soon as it is read; offsets grow with the
    // chunk index (the chunks were sent in order, one request at a time), so they complete in order.
    const { chunks } = scanned;
    const handle = await open(file, 'w');
    let size = 0;
    let crc = 0;
    try {
      let next = 0;
      for await (const [name, bytes] of readChunkedBlobs(this.#source, chunks.map((chunk, i) => ({ name: String(i), chunks: [chunk] })))) {
        if (name !== String(next++)) throw new Error(`chunk ${name} came before chunk ${next - 1}`);
        await handle.write(bytes);
        size += bytes.length;
        crc = crc32(bytes, crc);
      }
    } catch (err) {
      throw missing((err as Error).message);
    } finally {
      await handle.close();
    }
    if (size !== found.size || crc !== found.crc) throw missing('its bytes fail their checksum');
  }

  /**
   * Where the chunks of the blob published at `location` are and how many bytes they add up to, as the scan found
   * them; or the first chunk the scan did not find (`missing`) or found with another crc32.
   */
  #chunksOf(location: BlobLocation): (ChunkedBlob & { readonly size: number }) | { readonly bad: number; readonly missing: boolean } {
    const chunks: Array<{ key: string; offset: number }> = [];
    let size = 0;
    for (let i = 0; i < location.chunkCrcs.length; i++) {
      const key = chunkKey(location.epoch, location.key, i);
      const chunk = this.#chunks.get(key);
      if (chunk === undefined || chunk.crc !== location.chunkCrcs[i]) return { bad: i, missing: chunk === undefined };
      chunks.push({ key, offset: chunk.offset });
      size += chunk.size;
    }
    return { name: location.key, chunks, size };
  }

  /** The record keys of import `serial`: its record and its chunks (tombstoned once its owner restored it). */
  importKeys(serial: number): string[] {
    const found = this.#imports.get(serial);
    return found === undefined ? [] : [importKey(this.job, serial), ...found.location.chunkCrcs.map((_, i) => chunkKey(found.location.epoch, found.location.key, i))];
  }

  /**
   * Every record key the topic holds for the job except its claim: checkpoints (stale ones too), their chunks and
   * imports. Tombstoning them all clears the job's replicated checkpoints; the claim stays, so a member that lost the
   * job still cannot bring its checkpoints back.
   */
  keys(): string[] {
    const imports = [...this.#imports.keys()].flatMap((serial) => this.importKeys(serial));
    return [...new Set([...this.#manifests.keys(), ...this.#staleKeys, ...this.#chunks.keys(), ...imports])].filter((key) => key !== claimKey(this.job));
  }

  #onClaim(claim: ClaimRecord): void {
    // A member that lost the job while it was starting it may write its claim after the new owner's: epochs decide.
    if (this.#claim !== undefined && claim.epoch < this.#claim.epoch) return;
    this.#claim = claim;
    for (const [key, record] of this.#manifests) {
      const older = record.epoch < claim.epoch;
      if (older && (claim.basedOn === null || record.manifest.id > claim.basedOn.id)) {
        this.#manifests.delete(key);
        this.#staleKeys.add(key);
      }
    }
  }
}
