import type { RescaleRecord } from '../../runner/index.ts';
import type { JobStatus, SavepointInfo } from '../../service/index.ts';
import { parseCommandLine, positiveInteger } from '../arguments.ts';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, connect } from '../client/connection.ts';
import { formatDuration } from '../client/render.ts';
import { withSpinner } from '../client/spinner.ts';
import { EXIT, UsageError } from '../usage-error.ts';

/** One verb that acts on a job by name: its usage, extra flags, and what to send and print. */
interface ControlVerb {
  readonly usage: string;
  readonly options?: Record<string, { type: 'string' | 'boolean'; short?: string }>;
  readonly spinner: (job: string) => string;
  /** The request (POST unless said); `values` holds the parsed extra flags. `path` is under `/v1/jobs/<job>`. */
  readonly request: (values: Record<string, unknown>, usage: string) => { path: string; body?: unknown; method?: 'POST' | 'DELETE' };
  /** The human answer line(s). */
  readonly describe: (job: string, answer: Record<string, unknown>) => string;
}

const savepointLine = (s: SavepointInfo): string => `savepoint ${s.id} (${s.totalBytes} bytes, took ${formatDuration(s.durationMs)})`;

const VERBS: Record<string, ControlVerb> = {
  cancel: {
    usage: 'Usage: sluice cancel <job-name> [options]\n\nCancels the job without a savepoint; it stays registered as cancelled and does not restart with the service.',
    spinner: (job) => `cancelling "${job}"`,
    request: () => ({ path: 'cancel' }),
    describe: (job) => `job "${job}" cancelled\n`,
  },
  stop: {
    usage: 'Usage: sluice stop <job-name> [--savepoint] [options]\n\nStops the job; with --savepoint it first takes a savepoint that `sluice resume` or `submit --from <id>` restarts from.\n\n      --savepoint     take a savepoint before stopping',
    options: { savepoint: { type: 'boolean' } },
    spinner: (job) => `stopping "${job}"`,
    request: (values) => ({ path: 'stop', body: { savepoint: values['savepoint'] === true } }),
    describe: (job, answer) => {
      const savepoint = answer['savepoint'] as SavepointInfo | null;
      return `job "${job}" stopped${savepoint === null ? '' : ` with ${savepointLine(savepoint)}`}\n`;
    },
  },
  savepoint: {
    usage: 'Usage: sluice savepoint <job-name> [options]\n\nTakes a savepoint of the running job; savepoints are kept until deleted.',
    spinner: (job) => `taking a savepoint of "${job}"`,
    request: () => ({ path: 'savepoints' }),
    describe: (job, answer) => `job "${job}": ${savepointLine(answer['savepoint'] as SavepointInfo)}\n`,
  },
  rescale: {
    usage: 'Usage: sluice rescale <job-name> -p <n> [options]\n\nRescales the running job: checkpoint, stop, restart from it at the new parallelism.\n\n  -p, --parallelism <n>  the new parallelism',
    options: { parallelism: { type: 'string', short: 'p' } },
    spinner: (job) => `rescaling "${job}"`,
    request: (values, usage) => {
      const parallelism = positiveInteger('--parallelism', values['parallelism'] as string | undefined, usage);
      if (parallelism === undefined) throw new UsageError('sluice rescale needs -p <n>', usage);
      return { path: 'rescale', body: { parallelism } };
    },
    describe: (job, answer) => {
      const r = answer['rescale'] as RescaleRecord;
      return `job "${job}" rescaled ${r.from} → ${r.to} in ${formatDuration(r.durationMs)} (from checkpoint ${r.checkpointId})\n`;
    },
  },
  pause: {
    usage: 'Usage: sluice pause <job-name> [options]\n\nStops the job with a savepoint and keeps it registered as paused (also across service restarts).',
    spinner: (job) => `pausing "${job}"`,
    request: () => ({ path: 'pause' }),
    describe: (job, answer) => `job "${job}" paused at ${savepointLine(answer['savepoint'] as SavepointInfo)}\n`,
  },
  delete: {
    usage:
      'Usage: sluice delete <job-name> [--checkpoints] [options]\n\nForgets a job that is not running (cancel or stop it first): it leaves `sluice list`. Its checkpoints and savepoints\nstay, so submitting the same job name later resumes from them, unless --checkpoints deletes them too (for good).\n\n      --checkpoints   also delete the job\'s checkpoints and savepoints',
    options: { checkpoints: { type: 'boolean' } },
    spinner: (job) => `deleting "${job}"`,
    request: (values) => ({ path: values['checkpoints'] === true ? '?checkpoints=true' : '', method: 'DELETE' }),
    describe: (job, answer) => {
      const n = answer['checkpointsDeleted'] as number;
      return `job "${job}" deleted${n > 0 ? ` with its ${n} checkpoint(s) and savepoint(s)` : ''}\n`;
    },
  },
  resume: {
    usage: 'Usage: sluice resume <job-name> [options]\n\nStarts a paused or stopped job again from its savepoint (or its latest checkpoint).',
    spinner: (job) => `resuming "${job}"`,
    request: () => ({ path: 'resume' }),
    describe: (job, answer) => `job "${job}" ${(answer['job'] as JobStatus).state} (attempt ${(answer['job'] as JobStatus).attempt ?? 0})\n`,
  },
};


