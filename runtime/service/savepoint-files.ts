/**
 * Checkpoints as files and documents for the service: one checkpoint's export streamed out (`sluice checkpoint
 * backup`) or as a JSON-safe document, an export streamed in, a backup document or an export file imported as a
 * savepoint (`sluice checkpoint restore`, `sluice submit --from <file>`), and the check of a `--from` before anything
 * stops. The store speaks files;
 * the temporary ones live under the data directory's `tmp/` and are always removed.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:buffer';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CheckpointInfo, CheckpointManifest, CheckpointStore } from '../checkpoint/index.ts';
import { SluiceError } from '../errors/index.ts';
import type { Download } from './rest-api.ts';
import { ServiceErrorCodes, badRequest } from './service-errors.ts';
import type { BackupDocument, SavepointInfo } from './supervisor-api.ts';

/** Where a start restores from, as `--from` said and checked: the latest checkpoint, one by id, or a file. */
export type CheckedFrom = { kind: 'latest' } | { kind: 'id'; id: number } | { kind: 'file'; path: string };

export interface SavepointFilesOptions {
  readonly store: CheckpointStore;
  readonly dataDir: string;
  readonly now: () => number;
}

/** The service's conversions between the checkpoint store and files or backup documents. */
export class SavepointFiles {
  readonly #options: SavepointFilesOptions;

  constructor(options: SavepointFilesOptions) {
    this.#options = options;
  }

  /**
   * Checkpoint `id` of job `name` (default: the newest valid one in `list`, the job's checkpoints newest first) as a
   * backup document: the store's export, base64.
   */
  async backup(name: string, list: readonly CheckpointInfo[], id: number | undefined): Promise<BackupDocument> {
    const chosen = chooseCheckpoint(name, list, id);
    const file = await this.#tempFile('backup');
    try {
      await this.#options.store.exportTo(name, chosen.id, file);
      const info = { job: name, checkpoint: chosen.id, kind: chosen.kind, timestamp: chosen.timestamp, totalBytes: chosen.totalBytes };
      return backupDocument(info, await readFile(file), `back up the service's data directory (${this.#options.dataDir}) instead, copied while the service is stopped`);
    } finally {
      await rm(file, { force: true });
    }
  }

