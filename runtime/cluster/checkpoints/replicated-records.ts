/*
 * Records of the cluster's checkpoints topic (`sluice.<cluster>.checkpoints`, compacted). Every record of one job
 * goes to one partition (crc32 of the job name), so a reader sees them in the order they were written:
 *
 *   claim!<job>                                  a member took the job: { epoch, member, basedOn, at }
 *   chunk!<epoch>!<store blob key>!<n>           bytes n·512 KiB … of one blob of the checkpoint store, as published
 *                                                by the owner of that epoch
 *   manifest!<job>!<epoch>!<id>                  { epoch, member, manifest (the store's encoded manifest, crc32 ‖
 *                                                msgpack), locations: where each blob it names was published,
 *                                                override: the start override the run that took it was under }
 *   import!<job>!<serial>                        a checkpoint export waiting for the job's owner to restore it
 *                                                (`sluice checkpoint restore`, `submit --from`): { member, at,
 *                                                location } — its bytes are chunks of blob <job blobs>import-<serial>
 *                                                under epoch 0
 *
 * A checkpoint is in the topic once its manifest record is: chunks are written (and acknowledged by all in-sync
 * replicas) first. Retention writes tombstones (null values). <epoch> is the owner epoch of the member that wrote the
 * record (zero-padded to 10 digits, <id> to 12, <n> to 5); it keeps a stale owner's records from overwriting the
 * current owner's, which write checkpoints under the same ids. <job> is URI-encoded; store blob keys already start
 * with their job.
 */
