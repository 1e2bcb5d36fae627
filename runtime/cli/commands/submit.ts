import { resolve } from 'node:path';
import { JobParams } from '../../api/index.ts';
import type { JobStatus } from '../../service/index.ts';
import { parseCommandLine, positiveInteger, workerThreads, workersUsage } from '../arguments.ts';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, connect } from '../client/connection.ts';
import { withSpinner } from '../client/spinner.ts';
import { EXIT, UsageError } from '../usage-error.ts';

export const SUBMIT_USAGE = `Usage: sluice submit <job.ts> [options]

Submits a job to the service, which loads the file from ITS filesystem (a relative path is made absolute against
this directory), validates the plan and starts it. Submitting a job runs its code in the service.

Options:
  -p, --parallelism <n>           default parallelism
${workersUsage(34, "(default: the service's --workers, else one per core)")}
      --set <key=value>           job parameter, repeatable
      --from <latest|id|file>     restore from the latest checkpoint (default), a checkpoint id, or a savepoint
                                  export file (path on the service's filesystem)
      --replace                   if the job runs: stop it with a savepoint and restart from it with this file
      --allow-non-restored-state  drop state of operators the job no longer has
${CONNECTION_USAGE}`;

/** `sluice submit`: returns the process exit code. */
export async function submitCommand(args: readonly string[], out: NodeJS.WriteStream): Promise<number> {
  const { values, positionals } = parseCommandLine(
    args,
    {
      ...CONNECTION_OPTIONS,
      parallelism: { type: 'string', short: 'p' },
      workers: { type: 'string' },
      set: { type: 'string', multiple: true },
      from: { type: 'string' },
      replace: { type: 'boolean' },
      'allow-non-restored-state': { type: 'boolean' },
    },
    SUBMIT_USAGE,
  );
  if (values.help === true) {
    out.write(`${SUBMIT_USAGE}\n`);
    return EXIT.ok;
  }
  const file = positionals[0];
  if (file === undefined) throw new UsageError('sluice submit needs a job file', SUBMIT_USAGE);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, SUBMIT_USAGE);
  const parallelism = positiveInteger('--parallelism', values.parallelism, SUBMIT_USAGE);
  const workers = workerThreads(values.workers, SUBMIT_USAGE);
  let params: JobParams;
  try {
    params = JobParams.parse(values.set ?? []);
  } catch (err) {
    throw new UsageError((err as Error).message, SUBMIT_USAGE);
  }
  const from = values.from === undefined || values.from === 'latest' || /^\d+$/.test(values.from) ? values.from : resolve(values.from);
  const client = connect(values);
  const body = {
    file: resolve(file),
    params: Object.fromEntries(params.entries()),
    ...(parallelism === undefined ? {} : { parallelism }),
    ...(workers === undefined ? {} : { workers }),
    ...(from === undefined ? {} : { from }),
    ...(values.replace === true ? { replace: true } : {}),
    ...(values['allow-non-restored-state'] === true ? { allowNonRestoredState: true } : {}),
  };
  const { job } = await withSpinner(`submitting ${file}`, client.request<{ job: JobStatus }>('POST', '/v1/jobs', body));
  if (values.json === true) {
    out.write(`${JSON.stringify({ job })}\n`);
    return EXIT.ok;
  }
  const cluster = (job as JobStatus & { cluster?: { name: string; version: number } }).cluster;
  if (cluster !== undefined) {
    const restoring = from === undefined || from === 'latest' ? '' : `, restoring ${from} (published to the cluster's checkpoints topic)`;
    out.write(`job "${job.name}" submitted to cluster "${cluster.name}" (version ${cluster.version})${restoring}; the leader assigns it to a member: sluice cluster status shows where it runs\n`);
    return EXIT.ok;
  }
  const restored = job.startFrom.from === 'checkpoint' ? ` from checkpoint ${job.startFrom.id}` : '';
  out.write(`job "${job.name}" ${job.state}${restored} at parallelism ${job.parallelism ?? 'default'} (attempt ${job.attempt ?? 0})\n`);
  return EXIT.ok;
}
