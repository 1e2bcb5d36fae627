import { join } from 'node:path';
import { SluiceError } from '../errors/index.ts';
import { silentLogger, type Logger } from '../logging/index.ts';
import { adoptCheckpoint, lastIdMark, lastIdOf, type AdoptedBlobs } from './adopt-checkpoint.ts';
import { batchesOfAtMost, BLOB_BATCH_BYTES } from './blob-batches.ts';
import { applyRetention, deleteCheckpoint, manifestsOf } from './delete-checkpoints.ts';
import { decodeExport, openExportFile, writeExportFile } from './export-file.ts';
import { CheckpointErrorCodes, checkId, checkString, decodeManifest, isIncremental, validateManifest, writtenBytesOf, type BlobRef, type CheckpointKind, type CheckpointManifest, type ManifestHeader } from './manifest.ts';
import { checkpointsLost, ID_LEDGER_FILE, IdLedger } from './id-ledger.ts';
import { selfContainedStream } from './self-contained.ts';
import { openStoreDb, type Db } from './store-db.ts';
import {
  blobInput,
  checkBlob,
  isShared,
  jobBlobsPrefix,
  describeCheckpoint as describe,
  checkpointNotFound as notFound,
  manifestKey,
  manifestPrefix,
  prefixEnd,
  VerifiedCheckpoint,
  type BlobInput,
  type CheckpointBlobs,
  type CheckpointInfo,
  type LoadedCheckpoint,
  type SharedBlobInput,
} from './store-layout.ts';
import { writeCheckpoint, writeMergedCheckpoint, writeStreamedCheckpoint, type BeforeBatch } from './write-checkpoint.ts';

export type { BlobInput, CheckpointBlobs, CheckpointInfo, LoadedCheckpoint, SharedBlobInput } from './store-layout.ts';

// The on-disk format (keys, blob layout, manifest checksums) is described in store-layout.ts.

/** Directory of the checkpoint LevelDB inside a data directory. */
export function checkpointDbPath(dataDir: string): string {
  return join(dataDir, 'checkpoints');
}

/** A LevelDB batch operation as the store writes it. */
export type StoreBatchOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

/** Options for {@link CheckpointStore.open}. */
export interface CheckpointStoreOptions {
  logger?: Logger;
  /**
   * Test hook: runs right before the batches of {@link CheckpointStore.write}, with all their operations (blobs, then
   * manifest and id mark; an operation added goes into the last batch). Throwing (or adding an invalid operation)
   * makes the write fail, which must leave no visible checkpoint.
   */
  beforeBatch?: BeforeBatch;
}

/** A blob of a checkpoint that cannot be used: absent, or not the bytes its manifest describes. */
interface BlobProblem {
  readonly ref: BlobRef;
  readonly missing: boolean;
  readonly what: string;
}

/**
 * All jobs' checkpoints and savepoints, in one LevelDB per data directory.
 *
 * @example
 * ```ts
 * const store = await CheckpointStore.open('/var/lib/sluice', { logger });
 * const id = await store.nextId('orders');
 * await store.write({ job: 'orders', id, kind: 'checkpoint', timestamp: Date.now(), durationMs: 85, parallelism: 2,
 *   maxParallelism: 128, operators, sourcePositions }, blobs);
 * const latest = await store.latestValid('orders'); // after a restart
 * await backend.restore(latest!.keyedState('count-per-user'));
 * ```
 */
export class CheckpointStore {
  readonly #db: Db;
  readonly #ledger: IdLedger;
  readonly #logger: Logger;
  readonly #beforeBatch: CheckpointStoreOptions['beforeBatch'];
  #closed = false;
  /** Writes and deletes run one at a time, so retention never races a write. */
  #serial: Promise<unknown> = Promise.resolve();

  private constructor(db: Db, ledger: IdLedger, options: CheckpointStoreOptions) {
    this.#db = db;
    this.#ledger = ledger;
    this.#logger = options.logger ?? silentLogger();
    this.#beforeBatch = options.beforeBatch;
  }

