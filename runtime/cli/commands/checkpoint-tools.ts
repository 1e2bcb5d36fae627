import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { SluiceError } from '../../errors/index.ts';
import type { JobStatus, SavepointInfo } from '../../service/index.ts';
import { backupBytes } from '../../service/savepoint-files.ts';
import { parseCommandLine } from '../arguments.ts';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, connect } from '../client/connection.ts';
import { formatBytes } from '../client/render.ts';
import { withSpinner } from '../client/spinner.ts';
import { EXIT, UsageError } from '../usage-error.ts';

export const CHECKPOINT_USAGE = `Usage: sluice checkpoint <backup|restore|clear|catch-up> <job-name> [options]

  backup <job> --output <file> [--id <n>]
      writes the job's newest valid checkpoint (or checkpoint <n>) to a file on this machine (a checkpoint export)
  restore <job> --input <file>
      imports a backup as a new savepoint; the job restarts from it (now if it runs, else at its next resume)
  clear <job>
      deletes the job's checkpoints and savepoints: its next start keeps NO state and reads every source from the
      earliest position (reprocess everything). A running job restarts that way now. Sink output stays.
  catch-up <job>
      keeps the state of the latest checkpoint but reads every source from its latest position (skip the backlog).
      A running job takes a checkpoint and restarts that way now.

Options:
      --output <file>  (backup) where to write the backup
      --id <n>         (backup) which checkpoint (default: the newest valid one)
      --input <file>   (restore) the backup file to import
${CONNECTION_USAGE}`;

/** `sluice checkpoint <tool> <job>`: returns the process exit code. */
export async function checkpointToolCommand(args: readonly string[], out: NodeJS.WriteStream): Promise<number> {
  const { values, positionals } = parseCommandLine(
    args,
    { ...CONNECTION_OPTIONS, output: { type: 'string', short: 'o' }, input: { type: 'string', short: 'i' }, id: { type: 'string' } },
    CHECKPOINT_USAGE,
  );
  if (values.help === true) {
    out.write(`${CHECKPOINT_USAGE}\n`);
    return EXIT.ok;
  }
  const [tool, job, extra] = positionals;
  if (tool === undefined) throw new UsageError('sluice checkpoint needs a tool: backup, restore, clear or catch-up', CHECKPOINT_USAGE);
  if (!['backup', 'restore', 'clear', 'catch-up'].includes(tool)) throw new UsageError(`unknown checkpoint tool "${tool}": use backup, restore, clear or catch-up`, CHECKPOINT_USAGE);
  if (job === undefined) throw new UsageError(`sluice checkpoint ${tool} needs a job name`, CHECKPOINT_USAGE);
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`, CHECKPOINT_USAGE);
  const only = (flag: 'output' | 'input' | 'id', tools: string[]): void => {
    if (values[flag] !== undefined && !tools.includes(tool)) throw new UsageError(`--${flag} applies to checkpoint ${tools.join('/')}, not ${tool}`, CHECKPOINT_USAGE);
  };
  only('output', ['backup']);
  only('id', ['backup']);
  only('input', ['restore']);
  const client = connect(values);
  const base = `/v1/jobs/${encodeURIComponent(job)}/checkpoints`;
  const print = (answer: unknown, line: string): number => {
    out.write(values.json === true ? `${JSON.stringify(answer)}\n` : line);
    return EXIT.ok;
  };
  /** A cluster member answers with the spec version it wrote; the job's owner applies the change (docs/cluster.md). */
  const inCluster = (answer: { cluster?: { version: number } }, what: string): string | undefined =>
    answer.cluster === undefined ? undefined : `job "${job}": ${what} (cluster spec version ${answer.cluster.version}); a running job restarts so, a paused one on its next resume\n`;

  switch (tool) {
    case 'backup': {
      if (values.output === undefined) throw new UsageError('sluice checkpoint backup needs --output <file>', CHECKPOINT_USAGE);
      if (values.id !== undefined && !/^\d+$/.test(values.id)) throw new UsageError(`--id expects a checkpoint id, got "${values.id}"`, CHECKPOINT_USAGE);
      const output = resolve(values.output);
      const query = values.id === undefined ? '' : `?id=${values.id}`;
      const headers = await downloadAtomically(output, (into) => withSpinner(`backing up "${job}"`, client.download(`${base}/export${query}`, into)));
      const summary = {
        job,
        checkpoint: Number(headers.get('x-sluice-checkpoint')),
        kind: headers.get('x-sluice-checkpoint-kind') ?? 'checkpoint',
        totalBytes: Number(headers.get('x-sluice-checkpoint-total-bytes')),
        output,
      };
      return print(summary, `job "${job}": ${summary.kind} ${summary.checkpoint} (${formatBytes(summary.totalBytes)} of state) backed up to ${output}\n`);
    }
    case 'restore': {
      if (values.input === undefined) throw new UsageError('sluice checkpoint restore needs --input <file>', CHECKPOINT_USAGE);
      const input = resolve(values.input);
      const body = await readBackup(input);
      const answer = await withSpinner(`restoring "${job}"`, client.upload<{ job: JobStatus; savepoint: SavepointInfo; cluster?: { version: number } }>(`${base}/import`, body));
      const cluster = inCluster(answer, `${input} published for its owner to restore`);
      if (cluster !== undefined) return print(answer, cluster);
      const when = answer.job.attempt === null ? `its next start (sluice resume ${job}) restores it` : 'the job restarted from it';
      return print(answer, `job "${job}": ${input} imported as savepoint ${answer.savepoint.id}; ${when}\n`);
    }
    case 'clear': {
      const answer = await withSpinner(`clearing "${job}"`, client.request<{ job: JobStatus; deleted: number | null; cluster?: { version: number } }>('POST', `${base}/clear`, {}));
      const cluster = inCluster(answer, `${answer.deleted === null ? 'its checkpoints go as it starts' : `${answer.deleted} checkpoint(s) deleted`}; it reprocesses every source from the earliest position, without state`);
      if (cluster !== undefined) return print(answer, cluster);
      const when = answer.job.attempt === null ? 'its next start' : 'it now';
      return print(answer, `job "${job}": ${answer.deleted} checkpoint(s) deleted; ${when} reprocesses every source from the earliest position, without state\n`);
    }
    default: {
      const answer = await withSpinner(`catching up "${job}"`, client.request<{ job: JobStatus; cluster?: { version: number } }>('POST', `${base}/catch-up`, {}));
      const cluster = inCluster(answer, 'it reads every source from the latest position, keeping the latest checkpoint\'s state');
      if (cluster !== undefined) return print(answer, cluster);
      const when = answer.job.attempt === null ? 'its next start' : 'it now';
      return print(answer, `job "${job}": ${when} reads every source from the latest position, keeping the latest checkpoint's state\n`);
    }
  }
}

