import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { JobParams, type JobDefinition } from '../api/index.ts';
import { buildPhysicalPlan } from '../graph/index.ts';
import { silentLogger, type Logger } from '../logging/index.ts';
import { startElasticsearch } from '../../devstack/elasticsearch/index.ts';
import { startKafkaBroker } from '../../devstack/kafka/index.ts';
import { listIndices, readIndexDocuments } from './elasticsearch-documents.ts';
import type { FaultReport } from './fault-injector.ts';
import { covers, startJob, type JobRun } from './job-run.ts';
import { listTopics, readCommittedTopic, seedTopic, topicEnds } from './kafka-topics.ts';
import { canonicalJson, diffOutputs, type OutputDiff, type OutputRecord, type Outputs } from './output-diff.ts';
import { checkInputs, checkVerifiable, nothingToCompare } from './verify-sandbox.ts';

/** Input records for a Kafka topic the job reads: one value per record. */
export interface TopicInput {
  /** The topic to create and fill before the runs. */
  readonly topic: string;
  /** Its records' values, in order (spread over its partitions round robin). */
  readonly values: readonly string[];
}

/** Options of {@link verifyJob}. */
export interface VerifyOptions {
  /** Faults injected into the second run; default 3. */
  readonly faults?: number;
  /** Seed of the faults; default 1. */
  readonly seed?: number;
  /** Job parameters besides the devstack ones (which win: see {@link DEVSTACK_PARAMS}). */
  readonly params?: Readonly<Record<string, string>>;
  /** Topics to create and fill before each run, for jobs that read Kafka. */
  readonly inputs?: readonly TopicInput[];
  /** Partitions of seeded and auto-created topics; default 2. */
  readonly partitions?: number;
  /** Overrides the job's checkpoint interval; default 100 ms, so faults meet checkpoints soon. */
  readonly checkpointIntervalMs?: number;
  /** Real milliseconds each run may take; default 120,000. */
  readonly timeoutMs?: number;
  /** Where the runs log; default silent. */
  readonly logger?: Logger;
}

/**
 * The parameters `sluice verify` gives a job (and the environment variables it sets while the job is built), pointing
 * it at the devstack it started for the run: read your endpoints from them.
 *
 * - `brokers` / `KAFKA_BROKERS`: the devstack broker, `host:port`;
 * - `esNode` / `ES_NODE`: the devstack Elasticsearch URL;
 * - `outDir` / `SLUICE_OUT_DIR`: an empty directory of the run; fileSink directories under it are compared.
 */
export const DEVSTACK_PARAMS = { brokers: 'KAFKA_BROKERS', esNode: 'ES_NODE', outDir: 'SLUICE_OUT_DIR' } as const;

/** What one run wrote, and how it went. */
export interface RunResult {
  /** What the run wrote, by output. */
  readonly outputs: Outputs;
  /** `finished`: bounded sources ran out; `stopped`: verify stopped it once its input was covered. */
  readonly outcome: 'finished' | 'stopped';
  /** Attempts the run took (1 + restarts). */
  readonly attempts: number;
  /** Checkpoints completed. */
  readonly checkpoints: number;
  /** The faults planned and fired. */
  readonly faults: FaultReport;
}

/** What {@link verifyJob} found: both runs, and how the faulty run's output differs from the clean run's. */
export interface VerifyResult {
  /** The run without faults. */
  readonly clean: RunResult;
  /** The run with seeded crashes. */
  readonly faulty: RunResult;
  /** How the faulty run's output differs from the clean run's. */
  readonly diff: OutputDiff;
}

/**
 * Runs `job` twice on a fresh in-process devstack each time, once clean and once with seeded crashes and restarts,
 * and compares what it wrote: Kafka topics read committed, Elasticsearch documents, fileSink part files. A job
 * with bounded sources runs to its end; one reading Kafka runs until a checkpoint covers every seeded input record
 * (and every planned fault fired), its output is committed, and it is stopped.
 *
 * @example
 * ```ts
 * const result = await verifyJob(job, { faults: 3, seed: 42 });
 * if (!result.diff.identical) console.error(result.diff.differences);
 * ```
 */
export async function verifyJob(job: JobDefinition, options: VerifyOptions = {}): Promise<VerifyResult> {
  const clean = await runOnDevstack(job, options, 0);
  const faulty = await runOnDevstack(job, options, options.faults ?? 3);
  return { clean, faulty, diff: diffOutputs(clean.outputs, faulty.outputs) };
}

