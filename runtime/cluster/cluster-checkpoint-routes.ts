import { createReadStream } from 'node:fs';
import { access, open, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SluiceError } from '../errors/index.ts';
import { checkpointIdQuery, type ApiRequest, type ApiResponse } from '../service/rest-api.ts';
import { backupBytes, EXPORT_CONTENT_TYPE, exportHeaders } from '../service/savepoint-files.ts';
import { badRequest, ServiceErrorCodes } from '../service/service-errors.ts';
import type { ClusterCheckpointTools } from './checkpoints/checkpoint-tools.ts';
import type { ClusterCoordination } from './cluster-coordination.ts';
import type { ClusterJobSpec, StartOverride } from './jobs/cluster-job-spec.ts';
import type { JobsLog } from './jobs/jobs-log.ts';

export interface ClusterCheckpointRoutesOptions {
  readonly cluster: string;
  readonly coordination: ClusterCoordination;
  readonly jobsLog: JobsLog;
  readonly tools: ClusterCheckpointTools;
}

/** What a cluster member answers a checkpoint tool with: the spec it wrote, which the job's owner applies. */
interface SpecAnswer {
  readonly name: string;
  readonly desired: string;
  readonly version: number;
  readonly override: StartOverride | null;
}

/**
 * The checkpoint tools of a cluster member (docs/cluster.md, "Checkpoint tools"), answered by any member from the
 * checkpoints topic: the replicated checkpoints are the truth, not any member's local copy.
 *
 * - `GET checkpoints`, `GET checkpoints/backup` and `GET checkpoints/export` read the topic.
 * - `restore`, `clear` and `catch-up` write a start override into the job's spec (a new version, so a running job
 *   restarts at once — from a savepoint, which `catch-up` keeps and the others replace); its owner applies it as the
 *   job starts, and it stays in force until a checkpoint completes under it. `restore` (a backup document) and
 *   `import` (an export uploaded as bytes) first publish the export to the topic for the owner to import. A job that is not running applies it at its next `resume`; `clear` of a job
 *   that no member runs tombstones its checkpoints at once.
 * - `submit --from <id|file>` publishes that checkpoint (or file, read on this member) the same way ({@link fromImport}),
 *   and `delete --checkpoints` tombstones the job's checkpoints ({@link purge}).
 *
 * @example
 * ```ts
 * const routes = clusterCheckpointRoutes({ cluster: 'prod', coordination, jobsLog, tools });
 * const answer = await routes.handle(request, 'orders', 'checkpoints/clear'); // undefined: not a checkpoint route
 * ```
 */
