import { asyncMapProblems } from '../api/async-map.ts';
import { ERROR_OUTPUT, LATE_LEFT_OUTPUT, LATE_OUTPUT, LATE_RIGHT_OUTPUT, JobParams, type JobDefinition, type JobOptions, type OutputDeclarations, type WindowSpec } from '../api/index.ts';
import { recordLogicalGraph } from '../api/job.ts';
import { inputsOf, KEYED_KINDS, SKIPPABLE_KINDS, type LogicalNode } from '../api/logical-graph.ts';
import { SluiceError } from '../errors/index.ts';
import { LEVELDB_MAX_OPEN_FILES, LEVELDB_MIN_OPEN_FILES } from '../support/leveldb-open-files.ts';
import { validateRescaleOptions } from '../rescale/index.ts';
import { MAX_MAX_PARALLELISM } from '../state/index.ts';
import { RESERVED_STATE_PREFIX, ttlProblem } from '../state/ttl/state-ttl.ts';
import { JobValidationError } from './job-validation-error.ts';
import type { PhysicalPlan, PlannedOperator, Stage, StageInput } from './physical-plan.ts';

export const DEFAULT_MAX_PARALLELISM = 128;
const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const STATE_KINDS = new Set(['value', 'map', 'list']);

/** Overrides applied on top of the job's own options (from the CLI or the service). */
export interface PlanOverrides {
  params?: JobParams;
  /** Replaces the job's default parallelism (explicit per-operator parallelism stays). */
  parallelism?: number;
}

/**
 * Turns a job definition into a validated physical plan: resolves uids and parallelism, chains forward edges and
 * splits stages at `keyBy` (hash) and `rebalance` edges. Every problem found is reported in one
 * {@link JobValidationError}.
 *
 * @example
 * ```ts
 * const plan = buildPhysicalPlan(job, { parallelism: 4 });
 * for (const stage of plan.stages) console.log(stage.parallelism, stage.operators.map((o) => o.uid));
 * ```
 */
