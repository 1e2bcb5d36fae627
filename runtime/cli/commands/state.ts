import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CheckpointErrorCodes, CheckpointStore } from '../../checkpoint/index.ts';
import type { LoadedCheckpoint } from '../../checkpoint/store-layout.ts';
import { SluiceError } from '../../errors/index.ts';
import { answerKeyedState, MAX_STATE_LIMIT, selectedEntries, type KeyedStateAnswer } from '../../inspect/keyed-state-answer.ts';
import { checkpointToRead } from '../../inspect/keyed-state-reader.ts';
import { stateJson } from '../../inspect/state-json.ts';
import type { Logger } from '../../logging/index.ts';
import { keepMappedTableReads } from '../../state/leveldb/table-mmap-slots.ts';
import { parseCommandLine, positiveInteger } from '../arguments.ts';
import { connect } from '../client/connection.ts';
import { DEFAULT_SERVICE_URL } from '../client/service-client.ts';
import { formatBytes } from '../client/render.ts';
import { formatTable } from '../client/table.ts';
import { EXIT, UsageError } from '../usage-error.ts';

export const STATE_USAGE = `Usage: sluice state <job-name> [options]                 (asks the service)
       sluice state <job-name> --data-dir <dir> [options]  (offline)
       sluice state --file <export> [options]

Reads a job's state from one of its checkpoints: through the service, from a data directory offline (no service
may be running on it), or from a checkpoint export or backup file. Without --operator: the operators that hold
keyed state, with their key groups and size, and those that hold operator state. With --operator: its entries, one
JSON line per key and state — {"state", "kind", "key", "value"} — as a restore would see them.

Options:
      --checkpoint <id>      a checkpoint or savepoint id (default: the newest)
      --data-dir <dir>       read this data directory instead of asking the service
      --file <export>        read an export or backup file (sluice checkpoint backup) instead
      --operator <uid>       print this operator's entries
      --state <name>         only this state of the operator
      --key <key>            only this key (repeatable); a number also matches the numeric key. Reads the key's key
                             group alone: fast on large state
      --timers               the operator's pending timers, {"timer", "key", "timestamp"}, instead of its state
      --operator-state       the operator's operator state, one line per subtask, {"subtask", "state"}, instead
                             (a sink's pending transactions, broadcast state, records a window holds, …)
      --limit <n>            print at most n entries (the service answers at most ${MAX_STATE_LIMIT}, by default 1000)
      --json                 without --operator: the operators as JSON
      --url <url>            service address (default: $SLUICE_URL or ${DEFAULT_SERVICE_URL})
      --token <token>        bearer token (default: $SLUICE_TOKEN)
  -h, --help                 show this help`;