export function clusterCheckpointRoutes(options: ClusterCheckpointRoutesOptions) {
  const { coordination, jobsLog, tools } = options;

  const specOf = async (name: string): Promise<ClusterJobSpec> => {
    const spec = (await jobsLog.readAll()).get(name);
    if (spec === undefined) throw new SluiceError(ServiceErrorCodes.jobNotFound, `job "${name}" is not in cluster "${options.cluster}"; list its jobs with sluice list`);
    return spec;
  };
  const owned = (name: string): boolean => coordination.view()?.members.some((m) => m.jobs.some((j) => j.job === name)) ?? false;
  const answer = (spec: ClusterJobSpec): SpecAnswer => ({ name: spec.name, desired: spec.desired, version: spec.version, override: spec.override ?? null });
  const cluster = (spec: ClusterJobSpec) => ({ name: options.cluster, version: spec.version });

  /** Writes the spec with a start override (its serial: the new version) and asks for a rebalance. */
  const override = async (spec: ClusterJobSpec, kind: StartOverride['kind']): Promise<ClusterJobSpec> => {
    const version = spec.version + 1;
    const next: ClusterJobSpec = { ...spec, override: { serial: version, kind }, version, updatedAt: Date.now() };
    await jobsLog.write(next);
    coordination.requestRebalance();
    return next;
  };

  /**
   * Runs `writeSpec` after import `keys` of `name` was published; when the spec cannot be written, nothing names the
   * import, so it is tombstoned again (best effort: left behind, it only costs space) before the error goes on.
   */
  const namingImport = async <T>(name: string, keys: readonly string[], writeSpec: () => Promise<T>): Promise<T> => {
    try {
      return await writeSpec();
    } catch (err) {
      await tools.tombstone(name, keys).catch(() => undefined);
      throw err;
    }
  };

  const handle = async (request: ApiRequest, name: string, action: string | undefined): Promise<ApiResponse | undefined> => {
    if (action === 'checkpoints' && request.method === 'GET') {
      const list = await tools.list(name);
      if (list.length === 0) await specOf(name);
      return { status: 200, body: { checkpoints: list } };
    }
    if (action === 'checkpoints/backup' && request.method === 'GET') {
      return { status: 200, body: { backup: await tools.backup(name, checkpointIdQuery(request)) } };
    }
    if (action === 'checkpoints/export' && request.method === 'GET') {
      // Read back from the topic blob by blob into a scratch store, exported to a file, streamed and removed once sent.
      const { checkpoint, file, size, release } = await tools.exportFile(name, checkpointIdQuery(request));
      const m = checkpoint.manifest;
      const headers = exportHeaders({ job: name, checkpoint: m.id, kind: m.kind, timestamp: m.timestamp, totalBytes: m.totalBytes });
      const download = { size, open: () => createReadStream(file), release };
      return { status: 200, body: undefined, contentType: EXPORT_CONTENT_TYPE, headers, download };
    }
    if (request.method !== 'POST') return undefined;
    if (action === 'checkpoints/restore' || action === 'checkpoints/import') {
      if (action === 'checkpoints/import' && request.upload === undefined) throw badRequest('send the checkpoint export as the body, as application/octet-stream');
      const spec = await specOf(name);
      // An upload is written to a scratch file and published from it: an export of any size, in bounded memory.
      const keys =
        action === 'checkpoints/import' ? await tools.publishUpload(name, spec.version + 1, request.upload!) : await tools.publishImport(name, spec.version + 1, backupBytes(request.body));
      const next = await namingImport(name, keys, () => override(spec, 'import'));
      return { status: 201, body: { job: answer(next), savepoint: null, cluster: cluster(next) } };
    }
    if (action === 'checkpoints/clear') {
      const spec = await specOf(name);
      const next = await override(spec, 'clear');
      // Nobody runs it: the checkpoints go now (a start would purge them anyway, as the override says).
      const deleted = spec.desired !== 'running' && !owned(name) ? await tools.purge(name) : null;
      return { status: 200, body: { job: answer(next), deleted, cluster: cluster(next) } };
    }
    if (action === 'checkpoints/catch-up') {
      const next = await override(await specOf(name), 'catch-up');
      return { status: 200, body: { job: answer(next), cluster: cluster(next) } };
    }
    return undefined;
  };

  /**
   * `submit --from`: publishes checkpoint `from` of the job (an id of its replicated checkpoints) or a savepoint file
   * on this member's filesystem as import `serial`, then writes the spec that carries the override (`writeSpec`); the
   * import is tombstoned again when that write fails.
   */
  const fromImport = async (name: string, from: string, serial: number, writeSpec: (override: StartOverride) => Promise<void>): Promise<StartOverride> => {
    let keys: readonly string[];
    if (/^\d+$/.test(from)) {
      // Exported to a scratch file and published from it, blob by blob and chunk by chunk.
      const exported = await tools.exportFile(name, Number(from));
      try {
        keys = await tools.publishImport(name, serial, { file: exported.file });
      } finally {
        await exported.release();
      }
    } else {
      const path = resolve(from);
      try {
        await access(path);
      } catch {
        throw new SluiceError(ServiceErrorCodes.savepointFileNotFound, `savepoint file ${path} does not exist on the filesystem of the member the CLI asked; give the path of a file written by \`sluice checkpoint backup\` or a checkpoint export there, or --from latest|<checkpoint id>`);
      }
      // A backup document (JSON, base64 inside) is decoded in memory; an export file is published from the file.
      keys = (await startsWithBrace(path)) ? await tools.publishImport(name, serial, backupBytes(parseJson(await readFile(path), path))) : await tools.publishImport(name, serial, { file: path });
    }
    const override: StartOverride = { serial, kind: 'import' };
    await namingImport(name, keys, () => writeSpec(override));
    return override;
  };

  /** `delete --checkpoints` of a job that is not running: tombstones its replicated checkpoints. */
  const purge = (name: string): Promise<number> => tools.purge(name);

  return { handle, fromImport, purge };
}

/** Whether the file's first byte is `{`: a backup document (JSON) rather than a checkpoint export (msgpack). */
async function startsWithBrace(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const first = Buffer.alloc(1);
    const { bytesRead } = await handle.read(first, 0, 1, 0);
    return bytesRead === 1 && first[0] === 0x7b;
  } finally {
    await handle.close();
  }
}

function parseJson(raw: Buffer, path: string): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    throw badRequest(`savepoint file ${path} starts like JSON but is not: give a checkpoint export or a file written by \`sluice checkpoint backup\``);
  }
}
