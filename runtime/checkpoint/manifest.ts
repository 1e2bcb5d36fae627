import { crc32 } from 'node:zlib';
import { Packr } from '../serde/msgpackr.ts';
import { SluiceError } from '../errors/index.ts';

/** A regular (retained, periodically replaced) checkpoint, or a savepoint the user asked for and keeps. */
export type CheckpointKind = 'checkpoint' | 'savepoint';

/** One operator of the plan the checkpoint was taken from. */
export interface OperatorSummary {
  uid: string;
  name: string;
  parallelism: number;
  stateful: boolean;
}

/**
 * One stored blob: keyed state of one key group (`keyGroup`) or operator state of one subtask (`subtask`) of the
 * operator `operatorUid`. `key` is its LevelDB key; `size` and `crc32` (node:zlib crc32 of the bytes) are checked
 * on every load. In an incremental checkpoint (format 2) a key group may have several refs, in chain order: a full
 * blob, then deltas (`delta: true`); refs may name blobs written by earlier checkpoints, which then share them.
 */
export interface BlobRef {
  key: string;
  operatorUid: string;
  keyGroup?: number;
  subtask?: number;
  size: number;
  crc32: number;
  delta?: true;
}

/**
 * Everything needed to restore a job: written last, in a batch after all of its blobs (store-layout.ts).
 *
 * @example
 * ```ts
 * const m = await store.write({ job: 'orders', id, kind: 'checkpoint', timestamp: clock.now(), durationMs: 120,
 *   parallelism: 2, maxParallelism: 128, operators, sourcePositions: { 'source-1': [{ split: 'orders-0', position: 42 }] } },
 *   blobs);
 * ```
 */
export interface CheckpointManifest {
  /** 1: every blob is the checkpoint's own and full; 2: blobs may be shared with earlier checkpoints, or deltas. */
  formatVersion: 1 | 2;
  job: string;
  id: number;
  kind: CheckpointKind;
  timestamp: number;
  durationMs: number;
  parallelism: number;
  maxParallelism: number;
  operators: OperatorSummary[];
  /** Per source uid, the position of each split (Kafka: next offset). Plain data: it is stored as msgpack. */
  sourcePositions: Record<string, Array<{ split: string; position: unknown }>>;
  blobs: BlobRef[];
  /** Bytes of every blob it references: what a restore reads. */
  totalBytes: number;
  /** Format 2: bytes of the blobs this checkpoint wrote itself (in format 1, all of them: see {@link writtenBytesOf}). */
  writtenBytes?: number;
}

/** What a checkpoint writer provides; the store adds the blob refs, sizes and format version. */
export type ManifestHeader = Omit<CheckpointManifest, 'blobs' | 'totalBytes' | 'formatVersion' | 'writtenBytes'>;

/** Bytes the checkpoint wrote itself (the rest it shares with earlier ones). */
export function writtenBytesOf(manifest: CheckpointManifest): number {
  return manifest.writtenBytes ?? manifest.totalBytes;
}

/** Whether the checkpoint shares blobs with earlier ones or holds deltas: restoring it reads their chains. */
export function isIncremental(manifest: CheckpointManifest): boolean {
  return manifest.formatVersion === 2;
}

/** Error codes of the checkpoint store. */
export const CheckpointErrorCodes = {
  notFound: 'SLUICE_CHECKPOINT_NOT_FOUND',
  corrupt: 'SLUICE_CHECKPOINT_CORRUPT',
  noneValid: 'SLUICE_CHECKPOINT_NONE_VALID',
  exists: 'SLUICE_CHECKPOINT_EXISTS',
  invalid: 'SLUICE_CHECKPOINT_INVALID',
  storeLocked: 'SLUICE_CHECKPOINT_STORE_LOCKED',
  storeUnreadable: 'SLUICE_CHECKPOINT_STORE_UNREADABLE',
  storeMissing: 'SLUICE_CHECKPOINT_STORE_MISSING',
  storeDamaged: 'SLUICE_CHECKPOINT_STORE_DAMAGED',
  storeClosed: 'SLUICE_CHECKPOINT_STORE_CLOSED',
  writeFailed: 'SLUICE_CHECKPOINT_WRITE_FAILED',
} as const;