  /**
   * Opens (creating if needed) the store at `<dataDir>/checkpoints`. Throws `SLUICE_CHECKPOINT_STORE_LOCKED` when
   * another process (or another open store) holds it, `SLUICE_CHECKPOINT_STORE_UNREADABLE` otherwise.
   */
  static async open(dataDir: string, options: CheckpointStoreOptions = {}): Promise<CheckpointStore> {
    return CheckpointStore.#openAt(dataDir, options, true);
  }

  /**
   * Opens the store at `<dataDir>/checkpoints` only if one is there, for commands that read: a mistyped data directory
   * gets `SLUICE_CHECKPOINT_STORE_MISSING` instead of a new, empty store created where it points.
   */
  static async openExisting(dataDir: string, options: CheckpointStoreOptions = {}): Promise<CheckpointStore> {
    return CheckpointStore.#openAt(dataDir, options, false);
  }

  static async #openAt(dataDir: string, options: CheckpointStoreOptions, create: boolean): Promise<CheckpointStore> {
    const db = await openStoreDb(checkpointDbPath(dataDir), create);
    return new CheckpointStore(db, await IdLedger.open(join(dataDir, ID_LEDGER_FILE), options.logger ?? silentLogger()), options);
  }

  /** The next checkpoint id of `job`: one more than any id it ever had (also after deletes and restarts). */
  async nextId(job: string): Promise<number> {
    this.#checkOpen();
    checkString(job, 'job');
    let max = Math.max(await lastIdOf(this.#db, job), this.#ledger.newest(job));
    const prefix = manifestPrefix(job);
    for await (const key of this.#db.keys({ gte: prefix, lt: prefixEnd(prefix), reverse: true, limit: 1 })) {
      max = Math.max(max, Number(key.slice(prefix.length)));
    }
    return max + 1;
  }

  /**
   * Stores a checkpoint: its blobs (crc32 each) in batches of at most 4 MiB, then its manifest and the job's id
   * high-water mark in one last batch. The checkpoint exists only once this resolves. Then applies retention: only
   * the newest `retain` (default 3) checkpoints of the job are kept; savepoints are never deleted by retention.
   *
   * An incremental checkpoint passes deltas (`delta: true`) and blobs it shares with earlier checkpoints (`shared`),
   * each key group's chain in order. A savepoint always stands alone: its chains are merged into full blobs here,
   * one chain at a time; so is a checkpoint written with `standAlone` (a full checkpoint whose subtasks sent deltas).
   */
  async write(manifest: ManifestHeader, blobs: CheckpointBlobs, options: { retain?: number; standAlone?: boolean } = {}): Promise<CheckpointManifest> {
    const retain = options.retain ?? 3;
    if (!Number.isInteger(retain) || retain < 1) {
      throw new SluiceError(
        CheckpointErrorCodes.invalid,
        `checkpoint retention ${String(retain)} is invalid; keep at least 1 checkpoint (default 3)`,
      );
    }
    return this.#exclusive(async () => {
      this.#checkOpen();
      const chained = (manifest.kind === 'savepoint' || options.standAlone === true) && blobs.some((b) => isShared(b) || b.delta === true);
      const written = chained
        ? await writeMergedCheckpoint(this.#db, manifest, selfContainedStream(manifest.maxParallelism, blobs.map(lazyBlob), (blob) => this.#bytesOf(manifest, blob)), this.#beforeBatch)
        : await writeCheckpoint(this.#db, manifest, blobs, this.#beforeBatch);
      await this.#noteStored(written);
      if (written.kind === 'checkpoint') {
        try {
          await applyRetention(this.#db, written.job, retain);
        } catch (err) {
          // The checkpoint is complete; failing it now would only make the caller retry a good checkpoint.
          this.#logger.warn({ err, job: written.job, checkpoint: written.id }, 'checkpoint retention failed; old checkpoints stay until the next one');
        }
      }
      return written;
    });
  }

  /**
   * Deletes all but the newest `keep` checkpoints of `job` (savepoints stay), as retention after a write does. Reads
   * manifests only, so it costs no blob reads however large the state.
   */
  async retain(job: string, keep: number): Promise<void> {
    this.#checkOpen();
    checkString(job, 'job');
    if (!Number.isInteger(keep) || keep < 1) throw new SluiceError(CheckpointErrorCodes.invalid, `checkpoint retention ${String(keep)} is invalid; keep at least 1 checkpoint`);
    await this.#exclusive(() => applyRetention(this.#db, job, keep));
  }

  /**
   * The job's checkpoints and savepoints, newest first, each verified (blob presence, size and crc). Blobs are read
   * and checked batch by batch without being kept, and a blob shared by several checkpoints (an incremental chain's
   * base and deltas) is checked once per call: a job with large state costs one read of its stored state, in a few
   * MB of memory. {@link ids} reads no blob.
   */
  async list(job: string): Promise<CheckpointInfo[]> {
    this.#checkOpen();
    checkString(job, 'job');
    const out: CheckpointInfo[] = [];
    const checked = new Map<string, BlobProblem | undefined>();
    for await (const [id, value] of manifestsOf(this.#db, job)) {
      let manifest: CheckpointManifest;
      try {
        manifest = decodeManifest(value, describe(job, id));
      } catch {
        out.push({ job, id, kind: 'checkpoint', timestamp: 0, durationMs: 0, totalBytes: 0, writtenBytes: 0, incremental: false, status: 'corrupt' });
        continue;
      }
      const problem = await this.#verifyBlobs(manifest, checked);
      out.push({
        job,
        id,
        kind: manifest.kind,
        timestamp: manifest.timestamp,
        durationMs: manifest.durationMs,
        totalBytes: manifest.totalBytes,
        writtenBytes: writtenBytesOf(manifest),
        incremental: isIncremental(manifest),
        status: problem === undefined ? 'valid' : problem.missing ? 'incomplete' : 'corrupt',
      });
    }
    return out;
  }

  /** The ids of `job`'s checkpoints and savepoints, newest first; reads no blob (unlike {@link list}). */
  async ids(job: string): Promise<number[]> {
    this.#checkOpen();
    checkString(job, 'job');
    const out: number[] = [];
    for await (const [id] of manifestsOf(this.#db, job)) out.push(id);
    return out;
  }

  /**
   * The newest valid checkpoint or savepoint of `job` (only of `kinds` when given). Corrupt or incomplete ones are
   * skipped with a warning naming the one used instead. `undefined` when the job has none; throws
   * `SLUICE_CHECKPOINT_NONE_VALID` when it has some but none is valid.
   */
  async latestValid(job: string, options: { kinds?: CheckpointKind[] } = {}): Promise<LoadedCheckpoint | undefined> {
    this.#checkOpen();
    checkString(job, 'job');
    // Checkpoints the store lost (id-ledger.ts): an older one would repeat committed output.
    const lost = await this.lostCheckpoints(job);
    if (lost !== undefined) throw lost;
    const skipped: Array<{ id: number; reason: string }> = [];
    for await (const [id, value] of manifestsOf(this.#db, job)) {
      let loaded: LoadedCheckpoint;
      try {
        const manifest = decodeManifest(value, describe(job, id));
        if (options.kinds !== undefined && !options.kinds.includes(manifest.kind)) continue;
        loaded = await this.#loadVerified(manifest);
      } catch (err) {
        skipped.push({ id, reason: (err as Error).message });
        continue;
      }
      for (const s of skipped) {
        this.#logger.warn(
          { job, checkpoint: s.id, usedInstead: id, reason: s.reason },
          `checkpoint ${s.id} of job "${job}" is not usable; restoring from checkpoint ${id}`,
        );
      }
      return loaded;
    }
    if (skipped.length === 0) return undefined;
    throw new SluiceError(
      CheckpointErrorCodes.noneValid,
      `job "${job}" has ${skipped.length} checkpoint(s) but none is valid (${skipped.map((s) => s.id).join(', ')}): ` +
        `${skipped[0]!.reason} — import a savepoint or backup (sluice restore), or clear the job's checkpoints ` +
        `(sluice clear) to start from the sources' earliest positions`,
    );
  }

  /**
   * Loads and verifies one checkpoint; `SLUICE_CHECKPOINT_NOT_FOUND` or `SLUICE_CHECKPOINT_CORRUPT`. With `checkAsRead`
   * no blob is read up front: each is checked (size, crc) when read — for reading part of a checkpoint (a key lookup),
   * which verifying first would make read all of it. A damaged blob then fails the read that meets it.
   */
  async load(job: string, id: number, options: { checkAsRead?: boolean } = {}): Promise<LoadedCheckpoint> {
    this.#checkOpen();
    checkString(job, 'job');
    checkId(id);
    const value = await this.#db.get(manifestKey(job, id));
    if (value === undefined) throw notFound(job, id);
    const manifest = decodeManifest(value, describe(job, id));
    return options.checkAsRead === true ? new VerifiedCheckpoint(manifest, (ref) => this.#readVerifiedBlob(manifest, ref, false)) : this.#loadVerified(manifest);
  }

  /** Deletes one checkpoint or savepoint (manifest and blobs, atomically); `SLUICE_CHECKPOINT_NOT_FOUND` if absent. */
  async delete(job: string, id: number): Promise<void> {
    this.#checkOpen();
    checkString(job, 'job');
    checkId(id);
    await this.#exclusive(async () => {
      if (!(await deleteCheckpoint(this.#db, job, id))) throw notFound(job, id);
    });
  }

  /** Deletes every checkpoint and savepoint of `job`. The id high-water mark stays: later ids keep increasing. */
  async deleteAll(job: string): Promise<void> {
    this.#checkOpen();
    checkString(job, 'job');
    await this.#exclusive(async () => {
      const manifests = manifestPrefix(job);
      const blobs = jobBlobsPrefix(job);
      // Manifests first: a crash in between leaves only unreferenced blobs, never a checkpoint missing blobs.
      await this.#db.clear({ gte: manifests, lt: prefixEnd(manifests) });
      await this.#db.clear({ gte: blobs, lt: prefixEnd(blobs) });
      // Cleared on purpose: checkpoints the store lost (lostCheckpoints) are no longer missed.
      const newest = this.#ledger.newest(job);
      if (newest > 0) await this.#db.batch([await lastIdMark(this.#db, job, newest)]);
    });
  }

  /**
   * Writes one checkpoint into a portable file (format: export-file.ts). The checkpoint is verified first; an
   * incremental one is merged into full blobs, so the file stands alone.
   */
  async exportTo(job: string, id: number, file: string): Promise<void> {
    await writeExportFile((await this.load(job, id)) as VerifiedCheckpoint, file);
  }

  /**
   * Imports an export file as a new savepoint (of `options.job`, default the exported job) with a new id, above
   * `options.idAbove` too (a cluster member: the job's replicated checkpoints may have higher ids than its local
   * ones); every blob's size and crc are verified as it is read. `options.where` names the file in errors (default its
   * path). Returns the stored manifest.
   */
  async importFrom(file: string, options: { job?: string; idAbove?: number; where?: string } = {}): Promise<CheckpointManifest> {
    this.#checkOpen();
    // Read blob by blob as it is stored: an export of any size is imported holding one batch of blobs.
    const source = await openExportFile(file, options.where);
    try {
      const job = options.job ?? source.manifest.job;
      checkString(job, 'job');
      return await this.#exclusive(async () => {
        this.#checkOpen();
        const id = Math.max(await this.nextId(job), (options.idAbove ?? 0) + 1);
        const { blobs: _refs, totalBytes: _total, formatVersion: _v, writtenBytes: _w, ...rest } = source.manifest;
        return this.#noteStored(await writeStreamedCheckpoint(this.#db, { ...rest, job, id, kind: 'savepoint' }, source.blobs, source.readBlob, this.#beforeBatch));
      });
    } finally {
      await source.close();
    }
  }

  /**
   * Imports export bytes as {@link importFrom} does, with an id above `idAbove` too (a cluster member: the job's
   * replicated checkpoints may have higher ids than its local ones). `where` names the bytes in errors.
   */
  async importExport(raw: Uint8Array, options: { job?: string; idAbove?: number; where: string }): Promise<CheckpointManifest> {
    this.#checkOpen();
    const { manifest, inputs } = decodeExport(raw, options.where);
    const job = options.job ?? manifest.job;
    checkString(job, 'job');
    return this.#exclusive(async () => {
      this.#checkOpen();
      const id = Math.max(await this.nextId(job), (options.idAbove ?? 0) + 1);
      const { blobs: _refs, totalBytes: _total, formatVersion: _v, writtenBytes: _w, ...rest } = manifest;
      return this.#noteStored(await writeCheckpoint(this.#db, { ...rest, job, id, kind: 'savepoint' }, inputs, this.#beforeBatch));
    });
  }

  /**
   * The bytes of `refs` (blobs of stored checkpoints), each checked against its size and crc32. Cluster mode sends a
   * checkpoint's own blobs on to Kafka right after storing it. Throws `SLUICE_CHECKPOINT_CORRUPT` for a missing or
   * damaged blob.
   */
  async readBlobs(refs: readonly BlobRef[]): Promise<Uint8Array[]> {
    this.#checkOpen();
    const values = refs.length === 0 ? [] : await this.#db.getMany(refs.map((ref) => ref.key));
    return refs.map((ref, i) => {
      const value = values[i];
      const problem = checkBlob(ref, value);
      if (problem !== undefined) throw new SluiceError(CheckpointErrorCodes.corrupt, `blob ${ref.key} ${problem}; restore from an earlier checkpoint`);
      return value!;
    });
  }

  /**
   * Stores a checkpoint exactly as another store wrote it (same id, same blob keys): a copy replicated through Kafka
   * in cluster mode, whose chains name blobs under earlier ids. `blobs` gives every blob the manifest names, in a
   * map or streamed (read as they are stored, in batches of at most 4 MiB, so a checkpoint of any size is adopted
   * holding about one batch); each is checked against the manifest before it is written, and the manifest is written
   * last. Adopting a checkpoint that is already here with the same manifest does nothing; a different checkpoint
   * under the same id fails with `SLUICE_CHECKPOINT_EXISTS`, a missing or damaged blob with `SLUICE_CHECKPOINT_CORRUPT`.
   *
   * @example
   * ```ts
   * const latest = view.latestComplete(); // a cluster member's ReplicatedJobView
   * if (latest !== undefined) await store.adopt(latest.manifest, view.blobs(latest));
   * ```
   */
  async adopt(manifest: CheckpointManifest, blobs: AdoptedBlobs): Promise<void> {
    this.#checkOpen();
    const checked = validateManifest(manifest);
    await this.#exclusive(async () => {
      await adoptCheckpoint(this.#db, checked, blobs);
      await this.#noteStored(checked);
    });
  }

  /**
   * `SLUICE_CHECKPOINT_STORE_DAMAGED` (returned, not thrown) when the store lost checkpoints of `job` that it stored
   * (id-ledger.ts), for listings to show; undefined when nothing is missing.
   */
  async lostCheckpoints(job: string): Promise<SluiceError | undefined> {
    this.#checkOpen();
    const stored = await lastIdOf(this.#db, job);
    const known = this.#ledger.newest(job);
    return known > stored ? checkpointsLost(job, known, stored) : undefined;
  }

  /** Closes the LevelDB; the store cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#serial.catch(() => undefined);
    await this.#db.close();
  }

  /** Records a stored checkpoint in the id ledger and hands it back. */
  async #noteStored<M extends { job: string; id: number }>(manifest: M): Promise<M> {
    await this.#ledger.record(manifest.job, manifest.id);
    return manifest;
  }

  /** The bytes of a savepoint's blob: its own, or one an earlier checkpoint wrote (read now, checked). */
  async #bytesOf(header: ManifestHeader, blob: LazyBlob): Promise<Uint8Array> {
    if (blob.shared === undefined) return blob.bytes!;
    try {
      return (await this.readBlobs([blob.shared]))[0]!;
    } catch (err) {
      throw new SluiceError(CheckpointErrorCodes.corrupt, `${header.kind} ${header.id} of job "${header.job}" builds on a damaged blob (${(err as Error).message}); take it again once the job restarted from an earlier checkpoint`);
    }
  }

  /**
   * Checks every blob of `manifest` (present, its size, its crc), keeping none of them; `checked` remembers the outcome
   * per blob across calls (blobs are immutable once written: a key with the same size and checksum is the same check).
   * In reads of a few MB, each checked before the next: LevelDB copies a read's values into the heap on this thread,
   * and the checksums run here too (a 10M-key checkpoint read at once held the event loop for ~340 ms).
   */
  async #verifyBlobs(manifest: CheckpointManifest, checked: Map<string, BlobProblem | undefined>): Promise<BlobProblem | undefined> {
    const id = (ref: BlobRef): string => `${ref.key}\u0000${ref.size}\u0000${ref.crc32}`;
    const earlier = manifest.blobs.map((ref) => checked.get(id(ref))).find((p) => p !== undefined);
    if (earlier !== undefined) return earlier;
    const unchecked = manifest.blobs.filter((ref) => !checked.has(id(ref)));
    for (const refs of batchesOfAtMost(unchecked, BLOB_BATCH_BYTES, (ref) => ref.size)) {
      const values = await this.#db.getMany(refs.map((ref) => ref.key));
      for (let i = 0; i < refs.length; i++) {
        const ref = refs[i]!;
        const value = values[i];
        const what = checkBlob(ref, value);
        const problem = what === undefined ? undefined : { ref, missing: value === undefined, what };
        checked.set(id(ref), problem);
        if (problem !== undefined) return problem;
      }
    }
    return undefined;
  }

  /**
   * Verifies every blob of `manifest` (without holding them), then hands out a checkpoint that reads each blob when
   * it is asked for: a key group's chain is read as its subtask restores it, so loading does not hold the checkpoint
   * (it did: at 10M keys the restore's peak held the whole checkpoint, ~300 MiB, above what the job itself held).
   */
  async #loadVerified(manifest: CheckpointManifest): Promise<VerifiedCheckpoint> {
    const problem = await this.#verifyBlobs(manifest, new Map());
    if (problem !== undefined) {
      throw new SluiceError(
        CheckpointErrorCodes.corrupt,
        `${describe(manifest.job, manifest.id)} is ${problem.missing ? 'incomplete' : 'corrupt'}: blob ` +
          `${problem.ref.key} ${problem.what}; restore from an earlier checkpoint (latestValid does this) or a savepoint, ` +
          `and delete this one (sluice checkpoints delete ${manifest.job} ${manifest.id})`,
      );
    }
    return new VerifiedCheckpoint(manifest, (ref) => this.#readVerifiedBlob(manifest, ref, true));
  }

  /**
   * A blob of a loaded checkpoint, read synchronously (a key group's chain is read while its subtask restores) and
   * checked: one that went missing or changed since it was `verified` is a corrupt checkpoint, which fails the
   * attempt, and the restart's own verification then skips it.
   */
  #readVerifiedBlob(manifest: CheckpointManifest, ref: BlobRef, verified: boolean): Uint8Array {
    this.#checkOpen();
    const value = this.#db.getSync(ref.key);
    const what = checkBlob(ref, value);
    if (what === undefined) return value!;
    const checkpoint = describe(manifest.job, manifest.id);
    throw new SluiceError(
      CheckpointErrorCodes.corrupt,
      verified
        ? `${checkpoint} changed after it was verified: blob ${ref.key} ${what}; the job restarts from an earlier checkpoint — check the data directory's disk, and that no other process writes to it`
        : `${checkpoint} is damaged: blob ${ref.key} ${what}; read an earlier checkpoint (sluice checkpoints ${manifest.job} lists them)`,
    );
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(fn, fn);
    this.#serial = run.catch(() => undefined);
    return run;
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new SluiceError(CheckpointErrorCodes.storeClosed, 'the checkpoint store is closed; open it again with CheckpointStore.open()');
    }
  }
}

/** A blob of a savepoint being written, described by its place in a chain, its bytes read when its chain is merged. */
type LazyBlob = Omit<BlobInput, 'bytes'> & { readonly bytes?: Uint8Array; readonly shared?: BlobRef };

function lazyBlob(blob: BlobInput | SharedBlobInput): LazyBlob {
  if (!isShared(blob)) return blob;
  const { bytes: _none, ...place } = blobInput(blob.shared, new Uint8Array(0));
  return { ...place, shared: blob.shared };
}