/** Verbs that also act on every job of a cluster at once (`--all`). */
const CLUSTER_WIDE = new Set(['pause', 'resume']);
const ALL_USAGE = '      --all           every job of the cluster (cluster mode only, docs/cluster.md)';

/**
 * A cluster member answers a job change with what it wrote to the cluster's jobs topic (the job's owner acts on it),
 * not with the job's new status.
 */
function describeClusterChange(job: string, answer: Record<string, unknown>): string | undefined {
  const change = answer['job'] as { desired?: string; parallelism?: number; version?: number } | undefined;
  if (change?.version === undefined) return undefined;
  const what = change.desired !== undefined ? `desired state ${change.desired}` : `parallelism ${change.parallelism}`;
  return `job "${job}": ${what} (cluster spec version ${change.version}); its owner applies it\n`;
}

/** `sluice cancel|stop|savepoint|rescale|pause|resume|delete <job>`: returns the process exit code. */
export async function jobControlCommand(verb: string, args: readonly string[], out: NodeJS.WriteStream): Promise<number> {
  const spec = VERBS[verb];
  if (spec === undefined) throw new Error(`not a job control verb: ${verb}`);
  const clusterWide = CLUSTER_WIDE.has(verb);
  const usage = `${spec.usage}\n\nOptions:\n${clusterWide ? `${ALL_USAGE}\n` : ''}${CONNECTION_USAGE}`;
  const { values, positionals } = parseCommandLine(args, { ...CONNECTION_OPTIONS, ...spec.options, ...(clusterWide ? { all: { type: 'boolean' as const } } : {}) }, usage);
  if (values.help === true) {
    out.write(`${usage}\n`);
    return EXIT.ok;
  }
  if (clusterWide && values['all'] === true) {
    if (positionals.length > 0) throw new UsageError(`sluice ${verb} --all takes no job name`, usage);
    const answer = await withSpinner(`${verb === 'pause' ? 'pausing' : 'resuming'} every job of the cluster`, connect(values as { url?: string; token?: string }).request<{ jobs: string[]; desired: string }>('POST', `/v1/cluster/${verb}`, {}));
    out.write(values.json === true ? `${JSON.stringify(answer)}\n` : `${answer.jobs.length} job(s) set to ${answer.desired}${answer.jobs.length > 0 ? `: ${answer.jobs.join(', ')}` : ''}\n`);
    return EXIT.ok;
  }
  const job = positionals[0];
  if (job === undefined) throw new UsageError(`sluice ${verb} needs a job name`, usage);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, usage);
  const { path, body, method = 'POST' } = spec.request(values, usage);
  const client = connect(values as { url?: string; token?: string });
  const url = `/v1/jobs/${encodeURIComponent(job)}${path === '' || path.startsWith('?') ? path : `/${path}`}`;
  const answer = await withSpinner(spec.spinner(job), client.request<Record<string, unknown>>(method, url, method === 'POST' ? (body ?? {}) : undefined));
  out.write(values.json === true ? `${JSON.stringify(answer)}\n` : describeClusterChange(job, answer) ?? spec.describe(job, answer));
  return EXIT.ok;
}
