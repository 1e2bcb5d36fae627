import { readFile } from 'node:fs/promises';
import type { Logger } from '../../logging/index.ts';
import type { Difference } from '../../testing/output-diff.ts';
import { verifyJob, type RunResult, type TopicInput } from '../../testing/verify-job.ts';
import { parseCommandLine, positiveInteger } from '../arguments.ts';
import { loadJobFile } from '../load-job.ts';
import { EXIT, UsageError } from '../usage-error.ts';

export const VERIFY_USAGE = `Usage: sluice verify <job.ts> [options]

Runs the job twice on an in-process devstack (Kafka broker + Elasticsearch server), once clean and once with
seeded crashes and restarts, and compares what it wrote: Kafka topics (read committed), Elasticsearch documents and
fileSink part files. Prints EXACT (exit 0) or DIFFERENT with the first differences (exit 1).

The job is pointed at the devstack with the parameters brokers, esNode and outDir (and the environment variables
KAFKA_BROKERS, ES_NODE and SLUICE_OUT_DIR); put fileSink directories under outDir (docs/testing.md). A job whose
sources or sinks name another broker, Elasticsearch node or path is refused before it runs, and one whose clean run
wrote nothing verify can read fails (exit 1).

Options:
      --faults <n>               crashes injected into the second run (default 3)
      --seed <n>                 seed of the faults: the same seed injects the same faults (default 1)
      --set <key=value>          job parameter, repeatable
      --input <topic=file.jsonl> create the topic and write one record per line of the file before each run,
                                 repeatable; a job reading Kafka runs until a checkpoint covers all of it
      --partitions <n>           partitions of input and auto-created topics (default 2)
      --checkpoint-ms <n>        checkpoint interval of both runs (default 100)
      --timeout-s <n>            time each run may take (default 120)
      --log-level <level>        the runs' log level (default error: injected faults log warnings)
  -h, --help                     show this help`;

/** `sluice verify`: the exactly-once check. Returns the exit code: 0 EXACT, 1 DIFFERENT or failed, 2 usage. */
export async function verifyCommand(args: readonly string[], logger: Logger, out: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseCommandLine(
    args,
    {
      faults: { type: 'string' },
      seed: { type: 'string' },
      set: { type: 'string', multiple: true },
      input: { type: 'string', multiple: true },
      partitions: { type: 'string' },
      'checkpoint-ms': { type: 'string' },
      'timeout-s': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    VERIFY_USAGE,
  );
  if (values.help === true) {
    out.write(`${VERIFY_USAGE}\n`);
    return EXIT.ok;
  }
  const file = positionals[0];
  if (file === undefined) throw new UsageError('sluice verify needs a job file', VERIFY_USAGE);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`, VERIFY_USAGE);
  const faults = values.faults === undefined ? 3 : nonNegativeInteger('--faults', values.faults);
  const seed = values.seed === undefined ? 1 : integer('--seed', values.seed);
  const params: Record<string, string> = {};
  for (const pair of values.set ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set expects key=value, got "${pair}"`, VERIFY_USAGE);
    params[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const inputs: TopicInput[] = [];
  for (const spec of values.input ?? []) {
    const eq = spec.indexOf('=');
    if (eq <= 0 || eq === spec.length - 1) throw new UsageError(`--input expects topic=file.jsonl, got "${spec}"`, VERIFY_USAGE);
    const path = spec.slice(eq + 1);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new UsageError(`--input ${spec}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`, VERIFY_USAGE);
    }
    inputs.push({ topic: spec.slice(0, eq), values: text.split('\n').filter((line) => line.trim() !== '') });
  }
  const partitions = positiveInteger('--partitions', values.partitions, VERIFY_USAGE);
  const checkpointMs = positiveInteger('--checkpoint-ms', values['checkpoint-ms'], VERIFY_USAGE);
  const timeoutS = positiveInteger('--timeout-s', values['timeout-s'], VERIFY_USAGE);

  const job = await loadJobFile(file);
  out.write(`sluice verify ${file}: job "${job.options.name}" twice on the devstack, clean and with ${faults} crash${faults === 1 ? '' : 'es'} (seed ${seed})\n`);
  const result = await verifyJob(job, {
    faults,
    seed,
    params,
    inputs,
    logger,
    ...(partitions === undefined ? {} : { partitions }),
    ...(checkpointMs === undefined ? {} : { checkpointIntervalMs: checkpointMs }),
    ...(timeoutS === undefined ? {} : { timeoutMs: timeoutS * 1000 }),
  });
  out.write(`  clean run    ${describeRun(result.clean)}\n`);
  out.write(`  faulty run   ${describeRun(result.faulty)}\n`);
  const report = result.faulty.faults;
  for (const fault of report.fired) out.write(`  fault ${String(fault.n).padStart(2)}     ${fault.point}: ${fault.description}\n`);
  if (report.pending > 0) out.write(`  note         ${report.pending} of ${report.planned.length} planned faults did not fire before the job ended\n`);
  const diff = result.diff;
  if (diff.identical) {
    out.write(`EXACT: with ${report.fired.length} crash${report.fired.length === 1 ? '' : 'es'} the job wrote exactly what the clean run wrote (${count(diff.expectedRecords)} records${outputList(result.clean)})\n`);
    return EXIT.ok;
  }
  out.write(
    `DIFFERENT: ${count(diff.missing)} missing, ${count(diff.duplicated)} duplicated, ${count(diff.differing)} differing, ${count(diff.unexpected)} unexpected, ${count(diff.reordered)} keys reordered ` +
      `(clean run ${count(diff.expectedRecords)} records, run with faults ${count(diff.actualRecords)})\n`,
  );
  out.write('First differences:\n');
  for (const d of diff.differences) out.write(`  ${describeDifference(d)}\n`);
  return EXIT.failure;
}

