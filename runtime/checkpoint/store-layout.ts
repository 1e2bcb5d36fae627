// The checkpoint store's on-disk layout: LevelDB keys, how blobs are named and checked, and building a manifest from blobs.
import { crc32 } from 'node:zlib';
import { SluiceError } from '../errors/index.ts';
import { ChainMap, type ChainPart } from './chain-map.ts';
import { CheckpointErrorCodes, checkId, checkInt, checkKind, checkString, ID_DIGITS, INCREMENTAL_MANIFEST_FORMAT_VERSION, keyedChains, MANIFEST_FORMAT_VERSION, validateManifest, type BlobRef, type CheckpointKind, type CheckpointManifest, type ManifestHeader } from './manifest.ts';

/*
 * On-disk format (LevelDB at `<dataDir>/checkpoints`, string keys, binary values; also in docs/checkpoints.md):
 *
 *   checkpoint!manifest!<job>!<id>                          crc32 (4 bytes BE) ‖ msgpack(CheckpointManifest)
 *   checkpoint!blob!<job>!<id>!<operatorUid>!kg!<keyGroup>  keyed state of one key group (runtime/state format)
 *   checkpoint!blob!<job>!<id>!<operatorUid>!kg!<keyGroup>!compacted
 *                                                           a full blob the coordinator merged from the start of
 *                                                           the key group's chain (chain-compactor.ts); the same
 *                                                           checkpoint may also write the key group's delta
 *   checkpoint!blob!<job>!<id>!<operatorUid>!op!<subtask>   operator state of one old subtask
 *   checkpoint!last-id!<job>                                 highest id ever written (decimal text): ids never repeat
 *
 * <id> is zero-padded to 12 digits and <keyGroup>/<subtask> to 5, so key order is numeric order. In <job> and
 * <operatorUid>, '%' is written '%25' and '!' '%21', so a name can never reach into the next key field. A checkpoint
 * exists once its manifest exists. Blobs are written first (in batches of at most 4 MiB, blob-batches.ts), then the
 * manifest and the id mark in one batch, so a crash never leaves a manifest without its blobs. It can leave blobs
 * without a manifest: nothing reads them, and the next write of that id (the id mark did not advance) clears them.
 *
 * An incremental checkpoint (manifest format 2) also names blobs under earlier ids: the links of its key groups'
 * chains that it shares. A blob is deleted only once no manifest of the job names it (checkpoint-store.ts), so it
 * can outlive the manifest of the checkpoint that wrote it.
 */

const ROOT = 'checkpoint!';

/** A blob to store with a checkpoint: keyed state of one key group, or operator state of one subtask. */
export interface BlobInput {
  operatorUid: string;
  keyGroup?: number;
  subtask?: number;
  bytes: Uint8Array;
  /** Keyed state only: the blob is a delta that extends the key group's chain (the refs before it), not a full blob. */
  delta?: true;
  /** Keyed state only: a full blob merged from the start of the key group's chain by the coordinator, not by the backend. */
  compacted?: true;
}

/** A blob an earlier checkpoint of the job wrote, which this one names too: a link of a key group's chain. */
export interface SharedBlobInput {
  shared: BlobRef;
}

/**
 * A blob written out already (to an export file, as it was streamed): its size and checksum stand for its bytes when
 * its manifest is built.
 */
export interface WrittenBlobInput extends Omit<BlobInput, 'bytes'> {
  readonly size: number;
  readonly crc32: number;
}

/** The blobs of a checkpoint being written, in manifest order (a key group's chain in chain order). */
export type CheckpointBlobs = ReadonlyArray<BlobInput | SharedBlobInput>;

/** Whether a blob of a checkpoint being written is shared with an earlier checkpoint. */
export function isShared(blob: BlobInput | SharedBlobInput): blob is SharedBlobInput {
  return 'shared' in blob;
}