/** Manifest format of a checkpoint whose blobs are all its own and full; it reads with every version of Sluice. */
export const MANIFEST_FORMAT_VERSION = 1;
/** Manifest format of an incremental checkpoint (shared blobs, deltas). */
export const INCREMENTAL_MANIFEST_FORMAT_VERSION = 2;

/** Ids are zero-padded to this many digits in keys, so lexicographic key order is numeric id order. */
export const ID_DIGITS = 12;
export const MAX_CHECKPOINT_ID = 10 ** ID_DIGITS - 1;

// Manifests are plain data: msgpack maps decode as plain objects (records off, so other tools can read them).
const manifestPackr = new Packr({ useRecords: false, moreTypes: true });

/**
 * Manifest value format: `crc32 (4 bytes, big-endian) ‖ msgpack(manifest)`; the crc covers the msgpack bytes, so a
 * damaged manifest is detected like a damaged blob.
 * @internal
 */
export function encodeManifest(manifest: CheckpointManifest): Uint8Array {
  const body = manifestPackr.pack(manifest);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, crc32(body));
  out.set(body, 4);
  return out;
}

/** Decodes and validates a manifest value; throws `SLUICE_CHECKPOINT_CORRUPT` saying what is wrong. @internal */
export function decodeManifest(value: Uint8Array, where: string): CheckpointManifest {
  if (value.length < 5) throw corruptManifest(where, 'it is truncated');
  const body = value.subarray(4);
  const expected = new DataView(value.buffer, value.byteOffset, 4).getUint32(0);
  if (crc32(body) !== expected) throw corruptManifest(where, 'it failed its checksum');
  let decoded: unknown;
  try {
    decoded = manifestPackr.unpack(body);
  } catch (err) {
    throw corruptManifest(where, 'it cannot be decoded', err);
  }
  try {
    return validateManifest(decoded);
  } catch (err) {
    throw corruptManifest(where, (err as Error).message, err);
  }
}

/** Checks the shape of a manifest (from storage or an export file); throws `SLUICE_CHECKPOINT_INVALID`. */
export function validateManifest(value: unknown): CheckpointManifest {
  const m = asRecord(value, 'manifest');
  const version = m['formatVersion'];
  if (version !== MANIFEST_FORMAT_VERSION && version !== INCREMENTAL_MANIFEST_FORMAT_VERSION) {
    throw invalid(`manifest formatVersion ${String(version)} is not supported; this version reads 1 and 2`);
  }
  checkString(m['job'], 'job');
  checkId(m['id']);
  checkKind(m['kind']);
  checkNumber(m['timestamp'], 'timestamp');
  checkNumber(m['durationMs'], 'durationMs');
  checkInt(m['parallelism'], 'parallelism', 1);
  checkInt(m['maxParallelism'], 'maxParallelism', 1);
  if (!Array.isArray(m['operators'])) throw invalid('manifest field operators must be an array');
  for (const op of m['operators'] as unknown[]) {
    const o = asRecord(op, 'operators[]');
    checkString(o['uid'], 'operators[].uid');
    if (typeof o['name'] !== 'string') throw invalid('manifest field operators[].name must be a string');
    checkInt(o['parallelism'], 'operators[].parallelism', 1);
    if (typeof o['stateful'] !== 'boolean') throw invalid('manifest field operators[].stateful must be a boolean');
  }
  const positions = asRecord(m['sourcePositions'], 'sourcePositions');
  for (const [uid, splits] of Object.entries(positions)) {
    if (!Array.isArray(splits)) throw invalid(`manifest sourcePositions["${uid}"] must be an array`);
    for (const s of splits as unknown[]) checkString(asRecord(s, 'sourcePositions[][]')['split'], 'sourcePositions[][].split');
  }
  if (!Array.isArray(m['blobs'])) throw invalid('manifest field blobs must be an array');
  for (const b of m['blobs'] as unknown[]) {
    const r = asRecord(b, 'blobs[]');
    checkString(r['key'], 'blobs[].key');
    checkString(r['operatorUid'], 'blobs[].operatorUid');
    if ((r['keyGroup'] === undefined) === (r['subtask'] === undefined)) {
      throw invalid('manifest blobs[] must have exactly one of keyGroup and subtask');
    }
    if (r['keyGroup'] !== undefined) checkInt(r['keyGroup'], 'blobs[].keyGroup', 0);
    if (r['subtask'] !== undefined) checkInt(r['subtask'], 'blobs[].subtask', 0);
    checkInt(r['size'], 'blobs[].size', 0);
    checkInt(r['crc32'], 'blobs[].crc32', 0);
    if (r['delta'] !== undefined && (r['delta'] !== true || r['keyGroup'] === undefined || version !== INCREMENTAL_MANIFEST_FORMAT_VERSION)) {
      throw invalid('manifest blobs[].delta must be true, on keyed state, in a format 2 manifest');
    }
  }
  checkChains(m['blobs'] as BlobRef[], version === INCREMENTAL_MANIFEST_FORMAT_VERSION);
  checkInt(m['totalBytes'], 'totalBytes', 0);
  if (m['writtenBytes'] !== undefined) checkInt(m['writtenBytes'], 'writtenBytes', 0);
  return m as unknown as CheckpointManifest;
}