async function runOnDevstack(job: JobDefinition, options: VerifyOptions, crashes: number): Promise<RunResult> {
  const logger = options.logger ?? silentLogger();
  const partitions = options.partitions ?? 2;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const broker = await startKafkaBroker({ numPartitions: partitions });
  const es = await startElasticsearch();
  const outDir = await mkdtemp(join(tmpdir(), 'sluice-verify-'));
  const devstack = { brokers: broker.brokers.join(','), esNode: es.node, outDir };
  const savedEnv = Object.fromEntries(Object.values(DEVSTACK_PARAMS).map((name) => [name, process.env[name]]));
  let run: JobRun | undefined;
  try {
    for (const [param, env] of Object.entries(DEVSTACK_PARAMS)) process.env[env] = devstack[param as keyof typeof devstack];
    const params = { ...options.params, ...devstack };
    const plan = buildPhysicalPlan(job, { params: new JobParams(Object.entries(params)) });
    checkVerifiable(plan, { brokers: broker.brokers, esNode: es.node, outDir });
    checkInputs(plan, (options.inputs ?? []).map((input) => input.topic));
    for (const input of options.inputs ?? []) await seedTopic(broker.brokers, input.topic, input.values, partitions);
    run = await startJob(job, {
      params,
      checkpointIntervalMs: options.checkpointIntervalMs ?? 100,
      logger,
      ...(crashes === 0 ? {} : { faults: { crashes, seed: options.seed ?? 1 } }),
    });
    const bounded = run.runner.plan.stages.every((stage) => {
      const head = stage.operators[0]?.node;
      return head?.kind !== 'source' || head.source.bounded;
    });
    let outcome: RunResult['outcome'];
    if (bounded) {
      await raceDeadline(run.finished, timeoutMs, 'the job to finish');
      outcome = 'finished';
    } else {
      const ends: Record<string, number> = {};
      for (const input of options.inputs ?? []) Object.assign(ends, await topicEnds(broker.brokers, input.topic));
      const current = run;
      // Two checkpoints of one attempt that both cover the input: the sinks committed the first before acknowledging
      // the second, so everything the input produced is committed when the job stops.
      await current.until(() => {
        if (current.faults.pending > 0) return false;
        const covering = current.checkpoints.filter((m) => coversInputs(m, ends));
        const attemptStart = current.events.findLastIndex((e) => e.type === 'attempt-started');
        const ofThisAttempt = current.events.slice(attemptStart).filter((e) => e.type === 'checkpoint-completed' && covering.includes(e.manifest));
        return ofThisAttempt.length >= 2;
      }, { timeoutMs });
      await current.stop();
      outcome = 'stopped';
    }
    logger.debug({ crashes }, 'verify: reading the outputs back');
    const outputs = await raceDeadline(readOutputs(broker.brokers, es.node, outDir, new Set((options.inputs ?? []).map((i) => i.topic))), timeoutMs, 'the outputs to be read back');
    if (crashes === 0 && outputs.size === 0) throw nothingToCompare(plan);
    return { outputs, outcome, attempts: run.attempts, checkpoints: run.checkpoints.length, faults: run.faults };
  } finally {
    // Each step is bounded and named: a verify that hangs while tearing down says where, instead of never exiting.
    const step = async (what: string, action: () => Promise<unknown>): Promise<void> => {
      logger.debug({ crashes }, `verify: ${what}`);
      await raceDeadline(action(), CLOSE_STEP_TIMEOUT_MS, what).catch((err: unknown) => logger.warn({ err }, `verify: ${what} did not finish; going on`));
    };
    await step('closing the job run', async () => run?.close());
    for (const [name, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await step('closing the devstack Kafka broker', () => broker.close());
    await step('closing the devstack Elasticsearch server', () => es.close());
    await rm(outDir, { recursive: true, force: true });
  }
}

/** Every seeded split is at its end in some source of the checkpoint (the Kafka source's splits are `topic-p`). */
function coversInputs(manifest: Parameters<typeof covers>[0], ends: Readonly<Record<string, number>>): boolean {
  return Object.entries(ends).every(([split, end]) => end === 0 || Object.keys(manifest.sourcePositions).some((uid) => covers(manifest, { [uid]: { [split]: end } })));
}

/** How long one teardown step of a verify run may take before it is logged and skipped. */
const CLOSE_STEP_TIMEOUT_MS = 30_000;

async function raceDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function readOutputs(brokers: readonly string[], esNode: string, outDir: string, inputs: ReadonlySet<string>): Promise<Outputs> {
  const outputs = new Map<string, OutputRecord[]>();
  for (const topic of await listTopics(brokers)) {
    if (inputs.has(topic)) continue;
    const records = await readCommittedTopic(brokers, topic);
    // In log order, so each key's records are compared in the order a consumer of its partition reads them.
    const inLogOrder = [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    outputs.set(
      `kafka:${topic}`,
      inLogOrder.map((r) => ({ content: canonicalJson({ key: r.key, value: parseMaybe(r.value) }), ...(r.key === null ? {} : { identity: r.key, sequence: `partition ${r.partition} key ${r.key}` }) })),
    );
  }
  for (const index of await listIndices(esNode)) {
    const docs = await readIndexDocuments(esNode, index);
    outputs.set(`elasticsearch:${index}`, docs.map((d) => ({ content: canonicalJson({ _id: d.id, _source: d.source }), identity: d.id })));
  }
  for (const [dir, lines] of await readFileOutputs(outDir)) outputs.set(`file:${relative(outDir, dir) || '.'}`, lines.map((line) => ({ content: canonicalJson(parseMaybe(line)) })));
  return outputs;
}

/** Committed fileSink part files (`part-*.ndjson`) under `root`, by directory. */
async function readFileOutputs(root: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (/^part-.*\.ndjson$/.test(entry.name)) {
        const lines = out.get(dir) ?? [];
        out.set(dir, lines);
        for (const line of (await readFile(path, 'utf8')).split('\n')) if (line !== '') lines.push(line);
      }
    }
  };
  await walk(root);
  return out;
}

function parseMaybe(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