/** A verified checkpoint: its manifest and its blobs, grouped for restoring operators. */
export interface LoadedCheckpoint {
  manifest: CheckpointManifest;
  /**
   * Keyed blobs of one operator by key group (empty map when the operator has none). `readOnce`: each key group's
   * chain can be read once and is let go of then (a second read throws) — for a restore, where each key group has
   * one owner. A checkpoint loaded from the store reads a key group's blobs from it when the key group is read: the
   * store must stay open until then.
   */
  keyedState(operatorUid: string, options?: { readOnce?: boolean }): ReadonlyMap<number, Uint8Array>;
  /** Operator-state blobs of one operator by old subtask index. */
  operatorState(operatorUid: string): Map<number, Uint8Array>;
}

/**
 * A checkpoint whose blobs passed their checksums, grouped for restoring operators. Its bytes come from `read` as they
 * are asked for, not held: the store verifies every blob when it loads a checkpoint, then the restore reads each key
 * group's chain when its subtask's backend reaches it (on a worker thread, main reads it when the worker asks).
 * @internal
 */
export class VerifiedCheckpoint implements LoadedCheckpoint {
  readonly manifest: CheckpointManifest;
  readonly #read: (ref: BlobRef) => Uint8Array;
  readonly #refs: Map<string, BlobRef>;

  /** `read`: a blob's bytes, checked against its ref again (a blob that changed since it was verified throws). */
  constructor(manifest: CheckpointManifest, read: (ref: BlobRef) => Uint8Array) {
    this.manifest = manifest;
    this.#read = read;
    this.#refs = new Map(manifest.blobs.map((ref) => [ref.key, ref]));
  }