/** Names one keyed chain: an operator's key group. @internal */
export function chainId(operatorUid: string, keyGroup: number): string {
  return `${operatorUid}\u0000${keyGroup}`;
}

/**
 * The keyed blobs (refs or inputs) of a checkpoint grouped into chains, by {@link chainId}, each in manifest order
 * (a full blob, then its deltas). Operator-state blobs are left out. @internal
 */
export function keyedChains<T extends { readonly operatorUid: string; readonly keyGroup?: number | undefined }>(blobs: readonly T[]): Map<string, T[]> {
  const chains = new Map<string, T[]>();
  for (const blob of blobs) {
    if (blob.keyGroup === undefined) continue;
    const id = chainId(blob.operatorUid, blob.keyGroup);
    const chain = chains.get(id);
    if (chain === undefined) chains.set(id, [blob]);
    else chain.push(blob);
  }
  return chains;
}

/**
 * Each blob key once; per operator and key group one full blob (format 1), or in format 2 a chain: one full blob
 * first, then deltas only.
 */
function checkChains(refs: readonly BlobRef[], chains: boolean): void {
  const keys = new Set<string>();
  const seen = new Set<string>();
  for (const ref of refs) {
    if (keys.has(ref.key)) throw invalid(`manifest names blob ${ref.key} twice`);
    keys.add(ref.key);
    if (ref.keyGroup === undefined) continue;
    const group = chainId(ref.operatorUid, ref.keyGroup);
    const first = !seen.has(group);
    seen.add(group);
    if (first && ref.delta === true) throw invalid(`manifest chain of key group ${ref.keyGroup} of "${ref.operatorUid}" starts with a delta`);
    if (!first && (!chains || ref.delta !== true)) throw invalid(`manifest has two full blobs for key group ${ref.keyGroup} of "${ref.operatorUid}"`);
  }
}

/** Throws `SLUICE_CHECKPOINT_INVALID` unless `id` is an integer in 1..999,999,999,999. @internal */
export function checkId(id: unknown): asserts id is number {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > MAX_CHECKPOINT_ID) {
    throw invalid(`checkpoint id ${String(id)} is invalid; ids are integers from 1 to ${MAX_CHECKPOINT_ID}`);
  }
}

/** @internal */
export function checkKind(kind: unknown): asserts kind is CheckpointKind {
  if (kind !== 'checkpoint' && kind !== 'savepoint') {
    throw invalid(`checkpoint kind ${JSON.stringify(kind)} is invalid; use 'checkpoint' or 'savepoint'`);
  }
}

/** @internal */
export function checkString(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`manifest field ${field} must be a non-empty string`);
}

/** @internal */
export function checkInt(value: unknown, field: string, min: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw invalid(`manifest field ${field} must be an integer >= ${min}; got ${String(value)}`);
  }
}

function checkNumber(value: unknown, field: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`manifest field ${field} must be a finite number`);
}

function asRecord(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`manifest field ${field} must be an object`);
  }
  return value as Record<string, unknown>;
}

function invalid(message: string): SluiceError {
  return new SluiceError(CheckpointErrorCodes.invalid, message);
}

function corruptManifest(where: string, what: string, cause?: unknown): SluiceError {
  return new SluiceError(
    CheckpointErrorCodes.corrupt,
    `manifest of ${where} is corrupt: ${what}; restore from another checkpoint (sluice checkpoints) or delete this one`,
    cause === undefined ? {} : { cause },
  );
}