function describeRun(run: RunResult): string {
  const records = [...run.outputs.values()].reduce((n, r) => n + r.length, 0);
  return `${run.outcome}: ${run.attempts} attempt${run.attempts === 1 ? '' : 's'}, ${run.checkpoints} checkpoint${run.checkpoints === 1 ? '' : 's'}, ${count(records)} records in ${run.outputs.size} output${run.outputs.size === 1 ? '' : 's'}`;
}

/** The clean run's outputs (verify refuses a clean run without any: `SLUICE_VERIFY_NOTHING_TO_COMPARE`). */
function outputList(run: RunResult): string {
  return ` in ${[...run.outputs].map(([name, records]) => `${name} (${count(records.length)})`).join(', ')}`;
}

function describeDifference(d: Difference): string {
  const clip = (s: string | undefined): string => (s === undefined ? '' : s.length > 160 ? `${s.slice(0, 160)}…` : s);
  switch (d.kind) {
    case 'missing':
      return `${d.output}  missing     ${clip(d.expected)}`;
    case 'duplicated':
      return `${d.output}  duplicated  ${clip(d.expected)}  (${d.count} extra cop${d.count === 1 ? 'y' : 'ies'})`;
    case 'differing':
      return `${d.output}  differing   expected ${clip(d.expected)}\n${' '.repeat(d.output.length + 16)}got      ${clip(d.actual)}`;
    case 'unexpected':
      return `${d.output}  unexpected  ${clip(d.actual)}  (not in the clean run)`;
    case 'reordered':
      return `${d.output}  reordered   expected ${clip(d.expected)}\n${' '.repeat(d.output.length + 16)}got      ${clip(d.actual)}`;
  }
}

function count(n: number): string {
  return n.toLocaleString('en');
}

function nonNegativeInteger(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new UsageError(`${flag} expects a non-negative integer, got "${value}"`, VERIFY_USAGE);
  return n;
}

function integer(flag: string, value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n)) throw new UsageError(`${flag} expects an integer, got "${value}"`, VERIFY_USAGE);
  return n;
}
