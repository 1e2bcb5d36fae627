import { parseCommandLine } from '../arguments.ts';
import { CONNECTION_OPTIONS, CONNECTION_USAGE, connect } from '../client/connection.ts';
import { formatTable } from '../client/table.ts';
import { EXIT, UsageError } from '../usage-error.ts';

export const CLUSTER_USAGE = `Usage: sluice cluster status [options]

Shows a cluster (docs/cluster.md) as any of its members sees it: the members, the leader, which member runs each
job, each job's state and last replicated checkpoint, and jobs being handed from one member to another.

Options:
${CONNECTION_USAGE}`;

interface ClusterStatus {
  cluster: string;
  generation: number | null;
  leader: string | null;
  members: Array<{ name: string; url: string; jobs: string[] }>;
  handingOver: string[];
  jobs: Array<{ name: string; desired: string; version: number; parallelism: number | null; owner: string | null; state: string; lastCheckpoint: { id: number; kind: string; at: number; bytes: number } | null; error: string | null }>;
}

/** `sluice cluster status`: returns the process exit code. */
export async function clusterCommand(args: readonly string[], out: NodeJS.WriteStream): Promise<number> {
  const { values, positionals } = parseCommandLine(args, CONNECTION_OPTIONS, CLUSTER_USAGE);
  if (values.help === true) {
    out.write(`${CLUSTER_USAGE}\n`);
    return EXIT.ok;
  }
  if (positionals[0] !== 'status') throw new UsageError(positionals[0] === undefined ? 'sluice cluster needs a subcommand: status' : `unknown subcommand "${positionals[0]}": sluice cluster status`, CLUSTER_USAGE);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, CLUSTER_USAGE);
  const answer = await connect(values).request<{ cluster: ClusterStatus }>('GET', '/v1/cluster');
  out.write(values.json === true ? `${JSON.stringify(answer)}\n` : renderCluster(answer.cluster));
  return EXIT.ok;
}

function renderCluster(c: ClusterStatus): string {
  const members = formatTable(['MEMBER', 'URL', 'JOBS'], c.members.map((m) => [m.name, m.url, m.jobs.length === 0 ? '-' : m.jobs.join(', ')]));
  const jobs = formatTable(
    ['JOB', 'STATE', 'DESIRED', 'OWNER', 'LAST CHECKPOINT'],
    c.jobs.map((j) => [
      j.name,
      j.state,
      j.desired,
      j.owner ?? (c.handingOver.includes(j.name) ? '(handing over)' : '-'),
      j.lastCheckpoint === null ? '-' : `${j.lastCheckpoint.kind} ${j.lastCheckpoint.id}, ${new Date(j.lastCheckpoint.at).toISOString()}`,
    ]),
  );
  const errors = c.jobs.filter((j) => j.state === 'failed' && j.error !== null).map((j) => `job "${j.name}" failed: ${j.error}\n`);
  return `cluster "${c.cluster}": generation ${c.generation ?? '?'}, leader ${c.leader ?? '(none yet)'}\n\n${members}\n${jobs}${errors.length > 0 ? `\n${errors.join('')}` : ''}`;
}