/** `sluice state`: returns the process exit code. */
export async function stateCommand(args: readonly string[], logger: Logger, out: NodeJS.WritableStream, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const { values, positionals } = parseCommandLine(
    args,
    {
      'data-dir': { type: 'string' },
      checkpoint: { type: 'string' },
      file: { type: 'string' },
      operator: { type: 'string' },
      state: { type: 'string' },
      key: { type: 'string', multiple: true },
      limit: { type: 'string' },
      json: { type: 'boolean' },
      timers: { type: 'boolean' },
      'operator-state': { type: 'boolean' },
      url: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    STATE_USAGE,
  );
  if (values.help === true) {
    out.write(`${STATE_USAGE}\n`);
    return EXIT.ok;
  }
  const job = positionals[0];
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, STATE_USAGE);
  const { 'data-dir': dataDir, file, operator } = values;
  if (file !== undefined && (dataDir !== undefined || values.checkpoint !== undefined)) {
    throw new UsageError('--file reads the checkpoint the file holds: leave out --data-dir and --checkpoint', STATE_USAGE);
  }
  if (file === undefined && job === undefined) throw new UsageError('sluice state needs a job name', STATE_USAGE);
  const id = positiveInteger('--checkpoint', values.checkpoint, STATE_USAGE);
  const limit = positiveInteger('--limit', values.limit, STATE_USAGE);
  if (operator === undefined) {
    for (const flag of ['state', 'key', 'limit', 'timers', 'operator-state'] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} selects entries of an operator: give --operator <uid> too`, STATE_USAGE);
    }
  }
  const timers = values.timers === true;
  const operatorState = values['operator-state'] === true;
  if (timers && values.state !== undefined) throw new UsageError('--timers prints the timers of keys, which belong to no named state: leave out --state', STATE_USAGE);
  if (operatorState && (timers || values.state !== undefined || values.key !== undefined)) {
    throw new UsageError('--operator-state prints what each subtask stored, which belongs to no key: leave out --state, --key and --timers', STATE_USAGE);
  }
  const nothingFound = (where: string): void => {
    const what = [values.state === undefined ? undefined : `state "${values.state}"`, values.key === undefined ? undefined : `key ${values.key.map((k) => JSON.stringify(k)).join(', ')}`].filter((w) => w !== undefined);
    err.write(`sluice: operator "${operator}" holds no ${timers ? 'timers' : 'entries'}${what.length > 0 ? ` for ${what.join(' and ')}` : ''} in ${where}\n`);
  };

  if (file === undefined && dataDir === undefined) {
    // The service reads its own store (in a cluster: the member that runs the job) and answers at most `limit` entries.
    const query = new URLSearchParams();
    if (id !== undefined) query.set('id', String(id));
    if (operator !== undefined) query.set('operator', operator);
    if (values.state !== undefined) query.set('state', values.state);
    for (const key of values.key ?? []) query.append('key', key);
    if (limit !== undefined) query.set('limit', String(Math.min(limit, MAX_STATE_LIMIT)));
    if (timers) query.set('timers', 'true');
    if (operatorState) query.set('operatorState', 'true');
    const answer = await connect(values).request<KeyedStateAnswer>('GET', `/v1/jobs/${encodeURIComponent(job!)}/state?${query}`);
    if (operator === undefined) {
      printOperators(answer, values.json === true, out, undefined);
      return EXIT.ok;
    }
    for (const entry of answer.entries ?? []) out.write(`${JSON.stringify(entry)}\n`);
    if ((answer.entries ?? []).length === 0) nothingFound(`checkpoint ${answer.checkpoint.id}`);
    if (answer.truncated === true && limit === undefined) {
      err.write(`sluice: the service answered the first ${answer.entries?.length ?? 0} entries; --limit <n> for more (at most ${MAX_STATE_LIMIT}), or read a backup with --file for all of them\n`);
    }
    return EXIT.ok;
  }

  keepMappedTableReads(); // one read and the process exits: the slots' reservation would cost more than it saves
  const source: CheckpointSource = file === undefined ? { dataDir: dataDir!, job: job!, id } : { file, job };
  return withCheckpoint(source, logger, async (checkpoint) => {
    if (operator === undefined) {
      printOperators(await answerKeyedState(checkpoint, {}), values.json === true, out, file);
      return EXIT.ok;
    }
    const entries = selectedEntries(checkpoint, { operator, timers, operatorState, ...(values.state === undefined ? {} : { state: values.state }), ...(values.key === undefined ? {} : { keys: values.key }) });
    if ((await printEntries(entries, out, limit)) === 0) nothingFound(file ?? `checkpoint ${checkpoint.manifest.id}`);
    return EXIT.ok;
  });
}

/** Where the checkpoint read comes from: a data directory (an id, or the newest) or an export file. */
type CheckpointSource = { readonly dataDir: string; readonly job: string; readonly id: number | undefined } | { readonly file: string; readonly job: string | undefined };

/**
 * Opens the checkpoint `source` names, runs `use` on it, and closes what it opened. An export is imported into a
 * scratch store first (blob by blob, as `sluice checkpoint restore` does), removed afterwards.
 */
async function withCheckpoint<T>(source: CheckpointSource, logger: Logger, use: (checkpoint: LoadedCheckpoint) => Promise<T>): Promise<T> {
  const scratch = 'file' in source ? await mkdtemp(join(tmpdir(), 'sluice-state-')) : undefined;
  let store: CheckpointStore | undefined;
  try {
    let checkpoint: LoadedCheckpoint | undefined;
    if ('file' in source) {
      store = await CheckpointStore.open(scratch!, { logger });
      const imported = await store.importFrom(resolve(source.file), { where: source.file });
      if (source.job !== undefined && imported.job !== source.job) throw new UsageError(`${source.file} holds a checkpoint of job "${imported.job}", not "${source.job}"`, STATE_USAGE);
      checkpoint = await store.load(imported.job, imported.id, { checkAsRead: true }); // verified as it was imported
    } else {
      store = await CheckpointStore.openExisting(resolve(source.dataDir), { logger });
      checkpoint = await checkpointToRead(store, source.job, source.id);
      if (checkpoint === undefined) {
        throw new SluiceError(
          CheckpointErrorCodes.notFound,
          `job "${source.job}" has no checkpoints in ${source.dataDir}; list the jobs' checkpoints there with sluice checkpoints <job-name> --data-dir ${source.dataDir}`,
          { retriable: false },
        );
      }
    }
    return await use(checkpoint);
  } finally {
    await store?.close();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  }
}