  /** Keyed blobs by key group; a chain (full blob and deltas) comes as one byte string, read and concatenated when read. */
  keyedState(operatorUid: string, options: { readOnce?: boolean } = {}): ChainMap {
    const segments = new Map<number, ChainPart[]>();
    for (const chain of keyedChains(this.manifest.blobs.filter((ref) => ref.operatorUid === operatorUid)).values()) {
      segments.set(chain[0]!.keyGroup!, chain.map((ref) => () => this.#read(ref)));
    }
    return new ChainMap(segments, options.readOnce === true);
  }

  operatorState(operatorUid: string): Map<number, Uint8Array> {
    const out = new Map<number, Uint8Array>();
    for (const ref of this.manifest.blobs) {
      if (ref.operatorUid === operatorUid && ref.subtask !== undefined) out.set(ref.subtask, this.#read(ref));
    }
    return out;
  }

  /** The blob `key` of the checkpoint, read now. */
  blob(key: string): Uint8Array {
    const ref = this.#refs.get(key);
    if (ref === undefined) throw new SluiceError('SLUICE_INTERNAL', `checkpoint ${this.manifest.id} of job "${this.manifest.job}" has no blob ${key}`, { retriable: false });
    return this.#read(ref);
  }
}

/**
 * The store key of a blob checkpoint `input` writes itself (keyed state by key group, operator state by subtask),
 * checked: a writer that streams blobs into the store before its manifest exists puts each under this key, and
 * {@link buildManifest} names the same. @internal
 */
export function ownBlobKey(input: Pick<ManifestHeader, 'job' | 'id' | 'maxParallelism'>, blob: Omit<BlobInput, 'bytes'>): string {
  checkString(blob.operatorUid, 'blobs[].operatorUid');
  if (blob.keyGroup !== undefined && blob.subtask === undefined) {
    checkInt(blob.keyGroup, 'blobs[].keyGroup', 0);
    if (blob.keyGroup >= input.maxParallelism) {
      throw new SluiceError(
        CheckpointErrorCodes.invalid,
        `blob of operator "${blob.operatorUid}" has key group ${blob.keyGroup}, beyond maxParallelism ${input.maxParallelism}`,
      );
    }
    return `${blobPrefix(input.job, input.id)}${escapePart(blob.operatorUid)}!kg!${pad(blob.keyGroup, 5)}${blob.compacted === true ? '!compacted' : ''}`;
  }
  if (blob.subtask !== undefined && blob.keyGroup === undefined) {
    checkInt(blob.subtask, 'blobs[].subtask', 0);
    return `${blobPrefix(input.job, input.id)}${escapePart(blob.operatorUid)}!op!${pad(blob.subtask, 5)}`;
  }
  throw new SluiceError(
    CheckpointErrorCodes.invalid,
    `blob of operator "${blob.operatorUid}" must have exactly one of keyGroup (keyed state) and subtask (operator state)`,
  );
}

/**
 * The manifest of a checkpoint with these blobs: format 1 when every blob is its own and full, else format 2 (with
 * `writtenBytes`). Shared blobs must be blobs of the same job under an earlier id.
 */
export function buildManifest(input: ManifestHeader, blobs: CheckpointBlobs | readonly WrittenBlobInput[]): CheckpointManifest {
  checkString(input.job, 'job');
  checkId(input.id);
  checkKind(input.kind);
  const refs: BlobRef[] = [];
  const seen = new Set<string>();
  let totalBytes = 0;
  let writtenBytes = 0;
  let incremental = false;
  for (const blob of blobs) {
    if ('shared' in blob) {
      const ref = blob.shared;
      if (!ref.key.startsWith(jobBlobsPrefix(input.job)) || ref.key.startsWith(blobPrefix(input.job, input.id))) {
        throw new SluiceError(CheckpointErrorCodes.invalid, `checkpoint ${input.id} of job "${input.job}" cannot share blob ${ref.key}: it is not a blob of an earlier checkpoint of the job`);
      }
      if (seen.has(ref.key)) throw new SluiceError(CheckpointErrorCodes.invalid, `checkpoint ${input.id} of job "${input.job}" has two blobs for ${ref.key}`);
      seen.add(ref.key);
      refs.push({ ...ref });
      totalBytes += ref.size;
      incremental = true;
      continue;
    }
    const key = ownBlobKey(input, blob);
    const { size, crc32: checksum } = blobDigest(blob);
    if (seen.has(key)) {
      throw new SluiceError(CheckpointErrorCodes.invalid, `checkpoint ${input.id} of job "${input.job}" has two blobs for ${key}`);
    }
    seen.add(key);
    const ref: BlobRef = { key, operatorUid: blob.operatorUid, size, crc32: checksum };
    if (blob.keyGroup !== undefined) ref.keyGroup = blob.keyGroup;
    if (blob.subtask !== undefined) ref.subtask = blob.subtask;
    if (blob.delta === true) {
      if (blob.keyGroup === undefined) throw new SluiceError(CheckpointErrorCodes.invalid, `blob of operator "${blob.operatorUid}" is a delta but not keyed state`);
      ref.delta = true;
      incremental = true;
    }
    refs.push(ref);
    totalBytes += size;
    writtenBytes += size;
  }
  const manifest: CheckpointManifest = {
    formatVersion: incremental ? INCREMENTAL_MANIFEST_FORMAT_VERSION : MANIFEST_FORMAT_VERSION,
    job: input.job,
    id: input.id,
    kind: input.kind,
    timestamp: input.timestamp,
    durationMs: input.durationMs,
    parallelism: input.parallelism,
    maxParallelism: input.maxParallelism,
    operators: input.operators,
    sourcePositions: input.sourcePositions,
    blobs: refs,
    totalBytes,
  };
  if (incremental) manifest.writtenBytes = writtenBytes;
  return validateManifest(manifest);
}

export function blobInput(ref: BlobRef, bytes: Uint8Array): BlobInput {
  const input: BlobInput = { operatorUid: ref.operatorUid, bytes };
  if (ref.keyGroup !== undefined) input.keyGroup = ref.keyGroup;
  if (ref.subtask !== undefined) input.subtask = ref.subtask;
  if (ref.delta === true) input.delta = true;
  return input;
}

/** `ref` as a blob whose bytes are stored as they are read (a streamed import): its size and crc32 stand for them. */
export function writtenBlobInput(ref: BlobRef): WrittenBlobInput {
  const { bytes: _bytes, ...input } = blobInput(ref, new Uint8Array(0));
  return { ...input, size: ref.size, crc32: ref.crc32 };
}

/** A blob's size and crc32: from its bytes, or as given for a blob written out already. */
function blobDigest(blob: BlobInput | WrittenBlobInput): { size: number; crc32: number } {
  if ('bytes' in blob && blob.bytes instanceof Uint8Array) return { size: blob.bytes.length, crc32: crc32(blob.bytes) };
  if (!('bytes' in blob) && Number.isInteger(blob.size) && Number.isInteger(blob.crc32)) return { size: blob.size, crc32: blob.crc32 };
  throw new SluiceError(CheckpointErrorCodes.invalid, `blob of operator "${blob.operatorUid}" has no bytes (Uint8Array)`);
}

/** Why a blob does not match its ref (`undefined` bytes: it is missing), or undefined when it does. */
export function checkBlob(ref: BlobRef, bytes: Uint8Array | undefined): string | undefined {
  if (bytes === undefined) return 'is missing';
  if (bytes.length !== ref.size) return `has ${bytes.length} bytes, expected ${ref.size}`;
  if (crc32(bytes) !== ref.crc32) return 'failed its checksum';
  return undefined;
}

function escapePart(part: string): string {
  return part.replace(/%/g, '%25').replace(/!/g, '%21');
}

function pad(n: number, digits: number): string {
  return String(n).padStart(digits, '0');
}

export function manifestPrefix(job: string): string {
  return `${ROOT}manifest!${escapePart(job)}!`;
}

export function manifestKey(job: string, id: number): string {
  return manifestPrefix(job) + pad(id, ID_DIGITS);
}

/** Prefix of every blob of every checkpoint of `job`. */
export function jobBlobsPrefix(job: string): string {
  return `${ROOT}blob!${escapePart(job)}!`;
}

export function blobPrefix(job: string, id: number): string {
  return `${ROOT}blob!${escapePart(job)}!${pad(id, ID_DIGITS)}!`;
}

export function lastIdKey(job: string): string {
  return `${ROOT}last-id!${escapePart(job)}`;
}

/** Exclusive upper bound of the keys starting with `prefix` (which ends in '!'): '"' is the byte after '!'. */
export function prefixEnd(prefix: string): string {
  return `${prefix.slice(0, -1)}"`;
}

/** How messages name a checkpoint. */
export function describeCheckpoint(job: string, id: number): string {
  return `checkpoint ${id} of job "${job}"`;
}

/** `SLUICE_CHECKPOINT_NOT_FOUND`, with how to list the job's checkpoints. */
export function checkpointNotFound(job: string, id: number): SluiceError {
  return new SluiceError(
    CheckpointErrorCodes.notFound,
    `checkpoint ${id} of job "${job}" does not exist; list the job's checkpoints with sluice checkpoints ${job} (with --data-dir <dir> for the data directory of sluice run)`,
  );
}

/** One line of `sluice checkpoints`. A corrupt manifest shows zeros for what could not be read. */
export interface CheckpointInfo {
  job: string;
  id: number;
  kind: CheckpointKind;
  timestamp: number;
  durationMs: number;
  /** Bytes a restore reads (for an incremental checkpoint, its whole chains). */
  totalBytes: number;
  /** Bytes the checkpoint wrote itself; less than `totalBytes` when it shares blobs with earlier ones. */
  writtenBytes: number;
  /** Whether it is incremental (shares blobs with earlier checkpoints, or holds deltas). */
  incremental: boolean;
  status: 'valid' | 'corrupt' | 'incomplete';
}