import { open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { Packr } from '../../serde/msgpackr.ts';
import { decodeManifest, encodeManifest, type CheckpointManifest } from '../../checkpoint/manifest.ts';
import { SluiceError } from '../../errors/index.ts';

/** The largest chunk of a blob in one record; well under Kafka's default 1 MiB `max.message.bytes`. */
export const CHUNK_BYTES = 512 * 1024;

const packr = new Packr({ useRecords: false, moreTypes: true });

/** Where one blob of a replicated checkpoint lies: under which epoch it was published, and its chunks' checksums. */
export interface BlobLocation {
  readonly key: string;
  readonly epoch: number;
  readonly chunkCrcs: readonly number[];
}

/** A checkpoint as the topic holds it. */
export interface ManifestRecord {
  readonly epoch: number;
  readonly member: string;
  readonly manifest: CheckpointManifest;
  readonly locations: readonly BlobLocation[];
  /** The serial of the start override (cluster-job-spec.ts) in force for the run that took it; 0: none. */
  readonly override: number;
}

/** A checkpoint export published for the job's owner to import (start override `import`). */
export interface ImportRecord {
  readonly member: string;
  readonly at: number;
  /** Where the export's bytes lie, as one blob (`size` and `crc` over the whole). */
  readonly location: BlobLocation;
  readonly size: number;
  readonly crc: number;
}

/** A member took a job at `epoch`, restoring `basedOn` (or nothing). Older epochs' later checkpoints are stale. */
export interface ClaimRecord {
  readonly epoch: number;
  readonly member: string;
  readonly basedOn: { readonly epoch: number; readonly id: number } | null;
  readonly at: number;
}

export type ParsedKey =
  | { readonly kind: 'claim'; readonly job: string }
  | { readonly kind: 'manifest'; readonly job: string; readonly epoch: number; readonly id: number }
  | { readonly kind: 'chunk'; readonly epoch: number; readonly blobKey: string; readonly index: number }
  | { readonly kind: 'import'; readonly job: string; readonly serial: number };

const pad = (n: number, digits: number): string => String(n).padStart(digits, '0');
const escapeJob = (job: string): string => encodeURIComponent(job).replace(/!/g, '%21');

export const claimKey = (job: string): string => `claim!${escapeJob(job)}`;
export const manifestRecordKey = (job: string, epoch: number, id: number): string => `manifest!${escapeJob(job)}!${pad(epoch, 10)}!${pad(id, 12)}`;
export const importKey = (job: string, serial: number): string => `import!${escapeJob(job)}!${pad(serial, 10)}`;
/** The store-like key under which an import's bytes are chunked (it starts with the job's blob prefix, as chunks must). */
export const importBlobKey = (jobBlobs: string, serial: number): string => `${jobBlobs}import-${pad(serial, 10)}`;
export const chunkKey = (epoch: number, blobKey: string, index: number): string => `chunk!${pad(epoch, 10)}!${blobKey}!${pad(index, 5)}`;

/** The partition of the checkpoints topic that holds every record of `job`. */
export function partitionOf(job: string, partitions: number): number {
  return crc32(job) % partitions;
}

/** What a record key names; `undefined` for keys this version does not know (left alone). */
export function parseKey(key: string): ParsedKey | undefined {
  const [kind, ...rest] = key.split('!');
  if (kind === 'claim' && rest.length === 1) return { kind, job: decodeURIComponent(rest[0]!) };
  if (kind === 'manifest' && rest.length === 3) return { kind, job: decodeURIComponent(rest[0]!), epoch: Number(rest[1]), id: Number(rest[2]) };
  if (kind === 'import' && rest.length === 2) return { kind, job: decodeURIComponent(rest[0]!), serial: Number(rest[1]) };
  if (kind === 'chunk' && rest.length >= 3) return { kind, epoch: Number(rest[0]), blobKey: rest.slice(1, -1).join('!'), index: Number(rest[rest.length - 1]) };
  return undefined;
}

export function encodeManifestRecord(record: ManifestRecord): Buffer {
  return packr.pack({ v: 1, epoch: record.epoch, member: record.member, manifest: encodeManifest(record.manifest), locations: record.locations, override: record.override });
}

/** Decodes (and checks, crc32 included) a manifest record; throws `SLUICE_CLUSTER_RECORD_CORRUPT`. */
export function decodeManifestRecord(value: Uint8Array, where: string): ManifestRecord {
  try {
    const raw = packr.unpack(value) as { v: number; epoch: number; member: string; manifest: Uint8Array; locations: BlobLocation[]; override?: number };
    if (raw.v !== 1 || !Number.isInteger(raw.epoch) || typeof raw.member !== 'string' || !Array.isArray(raw.locations)) throw new Error('unknown layout');
    // Records written before start overrides existed have none.
    return { epoch: raw.epoch, member: raw.member, manifest: decodeManifest(raw.manifest, where), locations: raw.locations, override: Number.isInteger(raw.override) ? raw.override! : 0 };
  } catch (err) {
    throw new SluiceError('SLUICE_CLUSTER_RECORD_CORRUPT', `${where} in the checkpoints topic cannot be read (${(err as Error).message}); an earlier checkpoint is used`, { cause: err });
  }
}

export function encodeImport(record: ImportRecord): Buffer {
  return packr.pack({ v: 1, ...record });
}

export function decodeImport(value: Uint8Array): ImportRecord | undefined {
  try {
    const raw = packr.unpack(value) as ImportRecord & { v: number };
    return raw.v === 1 && Number.isInteger(raw.size) && typeof raw.location === 'object' && raw.location !== null ? { member: raw.member, at: raw.at, location: raw.location, size: raw.size, crc: raw.crc } : undefined;
  } catch {
    return undefined;
  }
}

export function encodeClaim(claim: ClaimRecord): Buffer {
  return packr.pack({ v: 1, ...claim });
}

export function decodeClaim(value: Uint8Array): ClaimRecord | undefined {
  try {
    const raw = packr.unpack(value) as ClaimRecord & { v: number };
    return raw.v === 1 && Number.isInteger(raw.epoch) ? { epoch: raw.epoch, member: raw.member, basedOn: raw.basedOn ?? null, at: raw.at } : undefined;
  } catch {
    return undefined;
  }
}

/** A blob's bytes cut into chunks of at most {@link CHUNK_BYTES}, each with its crc32 (an empty blob has one empty chunk). */
export function chunksOf(bytes: Uint8Array): Array<{ bytes: Uint8Array; crc: number }> {
  const out: Array<{ bytes: Uint8Array; crc: number }> = [];
  for (let start = 0; start === 0 || start < bytes.length; start += CHUNK_BYTES) {
    const chunk = bytes.subarray(start, Math.min(bytes.length, start + CHUNK_BYTES));
    out.push({ bytes: chunk, crc: crc32(chunk) });
  }
  return out;
}

/**
 * A file's bytes in the chunks {@link chunksOf} would cut them into, with their crc32 (an empty file is one empty
 * chunk), read one chunk at a time, each into a new buffer (a chunk may still be in flight while the next is read).
 */
export async function* chunksOfFile(file: string): AsyncGenerator<{ bytes: Uint8Array; crc: number }> {
  const handle = await open(file, 'r');
  try {
    for (let first = true; ; first = false) {
      const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
      let filled = 0;
      while (filled < CHUNK_BYTES) {
        const { bytesRead } = await handle.read(buffer, filled, CHUNK_BYTES - filled, null);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      if (filled > 0 || first) {
        const bytes = buffer.subarray(0, filled);
        yield { bytes, crc: crc32(bytes) };
      }
      if (filled < CHUNK_BYTES) return;
    }
  } finally {
    await handle.close();
  }
}

export { crc32 };
