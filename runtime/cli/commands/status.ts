import type { JobStatus } from '../../service/index.ts';
import { parseCommandLine } from '../arguments.ts';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, connect } from '../client/connection.ts';
import { renderJobStatus } from '../client/render.ts';
import { EXIT, UsageError } from '../usage-error.ts';

export const STATUS_USAGE = `Usage: sluice status <job-name> [options]

Shows a job: state, attempt, uptime, parallelism, records in/out per second per stage, backpressure, checkpoint
history with durations and sizes, per-partition source lag, rescales and recent exceptions. Secrets in its
parameters are shown as ***.

Options:
${CONNECTION_USAGE}`;

/** `sluice status`: returns the process exit code. */
export async function statusCommand(args: readonly string[], out: NodeJS.WriteStream): Promise<number> {
  const { values, positionals } = parseCommandLine(args, CONNECTION_OPTIONS, STATUS_USAGE);
  if (values.help === true) {
    out.write(`${STATUS_USAGE}\n`);
    return EXIT.ok;
  }
  const name = positionals[0];
  if (name === undefined) throw new UsageError('sluice status needs a job name', STATUS_USAGE);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, STATUS_USAGE);
  const answer = await connect(values).request<{ job: JobStatus }>('GET', `/v1/jobs/${encodeURIComponent(name)}`);
  out.write(values.json === true ? `${JSON.stringify(answer)}\n` : renderJobStatus(answer.job));
  return EXIT.ok;
}