/**
 * What `restore` sends: a checkpoint export (what `backup` writes) streamed from the file, or the export inside a
 * backup document (JSON, what `backup` wrote before it wrote exports).
 */
async function readBackup(file: string): Promise<Readable | Uint8Array> {
  let handle: FileHandle;
  let first: number | undefined;
  try {
    handle = await open(file, 'r');
    const { buffer, bytesRead } = await handle.read({ buffer: Buffer.alloc(1), position: 0 });
    first = bytesRead === 0 ? undefined : buffer[0];
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message;
    throw new SluiceError('SLUICE_BACKUP_FILE_UNREADABLE', `cannot read backup file ${file}: ${reason}; give a file written by \`sluice checkpoint backup\``, { cause: err });
  }
  if (first !== 0x7b /* '{' */) return handle.createReadStream({ start: 0 }); // an export: the service checks it
  let document: unknown;
  try {
    document = JSON.parse(await handle.readFile('utf8'));
  } catch {
    throw new SluiceError('SLUICE_BACKUP_FILE_UNREADABLE', `backup file ${file} starts like JSON but is not: give a file written by \`sluice checkpoint backup\``);
  } finally {
    await handle.close();
  }
  try {
    return backupBytes(document);
  } catch (err) {
    throw new SluiceError('SLUICE_BACKUP_FILE_UNREADABLE', `backup file ${file} is JSON but not a checkpoint backup: give a file written by \`sluice checkpoint backup\``, { cause: err });
  }
}

/**
 * Runs `download` into a temporary file next to `file`, then renames it over `file`: a backup cut short never
 * leaves a file that looks whole.
 */
async function downloadAtomically<T>(file: string, download: (into: Writable) => Promise<T>): Promise<T> {
  const tmp = `${file}.tmp-${process.pid}`;
  let handle: FileHandle;
  try {
    handle = await open(tmp, 'w');
  } catch (err) {
    throw new SluiceError('SLUICE_BACKUP_WRITE_FAILED', `cannot write the backup to ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const result = await download(handle.createWriteStream());
    await rename(tmp, file);
    return result;
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    if (err instanceof SluiceError) throw err;
    throw new SluiceError('SLUICE_BACKUP_WRITE_FAILED', `cannot write the backup to ${file}: ${(err as Error).message}`, { cause: err });
  }
}
