import type { Kafka } from 'kafkajs';
import { jobBlobsPrefix } from '../../checkpoint/store-layout.ts';
import type { CheckpointManifest } from '../../checkpoint/index.ts';
import type { Logger } from '../../logging/index.ts';
import { scanPartition } from '../kafka/partition-scan.ts';
import { SluiceError } from '../../errors/index.ts';
import { chunkKey, claimKey, crc32, decodeClaim, decodeImport, decodeManifestRecord, importKey, parseKey, partitionOf, type ClaimRecord, type ImportRecord, type ManifestRecord } from './replicated-records.ts';

/** A replicated checkpoint put back together: its manifest and every blob it names, checked. */
export interface AssembledCheckpoint {
  readonly record: ManifestRecord;
  readonly manifest: CheckpointManifest;
  readonly blobs: ReadonlyMap<string, Uint8Array>;
}

/**
 * What the checkpoints topic holds for one job: the latest claim, the checkpoints that may be restored (newest first)
 * and their chunks. Built by reading the job's partition from the start.
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
  readonly #chunks = new Map<string, Buffer>();
  /** Checkpoints found stale (by key): never restored, and tombstoned when the job's checkpoints are purged. */
  readonly #staleKeys = new Set<string>();
  readonly #imports = new Map<number, ImportRecord>();
  readonly #logger: Logger;
  #highestId = 0;

  private constructor(job: string, logger: Logger) {
    this.job = job;
    this.#logger = logger;
  }

  static async read(options: { kafka: Kafka; topic: string; partitions: number; job: string; logger: Logger }): Promise<ReplicatedJobView> {
    const view = new ReplicatedJobView(options.job, options.logger);
    const blobs = jobBlobsPrefix(options.job);
    await scanPartition(options.kafka, options.topic, partitionOf(options.job, options.partitions), (record) => {
      const parsed = parseKey(record.key);
      if (parsed === undefined) return;
      if (parsed.kind === 'chunk') {
        if (!parsed.blobKey.startsWith(blobs)) return;
        if (record.value === null) view.#chunks.delete(record.key);
        else view.#chunks.set(record.key, record.value);
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
  latestComplete(): AssembledCheckpoint | undefined {
    for (const record of this.candidates) {
      const assembled = this.assembleRecord(record);
      if (typeof assembled !== 'string') return assembled;
      this.#logger.warn({ job: this.job, checkpoint: record.manifest.id, epoch: record.epoch, problem: assembled }, `replicated checkpoint ${record.manifest.id} of job "${this.job}" is incomplete (${assembled}); trying the one before`);
    }
    return undefined;
  }

  /** Checkpoint `id` assembled, or why it cannot be (`undefined`: the topic has no such checkpoint of the job). */
  assemble(id: number): AssembledCheckpoint | string | undefined {
    const record = this.candidates.find((r) => r.manifest.id === id);
    return record === undefined ? undefined : this.assembleRecord(record);
  }

  /** The bytes of the checkpoint export published as import `serial` (checked), or a `SLUICE_CLUSTER_IMPORT_MISSING` error. */
  importBytes(serial: number): Buffer {
    const found = this.#imports.get(serial);
    const parts: Buffer[] = [];
    let problem = found === undefined ? 'its record is not in the checkpoints topic' : undefined;
    for (let i = 0; problem === undefined && i < found!.location.chunkCrcs.length; i++) {
      const chunk = this.#chunks.get(chunkKey(found!.location.epoch, found!.location.key, i));
      if (chunk === undefined || crc32(chunk) !== found!.location.chunkCrcs[i]) problem = `chunk ${i} is ${chunk === undefined ? 'missing' : 'damaged'}`;
      else parts.push(chunk);
    }
    const bytes = Buffer.concat(parts);
    if (problem === undefined && (bytes.length !== found!.size || crc32(bytes) !== found!.crc)) problem = 'its bytes fail their checksum';
    if (problem !== undefined) {
      throw new SluiceError('SLUICE_CLUSTER_IMPORT_MISSING', `the checkpoint imported for job "${this.job}" (import ${serial}) cannot be read: ${problem}; restore the backup again (sluice checkpoint restore ${this.job} --input <file>)`, { retriable: false });
    }
    return bytes;
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

  /** One checkpoint put together from its chunks, each checked; a string says why it cannot be. */
  assembleRecord(record: ManifestRecord): AssembledCheckpoint | string {
    const located = new Map(record.locations.map((l) => [l.key, l]));
    const blobs = new Map<string, Uint8Array>();
    for (const ref of record.manifest.blobs) {
      const location = located.get(ref.key);
      if (location === undefined) return `blob ${ref.key} has no location`;
      const parts: Buffer[] = [];
      for (let i = 0; i < location.chunkCrcs.length; i++) {
        const chunk = this.#chunks.get(chunkKey(location.epoch, ref.key, i));
        if (chunk === undefined) return `chunk ${i} of blob ${ref.key} is missing`;
        if (crc32(chunk) !== location.chunkCrcs[i]) return `chunk ${i} of blob ${ref.key} fails its checksum`;
        parts.push(chunk);
      }
      const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      if (bytes.length !== ref.size || crc32(bytes) !== ref.crc32) return `blob ${ref.key} fails its checksum`;
      blobs.set(ref.key, bytes);
    }
    return { record, manifest: record.manifest, blobs };
  }
}
