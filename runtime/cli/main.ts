import { isSluiceError } from '../errors/index.ts';
import { JobValidationError } from '../graph/job-validation-error.ts';
import type { Logger } from '../logging/index.ts';
import { ServiceRequestError } from './client/service-client.ts';
import { ArgumentsParsed } from './arguments.ts';
import { EXIT, UsageError } from './usage-error.ts';

// Commands are imported when used: a client verb should not pay for loading the runtime, the devstack or pino
// (~1 s per invocation on a loaded machine), and scripts call it in loops.
const JOB_CONTROL_VERBS = new Set(['cancel', 'stop', 'savepoint', 'rescale', 'pause', 'resume', 'delete']);

const USAGE = `Usage: sluice <command> [options]

Commands:
  init <dir>              create a project: package.json, an example job and its test
  run <job.ts>            run a job in the foreground
  checkpoints <job-name>  list a job's checkpoints and savepoints
  state <job-name>        read a job's keyed state from a checkpoint in a data directory
  dev                     start the devstack (Kafka broker + Elasticsearch server) until Ctrl-C
  verify <job.ts>         run a job clean and with seeded crashes on the devstack; EXACT or DIFFERENT

Service (docs/cli.md):
  start                   run the service (REST API, job registry, checkpoints) until Ctrl-C
  submit <job.ts>         submit a job to the service
  list                    list the service's jobs
  status <job-name>       show a job's state, throughput, checkpoints, lag, exceptions
  cancel <job-name>       cancel a job
  stop <job-name>         stop a job (--savepoint to take one first)
  savepoint <job-name>    take a savepoint
  rescale <job-name> -p N change a running job's parallelism
  pause <job-name>        stop with a savepoint, keep it paused
  resume <job-name>       start a paused or stopped job again
  delete <job-name>       forget a job that is not running (--checkpoints: and its checkpoints)
  checkpoint <backup|restore|clear|catch-up> <job-name>
                          back up, restore, reprocess from earliest, skip to latest

Cluster (docs/cluster.md):
  start --cluster <name> --brokers <list>
                          join a cluster of services coordinated through Kafka
  cluster status          members, leader, each job's owner and last checkpoint
  pause --all, resume --all
                          pause or resume every job of the cluster

Run "sluice <command> --help" for a command's options.`;

/** Job-file problems a user fixes by editing the file or the command: exit code 2, like a usage error. */
const USER_INPUT_CODES = new Set([
  'SLUICE_USAGE',
  'SLUICE_INVALID_JOB',
  'SLUICE_JOB_FILE_NOT_FOUND',
  'SLUICE_JOB_FILE_IMPORT_FAILED',
  'SLUICE_JOB_FILE_SYNTAX_ERROR',
  'SLUICE_JOB_FILE_NO_JOB',
  'SLUICE_JOB_BUILD_FAILED',
  'SLUICE_JOB_PARAM_MISSING',
  'SLUICE_JOB_PARAM_INVALID',
  'SLUICE_STATE_NO_KEYED_STATE',
  'SLUICE_STATE_NO_OPERATOR_STATE',
  'SLUICE_INVALID_OPTION',
  'SLUICE_UNSAFE_BIND',
  'SLUICE_BACKUP_FILE_UNREADABLE',
  'SLUICE_BACKUP_TOO_LARGE',
  'SLUICE_INIT_DIR_NOT_EMPTY',
]);

/** Runs one CLI invocation and returns its exit code (0 ok, 1 failure, 2 usage or bad job). */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const levelFlag = rest.indexOf('--log-level');
  // `sluice run` on a terminal keeps a progress line at the bottom; its logger writes above it.
  const status = command === 'run' && process.stderr.isTTY === true ? new (await import('./status-line.ts')).StatusLine(process.stderr) : undefined;
  const logger = async (defaultLevel?: string): Promise<Logger> => {
    const { createLogger } = await import('../logging/index.ts');
    return createLogger({
      ...(defaultLevel === undefined ? {} : { level: defaultLevel }),
      ...(levelFlag >= 0 && rest[levelFlag + 1] !== undefined ? { level: rest[levelFlag + 1] as string } : {}),
      ...(status === undefined ? {} : { destination: status }),
    });
  };
  try {
    switch (command) {
      case 'run':
        return await (await import('./commands/run.ts')).runCommand(rest, await logger(), process.stdout, status);
      case 'init':
        return await (await import('./commands/init.ts')).initCommand(rest, process.stdout);
      case 'checkpoints':
        return await (await import('./commands/checkpoints.ts')).checkpointsCommand(rest, await logger(), process.stdout);
      case 'state':
        return await (await import('./commands/state.ts')).stateCommand(rest, await logger(), process.stdout);
      case 'dev':
        return await (await import('./commands/dev.ts')).devCommand(rest, await logger(), process.stdout);
      case 'verify':
        return await (await import('./commands/verify.ts')).verifyCommand(rest, await logger('error'), process.stdout);
      case 'start':
        return await (await import('./commands/start.ts')).startCommand(rest, await logger(), process.stdout);
      case 'submit':
        return await (await import('./commands/submit.ts')).submitCommand(rest, process.stdout);
      case 'list':
        return await (await import('./commands/list.ts')).listCommand(rest, process.stdout);
      case 'status':
        return await (await import('./commands/status.ts')).statusCommand(rest, process.stdout);
      case 'checkpoint':
        return await (await import('./commands/checkpoint-tools.ts')).checkpointToolCommand(rest, process.stdout);
      case 'cluster':
        return await (await import('./commands/cluster.ts')).clusterCommand(rest, process.stdout);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? EXIT.usage : EXIT.ok;
      default:
        if (JOB_CONTROL_VERBS.has(command)) return await (await import('./commands/job-control.ts')).jobControlCommand(command, rest, process.stdout);
        throw new UsageError(`unknown command "${command}"`, USAGE);
    }
  } catch (err) {
    status?.clear();
    if (err instanceof ArgumentsParsed) return EXIT.ok;
    if (err instanceof UsageError) {
      process.stderr.write(`sluice: ${err.message}\n\n${err.usage}\n`);
      return EXIT.usage;
    }
    if (err instanceof ServiceRequestError) {
      // The service's answer: its message, every problem it listed, and exit 2 when the request was wrong (HTTP 400).
      process.stderr.write(`sluice: ${err.message} [${err.code}]\n${err.problems.map((p) => `  - ${p}\n`).join('')}`);
      return err.exitCode;
    }
    if (err instanceof JobValidationError) {
      process.stderr.write(`sluice: ${err.message}\n`);
      return EXIT.usage;
    }
    if (isSluiceError(err)) {
      process.stderr.write(`sluice: ${err.message} [${err.code}]\n`);
      return USER_INPUT_CODES.has(err.code) ? EXIT.usage : EXIT.failure;
    }
    process.stderr.write(`sluice: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return EXIT.failure;
  }
}

// Run when executed directly (`tsx runtime/cli/main.ts`, as `npm start` does); bin/sluice.js calls main() itself.
if ((process.argv[1] ?? '').endsWith('runtime/cli/main.ts')) {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
}
