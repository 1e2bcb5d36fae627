import type { JobSummary } from '../../service/index.ts';
import { parseCommandLine } from '../arguments.ts';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, connect } from '../client/connection.ts';
import { renderJobList } from '../client/render.ts';
import { EXIT, UsageError } from '../usage-error.ts';

export const LIST_USAGE = `Usage: sluice list [options]

Lists the jobs registered with the service: state, parallelism, attempt, uptime, last checkpoint.

Options:
${CONNECTION_USAGE}`;

/** `sluice list`: returns the process exit code. */
export async function listCommand(args: readonly string[], out: NodeJS.WriteStream): Promise<number> {
  const { values, positionals } = parseCommandLine(args, CONNECTION_OPTIONS, LIST_USAGE);
  if (values.help === true) {
    out.write(`${LIST_USAGE}\n`);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, LIST_USAGE);
  const answer = await connect(values).request<{ jobs: JobSummary[] }>('GET', '/v1/jobs');
  out.write(values.json === true ? `${JSON.stringify(answer)}\n` : renderJobList(answer.jobs));
  return EXIT.ok;
}
