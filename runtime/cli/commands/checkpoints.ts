import { resolve } from 'node:path';
import { CheckpointStore, type CheckpointInfo } from '../../checkpoint/index.ts';
import type { Logger } from '../../logging/index.ts';
import { keepMappedTableReads } from '../../state/leveldb/table-mmap-slots.ts';
import { parseCommandLine } from '../arguments.ts';
import { CONNECTION_USAGE, connect } from '../client/connection.ts';
import { formatBytes } from '../client/render.ts';
import { formatTable } from '../client/table.ts';
import { EXIT, UsageError } from '../usage-error.ts';

export { formatTable } from '../client/table.ts';

export const CHECKPOINTS_USAGE = `Usage: sluice checkpoints <job-name> [--data-dir <dir>] [options]

Lists the job's checkpoints and savepoints, newest first: id, kind, time, size, duration, status. Asks the service,
or with --data-dir reads the data directory directly (offline: no service may be running on it).

Options:
      --data-dir <dir>  read this data directory instead of asking the service
${CONNECTION_USAGE}`;

/** `sluice checkpoints`: returns the process exit code. */
export async function checkpointsCommand(args: readonly string[], logger: Logger, out: NodeJS.WriteStream): Promise<number> {
  const { values, positionals } = parseCommandLine(
    args,
    { 'data-dir': { type: 'string' }, json: { type: 'boolean' }, url: { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    CHECKPOINTS_USAGE,
  );
  if (values.help === true) {
    out.write(`${CHECKPOINTS_USAGE}\n`);
    return EXIT.ok;
  }
  const job = positionals[0];
  if (job === undefined) throw new UsageError('sluice checkpoints needs a job name', CHECKPOINTS_USAGE);
  if (values['data-dir'] === undefined) {
    // A cluster member's answer has no warnings: its checkpoints are the ones replicated in Kafka.
    const { checkpoints, warnings = [] } = await connect(values).request<{ checkpoints: CheckpointInfo[]; warnings?: ListingWarning[] }>(
      'GET',
      `/v1/jobs/${encodeURIComponent(job)}/checkpoints`,
    );
    printCheckpoints(job, checkpoints, values.json === true, out);
    for (const { code, message } of warnings) logger.warn({ code }, message);
    return EXIT.ok;
  }
  keepMappedTableReads(); // a listing opens the store and exits: the slots' reservation would cost more than it saves
  const store = await CheckpointStore.openExisting(resolve(values['data-dir']), { logger });
  try {
    printCheckpoints(job, await store.list(job), values.json === true, out);
    const lost = await store.lostCheckpoints(job);
    if (lost !== undefined) logger.warn({ code: lost.code }, lost.message);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}

function printCheckpoints(job: string, list: readonly CheckpointInfo[], json: boolean, out: NodeJS.WriteStream): void {
  if (json) {
    out.write(`${JSON.stringify(list)}\n`);
    return;
  }
  if (list.length === 0) {
    out.write(`no checkpoints for job "${job}"\n`);
    return;
  }
  // A cluster member lists the checkpoints replicated in Kafka, each with the member (and owner epoch) that wrote it.
  const replicated = list.every((c) => typeof (c as Replicated).member === 'string');
  const rows = list.map((c) => [
    String(c.id),
    c.kind,
    c.incremental ? 'incremental' : 'full',
    new Date(c.timestamp).toISOString(),
    formatBytes(c.totalBytes),
    formatBytes(c.writtenBytes),
    `${c.durationMs} ms`,
    c.status,
    ...(replicated ? [`${(c as Replicated).member} (epoch ${(c as Replicated).epoch})`] : []),
  ]);
  // SIZE: what a restore reads; WRITTEN: what the checkpoint itself added (less when incremental).
  out.write(formatTable(['ID', 'KIND', 'TYPE', 'TIME', 'SIZE', 'WRITTEN', 'DURATION', 'STATUS', ...(replicated ? ['REPLICATED BY'] : [])], rows));
}

/** Something a listing should know about the job's checkpoints: checkpoints its store lost. */
interface ListingWarning {
  readonly code: string;
  readonly message: string;
}

type Replicated = CheckpointInfo & { member: string; epoch: number };