export function buildPhysicalPlan(job: JobDefinition, overrides: PlanOverrides = {}): PhysicalPlan {
  const name = job.options.name;
  const problems: string[] = [];
  if (typeof name !== 'string' || !JOB_NAME.test(name)) {
    problems.push(`job name ${JSON.stringify(name)} must be 1–128 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  }
  const maxParallelism = job.options.maxParallelism ?? DEFAULT_MAX_PARALLELISM;
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > MAX_MAX_PARALLELISM) {
    problems.push(`maxParallelism must be an integer from 1 to ${MAX_MAX_PARALLELISM}, got ${String(maxParallelism)}`);
  }
  const parallelism = overrides.parallelism ?? job.options.parallelism ?? 1;
  checkParallelism('the job', parallelism, maxParallelism, problems);
  problems.push(...validateRescaleOptions(job.options.rescale, maxParallelism));

  let nodes: LogicalNode[];
  try {
    nodes = recordLogicalGraph(job, overrides.params ?? new JobParams());
  } catch (err) {
    if (err instanceof SluiceError) throw err;
    throw new SluiceError('SLUICE_JOB_BUILD_FAILED', `building the graph of job "${name}" threw: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  if (nodes.length === 0) problems.push('the job defines no source: call env.source(...) in its build function');

  const uids = resolveUids(nodes, problems);
  const consumers = new Map<number, LogicalNode[]>();
  for (const node of nodes) {
    for (const input of inputsOf(node)) {
      const list = consumers.get(input.node) ?? [];
      list.push(node);
      consumers.set(input.node, list);
    }
  }

  for (const node of nodes) {
    const uid = uids.get(node.id) ?? `#${node.id}`;
    const consumed = consumers.get(node.id) ?? [];
    for (const input of inputsOf(node)) {
      if (!(input.node < node.id)) problems.push(`operator "${uid}" reads operator #${input.node}, which does not come before it: the graph has a cycle`);
    }
    if (consumed.length === 0 && node.kind !== 'sink') {
      problems.push(`the pipeline ending at "${uid}" has no sink: end it with .sink(...)`);
    }
    if (node.parallelism !== undefined) checkParallelism(`operator "${uid}"`, node.parallelism, maxParallelism, problems);
    if (KEYED_KINDS.has(node.kind) && node.input?.partitioning !== 'hash') {
      problems.push(`operator "${uid}" (${node.kind}) is keyed but its input is not: add .keyBy(...) before it`);
    }
    if (node.kind === 'process' || node.kind === 'coProcess' || node.kind === 'broadcastProcess') {
      const declared = Object.entries(node.fn?.state ?? {});
      if (declared.length > 0 && node.input?.partitioning !== 'hash') {
        problems.push(`operator "${uid}" declares state (${declared.map(([n]) => n).join(', ')}) outside a keyed context: add .keyBy(...) before it`);
      }
      for (const [stateName, decl] of declared) {
        if (typeof decl !== 'object' || decl === null || !STATE_KINDS.has((decl as { kind?: string }).kind ?? '')) {
          problems.push(`operator "${uid}" declares state "${stateName}" that is not a valueState(), mapState() or listState() declaration`);
          continue;
        }
        if (stateName.startsWith(RESERVED_STATE_PREFIX)) problems.push(`operator "${uid}" declares state "${stateName}": names starting with "${RESERVED_STATE_PREFIX}" are Sluice's own; rename it`);
        const ttl = (decl as { ttl?: unknown }).ttl;
        const wrong = ttl === undefined ? undefined : ttlProblem(ttl);
        if (wrong !== undefined) problems.push(`operator "${uid}" declares state "${stateName}" with a bad time-to-live: ${wrong}`);
      }
      problems.push(...sideOutputProblems(uid, node.fn?.outputs, consumed));
    }
    problems.push(...connectProblems(uid, node));
    // A window's or a join's late records read without its results: those would be emitted to nothing.
    const lateOnly = consumed.length > 0 && consumed.every((c) => c.kind === 'sideOutput' && LATE_OUTPUTS.has(c.output));
    if (lateOnly) problems.push(`the results of ${node.kind === 'window' ? 'window' : 'join'} "${uid}" are not read, only its late records: send its results to a sink too`);
    if (node.kind === 'sideOutput') {
      const parent = node.input === undefined ? undefined : nodes[node.input.node];
      if (node.output === LATE_OUTPUT && parent?.kind !== 'window') {
        problems.push(`the late records of "${uids.get(parent?.id ?? -1) ?? '?'}" are read, but it is not a window: only a window's results offer .lateRecords()`);
      }
      if (node.output === ERROR_OUTPUT && parent?.onError !== 'output') {
        problems.push(`the error output of "${uids.get(parent?.id ?? -1) ?? '?'}" is read, but its onError policy is '${parent?.onError ?? 'fail'}': drop the onError(...) call or use onError('output')`);
      }
    }
    if (node.onError === 'output' && !consumed.some((c) => c.kind === 'sideOutput' && c.output === ERROR_OUTPUT)) {
      problems.push(`operator "${uid}" sends failed records to its error output (onError 'output'), but nothing reads it: add .errors().sink(...) after it`);
    }
    if (node.kind === 'source' && typeof node.source?.createReader !== 'function') {
      problems.push(`source "${uid}" is not a Source (it has no createReader function)`);
    }
    if (node.kind === 'sink' && typeof node.sink?.createWriter !== 'function') {
      problems.push(`sink "${uid}" is not a Sink (it has no createWriter function)`);
    }
    if (node.kind === 'asyncMap') problems.push(...asyncMapProblems(uid, node.options));
    if ((node.kind === 'map' || node.kind === 'filter' || node.kind === 'flatMap' || node.kind === 'asyncMap' || node.kind === 'reduce') && typeof node.fn !== 'function') {
      problems.push(`operator "${uid}" (${node.kind}) needs a function`);
    }
    if (node.kind === 'process' && typeof node.fn?.processElement !== 'function') {
      problems.push(`operator "${uid}" (process) needs a processElement function`);
    }
    if (node.kind === 'window') problems.push(...windowProblems(uid, node.window, consumed));
    if ((node.onError === 'skip' || node.onError === 'output') && !SKIPPABLE_KINDS.has(node.kind)) {
      problems.push(`operator "${uid}" (${node.kind}) cannot ${node.onError} records: onError('${node.onError}') applies to map, filter, flatMap, asyncMap, process, reduce and the connected process functions${node.kind === 'source' ? "; for a source's malformed records use its deadLetter or format options" : ''}`);
    }
  }
  problems.push(...stateBackendProblems(job.options.state));
  if (problems.length > 0) throw new JobValidationError(String(name), problems);

  const consumerCount = (id: number): number => consumers.get(id)?.length ?? 0;
  const plan: Mutable<PhysicalPlan> = { job: name, parallelism, maxParallelism, stages: chainStages(nodes, uids, parallelism, consumerCount) };
  const { checkpoints, state } = job.options;
  if (checkpoints !== undefined && checkpoints !== false) {
    const onLevelDb = state?.backend === 'leveldb';
    if (checkpoints.incremental ?? onLevelDb) plan.incrementalCheckpoints = true;
    else {
      // Full checkpoints: the store merges deltas into full blobs one key group at a time, so subtasks that can
      // send deltas do. LevelDB subtasks always can: a full snapshot would hold every key group's blob in memory
      // until the checkpoint is stored, which a state larger than the heap cannot afford. Heap subtasks do on worker
      // threads that leave the main thread a core (runtime/exec/subtask-factory.ts), where packing all of the state
      // at every checkpoint would cost the records' thread what a merge costs the otherwise idle main thread.
      plan.standAloneCheckpoints = true;
      if (onLevelDb) plan.incrementalCheckpoints = true;
    }
  }
  if (state?.backend === 'leveldb') {
    plan.leveldbState = {
      ...(state.cacheBytes === undefined ? {} : { cacheBytes: state.cacheBytes }),
      ...(state.directory === undefined ? {} : { directory: state.directory }),
      ...(state.maxOpenFiles === undefined ? {} : { maxOpenFiles: state.maxOpenFiles }),
    };
  }
  return plan;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Problems with the `state` job option. */
function stateBackendProblems(state: JobOptions['state']): string[] {
  if (state === undefined) return [];
  if (typeof state !== 'object' || state === null) return [`state must be an object like { backend: 'leveldb' }, got ${String(state)}`];
  const problems: string[] = [];
  if (state.backend !== 'heap' && state.backend !== 'leveldb') problems.push(`state.backend must be 'heap' or 'leveldb', got ${JSON.stringify(state.backend)}`);
  if (state.cacheBytes !== undefined && (!Number.isInteger(state.cacheBytes) || state.cacheBytes < 1)) {
    problems.push(`state.cacheBytes must be a positive whole number of bytes (e.g. 67108864 for 64 MiB), got ${String(state.cacheBytes)}`);
  }
  if (state.directory !== undefined && (typeof state.directory !== 'string' || state.directory.length === 0)) {
    problems.push(`state.directory must be a folder path, got ${JSON.stringify(state.directory)}`);
  }
  if (state.maxOpenFiles !== undefined && (!Number.isInteger(state.maxOpenFiles) || state.maxOpenFiles < LEVELDB_MIN_OPEN_FILES || state.maxOpenFiles > LEVELDB_MAX_OPEN_FILES)) {
    // LevelDB silently clips max_open_files to this range; a value outside it would not do what it says.
    problems.push(`state.maxOpenFiles must be a whole number from ${LEVELDB_MIN_OPEN_FILES} to ${LEVELDB_MAX_OPEN_FILES} (LevelDB's range; default 1000), got ${String(state.maxOpenFiles)}`);
  }
  if (state.backend === 'heap' && (state.cacheBytes !== undefined || state.directory !== undefined || state.maxOpenFiles !== undefined)) {
    problems.push(`state.cacheBytes, state.directory and state.maxOpenFiles apply to the leveldb backend only; set state.backend to 'leveldb' or remove them`);
  }
  return problems;
}

function checkParallelism(what: string, p: number, maxParallelism: number, problems: string[]): void {
  if (!Number.isInteger(p) || p < 1) {
    problems.push(`parallelism of ${what} must be a positive integer, got ${String(p)}`);
  } else if (Number.isInteger(maxParallelism) && p > maxParallelism) {
    problems.push(`parallelism ${p} of ${what} exceeds maxParallelism ${maxParallelism}: raise maxParallelism (fixed for the life of the job's state) or lower the parallelism`);
  }
}

/** Explicit uids are kept; the others are derived from the operator's kind and position, e.g. `reduce-3`. */
function resolveUids(nodes: readonly LogicalNode[], problems: string[]): Map<number, string> {
  const uids = new Map<number, string>();
  const seen = new Map<string, number>();
  for (const node of nodes) {
    const uid = node.uid ?? `${node.kind}-${node.id}`;
    const previous = seen.get(uid);
    if (previous !== undefined) {
      problems.push(`uid "${uid}" is used by two operators (#${previous} and #${node.id}): uids must be unique`);
    }
    seen.set(uid, node.id);
    uids.set(node.id, uid);
  }
  return uids;
}

/**
 * Chains forward edges with equal parallelism into stages. A hash edge between two stages of parallelism 1 is also
 * chained: every key group belongs to subtask 0, so the channel would only cost a copy. A stream consumed more than
 * once (fan-out) ends its stage: each consumer starts a stage of its own, fed through channels (forward ones, subtask
 * i to subtask i, where the parallelism is the same and no keyBy or rebalance says otherwise).
 */
function chainStages(nodes: readonly LogicalNode[], uids: ReadonlyMap<number, string>, jobParallelism: number, consumerCount: (id: number) => number): Stage[] {
  const stageOf = new Map<number, number>();
  const building: Array<{ parallelism: number; operators: PlannedOperator[]; inputs: StageInput[]; outputs: number[] }> = [];
  /** How a stage of parallelism `p` reads a stream of stage `upstreamIndex` through channels. */
  const edge = (input: LogicalNode['input'] & object, upstreamIndex: number, p: number): StageInput =>
    input.partitioning === 'hash' && input.keySelector !== undefined
      ? { stage: upstreamIndex, partitioning: 'hash', keySelector: input.keySelector }
      : input.partitioning === 'broadcast'
        ? { stage: upstreamIndex, partitioning: 'broadcast' }
        : input.partitioning === 'forward' && building[upstreamIndex]?.parallelism === p
          ? { stage: upstreamIndex, partitioning: 'forward' }
          : { stage: upstreamIndex, partitioning: 'rebalance' };

  for (const node of nodes) {
    // A side output runs where the operator that emits it runs, unless told otherwise.
    const parentStage = node.kind === 'sideOutput' && node.input !== undefined ? building[stageOf.get(node.input.node) ?? -1] : undefined;
    const p = node.parallelism ?? parentStage?.parallelism ?? jobParallelism;
    const keySelector = node.input?.partitioning === 'hash' ? node.input.keySelector : undefined;
    const op: PlannedOperator = {
      uid: uids.get(node.id) ?? `${node.kind}-${node.id}`,
      name: node.name,
      node,
      stateful: isStateful(node),
      keySelector,
    };
    if (node.input === undefined) {
      stageOf.set(node.id, building.length);
      building.push({ parallelism: p, operators: [op], inputs: [], outputs: [] });
      continue;
    }
    if (node.kind === 'union' || node.kind === 'coProcess' || node.kind === 'broadcastProcess') {
      // Several inputs: a stage of its own, reading every input's stage through channels.
      const index = building.length;
      const inputs = node.inputs.map((input) => {
        const upstreamIndex = stageOf.get(input.node) as number;
        (building[upstreamIndex] as { outputs: number[] }).outputs.push(index);
        return edge(input, upstreamIndex, p);
      });
      stageOf.set(node.id, index);
      building.push({ parallelism: p, operators: [op], inputs, outputs: [] });
      continue;
    }
    const upstreamIndex = stageOf.get(node.input.node);
    const upstream = upstreamIndex === undefined ? undefined : building[upstreamIndex];
    if (upstream === undefined || upstreamIndex === undefined) continue; // validated above: inputs always precede
    if (node.kind === 'sideOutput') {
      // Never chained: the side output leaves the emitting operator's stage through channels of its own.
      upstream.outputs.push(building.length);
      stageOf.set(node.id, building.length);
      building.push({ parallelism: p, operators: [op], inputs: [{ ...edge(node.input, upstreamIndex, p), output: node.output }], outputs: [] });
      continue;
    }
    const chainable =
      upstream.parallelism === p &&
      consumerCount(node.input.node) === 1 &&
      (node.input.partitioning === 'forward' || (node.input.partitioning === 'hash' && p === 1));
    if (chainable) {
      upstream.operators.push(op);
      stageOf.set(node.id, upstreamIndex);
      continue;
    }
    upstream.outputs.push(building.length);
    stageOf.set(node.id, building.length);
    building.push({ parallelism: p, operators: [op], inputs: [edge(node.input, upstreamIndex, p)], outputs: [] });
  }
  return building.map((s, index) => ({ index, ...s }));
}

function isStateful(node: LogicalNode): boolean {
  switch (node.kind) {
    case 'source':
    case 'sink':
    case 'reduce':
    case 'window':
    // Its records in flight are operator state.
    case 'asyncMap':
    case 'coProcess':
    case 'broadcastProcess':
      return true;
    case 'process':
      // A keyed process has a state backend even without declared state: its timers are checkpointed.
      return node.input?.partitioning === 'hash' || (node.fn.state !== undefined && Object.keys(node.fn.state).length > 0);
    default:
      return false;
  }
}

/** The side outputs that carry an operator's late records: a window's, and either side's of a join. */
const LATE_OUTPUTS: ReadonlySet<string> = new Set([LATE_OUTPUT, LATE_LEFT_OUTPUT, LATE_RIGHT_OUTPUT]);

/**
 * What is wrong with a window's spec: functions missing, options that cannot work with its assigner, or late records
 * read (by `consumers`) where none can come or where they go elsewhere already.
 */
function windowProblems(uid: string, spec: WindowSpec, consumers: readonly LogicalNode[]): string[] {
  const problems: string[] = [];
  const lateRead = consumers.some((c) => c.kind === 'sideOutput' && c.output === LATE_OUTPUT);
  if (lateRead && spec.lateRecords !== undefined) {
    problems.push(`window "${uid}" sends its late records both to its lateRecords sink and to .lateRecords(): keep one of them`);
  }
  if (lateRead && spec.assigner.time === 'processing') {
    problems.push(`window "${uid}" is a processing-time window, where no record is late: drop .lateRecords() (or use event time)`);
  }
  const { fn, assigner } = spec;
  if (fn.type === 'reduce' && typeof fn.reduce !== 'function') problems.push(`window "${uid}" (reduce) needs a function`);
  if (fn.type === 'process' && typeof fn.process?.process !== 'function') problems.push(`window "${uid}" (process) needs a process function`);
  if (fn.type === 'aggregate') {
    const agg = fn.aggregate;
    for (const member of ['createAccumulator', 'add', 'result'] as const) {
      if (typeof agg?.[member] !== 'function') problems.push(`window "${uid}" (aggregate) needs ${member}()`);
    }
    if (assigner.kind === 'session' && typeof agg?.merge !== 'function') {
      problems.push(`window "${uid}" aggregates session windows, which merge: give the aggregate a merge(a, b) function`);
    }
  }
  if (assigner.time === 'processing' && spec.allowedLatenessMs > 0) {
    problems.push(`window "${uid}" is a processing-time window, where no record is late: drop allowedLatenessMs (or use event time)`);
  }
  if (!Number.isFinite(spec.allowedLatenessMs) || spec.allowedLatenessMs < 0) problems.push(`window "${uid}": allowedLatenessMs must be ≥ 0, got ${String(spec.allowedLatenessMs)}`);
  const every = spec.earlyFiringsEveryMs;
  if (every !== undefined && (!Number.isFinite(every) || every <= 0)) problems.push(`window "${uid}": earlyFiringsEveryMs must be a positive number, got ${String(every)}`);
  return problems;
}

/** Declared side outputs that are malformed or that nothing reads (their records would be lost). */
function sideOutputProblems(uid: string, outputs: OutputDeclarations | undefined, consumers: readonly LogicalNode[]): string[] {
  const problems: string[] = [];
  for (const [name, decl] of Object.entries(outputs ?? {})) {
    if (typeof decl !== 'object' || decl === null || decl.kind !== 'output') {
      problems.push(`operator "${uid}" declares output "${name}" that is not a sideOutput() declaration`);
    } else if (name.startsWith('!') || name === '') {
      problems.push(`operator "${uid}" declares output ${JSON.stringify(name)}: side output names are non-empty and cannot start with "!"`);
    } else if (!consumers.some((c) => c.kind === 'sideOutput' && c.output === name)) {
      problems.push(`side output "${name}" of operator "${uid}" is never read, so its records would be lost: read it with .sideOutput('${name}') and send it to a sink, or remove it from outputs`);
    }
  }
  return problems;
}

/** What is wrong with a connected operator's functions and broadcast state. */
function connectProblems(uid: string, node: LogicalNode): string[] {
  const problems: string[] = [];
  if (node.kind === 'coProcess') {
    for (const member of ['processElement1', 'processElement2'] as const) {
      if (typeof node.fn?.[member] !== 'function') problems.push(`operator "${uid}" (connected keyed streams) needs a ${member} function`);
    }
  }
  if (node.kind === 'broadcastProcess') {
    for (const member of ['processElement', 'processBroadcastElement'] as const) {
      if (typeof node.fn?.[member] !== 'function') problems.push(`operator "${uid}" (keyed stream connected to a broadcast stream) needs a ${member} function`);
    }
    const declared = node.fn?.broadcastState;
    if (typeof declared !== 'object' || declared === null || Object.keys(declared).length === 0) {
      problems.push(`operator "${uid}" reads a broadcast stream but declares no broadcastState: declare the maps it keeps, e.g. broadcastState: { rates: mapState<string, number>() }`);
    } else {
      for (const [name, decl] of Object.entries(declared)) {
        if ((decl as { kind?: string } | undefined)?.kind !== 'map') problems.push(`operator "${uid}" declares broadcast state "${name}" that is not a mapState() declaration: broadcast state is map state`);
      }
    }
  }
  return problems;
}