/** The operators with keyed state; `file`: the checkpoint came from that export (its id there is the import's, not named). */
function printOperators(answer: KeyedStateAnswer, json: boolean, out: NodeJS.WritableStream, file: string | undefined): void {
  const operators = answer.operators ?? [];
  const { checkpoint } = answer;
  if (json) {
    const which = file === undefined ? { checkpoint: checkpoint.id, kind: checkpoint.kind } : { file };
    out.write(`${JSON.stringify({ job: answer.job, ...which, timestamp: checkpoint.timestamp, operators, operatorState: answer.operatorState ?? [] })}\n`);
    return;
  }
  const which = file === undefined ? `${checkpoint.kind} ${checkpoint.id}` : `the checkpoint in ${file}`;
  out.write(`${which} of job "${answer.job}", ${new Date(checkpoint.timestamp).toISOString()}, max parallelism ${checkpoint.maxParallelism}\n`);
  if (operators.length === 0) out.write('no operator holds keyed state in it\n');
  else out.write(formatTable(['OPERATOR', 'NAME', 'KEY GROUPS', 'SIZE'], operators.map((op) => [op.uid, op.name, String(op.keyGroups), formatBytes(op.bytes)])));
  const holders = answer.operatorState ?? [];
  if (holders.length === 0) return;
  out.write('\noperator state (--operator <uid> --operator-state):\n');
  out.write(formatTable(['OPERATOR', 'NAME', 'SUBTASKS', 'SIZE'], holders.map((op) => [op.uid, op.name, String(op.subtasks), formatBytes(op.bytes)])));
}

/** Resolves when `out` takes more writes, or will never again (closed, or failed: {@link printEntries} notes why). */
function writable(out: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      out.off('drain', done).off('close', done).off('error', done);
      resolve();
    };
    out.on('drain', done).on('close', done).on('error', done);
  });
}

/**
 * Writes each entry as a JSON line, waiting when the output is full (a pipe into a pager), and stops quietly when
 * the output is closed (`| head`); another write error stops it and is thrown. Returns how many it wrote.
 */
async function printEntries(entries: AsyncIterable<object>, out: NodeJS.WritableStream, limit: number | undefined): Promise<number> {
  let closed = false;
  let failure: Error | undefined;
  const onError = (error: NodeJS.ErrnoException): void => {
    closed = true;
    if (error.code !== 'EPIPE') failure = error;
  };
  out.on('error', onError);
  let printed = 0;
  try {
    for await (const entry of entries) {
      if (closed || (limit !== undefined && printed >= limit)) break;
      printed++;
      if (!out.write(`${stateJson(entry)}\n`)) await writable(out);
    }
  } finally {
    out.off('error', onError);
  }
  if (failure !== undefined) throw failure;
  return printed;
}