  /**
   * Checkpoint `id` of job `name` (default: the newest valid one in `list`) as its export file, streamed from a
   * temporary file that {@link Download.release} removes: no size limit, and never in memory whole.
   */
  async exportDownload(name: string, list: readonly CheckpointInfo[], id: number | undefined): Promise<{ info: ExportInfo; download: Download }> {
    const chosen = chooseCheckpoint(name, list, id);
    const file = await this.#tempFile('export');
    try {
      await this.#options.store.exportTo(name, chosen.id, file);
      const { size } = await stat(file);
      const info = { job: name, checkpoint: chosen.id, kind: chosen.kind, timestamp: chosen.timestamp, totalBytes: chosen.totalBytes };
      return { info, download: { size, open: () => createReadStream(file), release: () => rm(file, { force: true }) } };
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
  }

  /**
   * Writes a checkpoint export streamed in (an upload) to a temporary file, so that its size is bounded by the disk,
   * not by memory; `release` removes the file. The import reads it from there.
   */
  async receiveUpload(upload: Readable): Promise<{ path: string; release: () => Promise<void> }> {
    const path = await this.#tempFile('import');
    const release = () => rm(path, { force: true });
    try {
      await pipeline(upload, createWriteStream(path));
    } catch (err) {
      await release();
      throw badRequest(`the upload of the checkpoint export broke off (${(err as Error).message}); send it again`);
    }
    return { path, release };
  }

  /** Imports export bytes (see {@link backupBytes}) as a new savepoint of job `name`. */
  async importBytes(name: string, bytes: Buffer, purpose = 'restore'): Promise<CheckpointManifest> {
    const file = await this.#tempFile(purpose);
    try {
      await writeFile(file, bytes);
      return await this.#options.store.importFrom(file, { job: name });
    } finally {
      await rm(file, { force: true });
    }
  }

  /** Imports a savepoint file: a checkpoint export (msgpack) or a `sluice checkpoint backup` JSON document. */
  async importFile(name: string, path: string): Promise<CheckpointManifest> {
    if ((await firstByte(path)) !== 0x7b /* '{' */) return this.#options.store.importFrom(path, { job: name }); // streamed
    let document: unknown;
    try {
      document = JSON.parse(await readFile(path, 'utf8'));
    } catch {
      throw badRequest(`savepoint file ${path} starts like JSON but is not: give a checkpoint export or a file written by \`sluice checkpoint backup\``);
    }
    return this.importBytes(name, backupBytes(document), 'from');
  }

  /** Checks `--from` before anything stops: a checkpoint id must exist, a savepoint file must be readable. */
  async checkFrom(name: string, from: string | undefined): Promise<CheckedFrom> {
    if (from === undefined || from === 'latest') return { kind: 'latest' };
    if (/^\d+$/.test(from)) {
      const id = Number(from);
      if (!(await this.#options.store.ids(name)).includes(id)) {
        throw new SluiceError(ServiceErrorCodes.restorePointNotFound, `job "${name}" has no checkpoint or savepoint ${id} to restore from; list them with \`sluice checkpoints ${name}\``);
      }
      return { kind: 'id', id };
    }
    const path = resolve(from);
    try {
      await access(path);
    } catch {
      throw new SluiceError(ServiceErrorCodes.savepointFileNotFound, `savepoint file ${path} does not exist on the service's filesystem; give the path of a file written by \`sluice checkpoint backup\` or a checkpoint export, or --from latest|<checkpoint id>`);
    }
    return { kind: 'file', path };
  }

  async #tempFile(purpose: string): Promise<string> {
    const dir = join(this.#options.dataDir, 'tmp');
    await mkdir(dir, { recursive: true });
    return join(dir, `${purpose}-${process.pid}-${this.#options.now()}-${Math.random().toString(36).slice(2)}.bin`);
  }
}

/** The first byte of a file (`undefined` when it is empty): a backup document starts with `{`, an export does not. */
async function firstByte(path: string): Promise<number | undefined> {
  const file = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await file.read({ buffer: Buffer.alloc(1), position: 0 });
    return bytesRead === 0 ? undefined : buffer[0];
  } finally {
    await file.close();
  }
}

/** What a checkpoint export is of, as a backup document and the export download's headers say. */
export type ExportInfo = Omit<BackupDocument, 'format' | 'version' | 'data'>;

/** Checkpoint `id` in `list` (a job's checkpoints, newest first), or its newest valid one. */
function chooseCheckpoint(name: string, list: readonly CheckpointInfo[], id: number | undefined): CheckpointInfo {
  const chosen = id === undefined ? list.find((c) => c.status === 'valid') : list.find((c) => c.id === id);
  if (chosen === undefined) {
    throw new SluiceError(
      'SLUICE_CHECKPOINT_NOT_FOUND',
      id === undefined
        ? `job "${name}" has no valid checkpoint to back up; take one with \`sluice savepoint ${name}\``
        : `job "${name}" has no checkpoint ${id}; list them with \`sluice checkpoints ${name}\``,
    );
  }
  return chosen;
}

/**
 * The headers of an export download (`GET …/checkpoints/export`): what it is of, as a backup document says in JSON.
 * The body is the export itself (docs/checkpoints.md, "Export files").
 */
export function exportHeaders(info: ExportInfo): Record<string, string> {
  return {
    'x-sluice-job': encodeURIComponent(info.job),
    'x-sluice-checkpoint': String(info.checkpoint),
    'x-sluice-checkpoint-kind': info.kind,
    'x-sluice-checkpoint-timestamp': String(info.timestamp),
    'x-sluice-checkpoint-total-bytes': String(info.totalBytes),
    'content-disposition': `attachment; filename="${encodeURIComponent(info.job)}-${info.checkpoint}.sluice-export"`,
  };
}

/** The media type of export downloads and uploads. */
export const EXPORT_CONTENT_TYPE = 'application/octet-stream';

/**
 * The most export bytes a backup document carries: its base64 is one JSON string, and the answer that holds it is one
 * string too, which V8 caps at `MAX_STRING_LENGTH` characters (~512 Mi): about 384 MiB of export.
 */
export const MAX_BACKUP_EXPORT_BYTES = Math.floor((constants.MAX_STRING_LENGTH - 64 * 1024) / 4) * 3;

/**
 * A backup document of a checkpoint's export, or `SLUICE_BACKUP_TOO_LARGE` (with `otherWay`, how to back it up
 * instead) when the export is more than a document can carry.
 */
export function backupDocument(info: ExportInfo, exportBytes: Buffer, otherWay: string): BackupDocument {
  if (exportBytes.length > MAX_BACKUP_EXPORT_BYTES) {
    const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
    throw new SluiceError(
      ServiceErrorCodes.backupTooLarge,
      `${info.kind} ${info.checkpoint} of job "${info.job}" is ${mib(exportBytes.length)} as an export, more than a backup document can carry (${mib(MAX_BACKUP_EXPORT_BYTES)}: its data is one base64 string); ${otherWay}`,
    );
  }
  return { format: 'sluice-checkpoint-backup', version: 1, ...info, data: exportBytes.toString('base64') };
}

/** Checks a backup document's shape and returns its export bytes. */
export function backupBytes(document: unknown): Buffer {
  const doc = document as Partial<BackupDocument> | null;
  if (typeof doc !== 'object' || doc === null || doc.format !== 'sluice-checkpoint-backup' || doc.version !== 1) {
    throw badRequest('the request body is not a checkpoint backup: expected the JSON written by `sluice checkpoint backup` ({ "format": "sluice-checkpoint-backup", "version": 1, ... })');
  }
  if (typeof doc.data !== 'string' || doc.data === '' || !/^[A-Za-z0-9+/]*={0,2}$/.test(doc.data)) {
    throw badRequest('the backup\'s "data" field must be the base64 of a checkpoint export');
  }
  return Buffer.from(doc.data, 'base64');
}

/** A savepoint or checkpoint as the REST API reports it. */
export function describeSavepoint(manifest: CheckpointManifest): SavepointInfo {
  return { id: manifest.id, kind: manifest.kind, timestamp: manifest.timestamp, durationMs: manifest.durationMs, totalBytes: manifest.totalBytes };
}
