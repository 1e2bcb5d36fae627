import { isMainThread } from 'node:worker_threads';
import { SubtaskMetrics } from './subtask-metrics.ts';
import type { AttemptSettings } from './attempt-settings.ts';
import type { OwnerLease } from './owner-lease.ts';
import type { AsyncMapOptions, KeySelector, Sink, SinkWriterContext, Source } from '../api/index.ts';
import { SluiceError } from '../errors/index.ts';
import type { PlannedOperator, Stage } from '../graph/index.ts';
import type { Clock } from '../time/index.ts';
import type { ChannelReader, ChannelWriter } from './channel.ts';
import { InputGate } from './input-gate.ts';
import type { ChainedOperator, Downstream, OperatorPlace } from './operators/chained-operator.ts';
import { AsyncMapOperator } from './operators/async-map-operator.ts';
import { KeyedProcessOperator } from './operators/keyed-process-operator.ts';
import { ReduceOperator } from './operators/reduce-operator.ts';
import { SinkOperator } from './operators/sink-operator.ts';
import { FilterOperator, FlatMapOperator, MapOperator, ProcessOperator } from './operators/stateless-operators.ts';
import type { GateChannels, OutputEdge } from './channel-topology.ts';
import { BroadcastOutput, FanOutOutput, HashOutput, RebalanceOutput, type StageOutput } from './output.ts';
import { KeyedBroadcastProcessOperator, KeyedCoProcessOperator, type MultiInputOperator } from './operators/connected-operators.ts';
import { SideOutputBuffer } from './side-output-buffer.ts';
import { ownStates } from './operators/operator-state-envelope.ts';
import { SourceAlignment } from '../event-time/source-alignment.ts';
import { SourceWatermarks } from '../event-time/source-watermarks.ts';
import { openSourceEnvelopes } from '../event-time/source-state-envelope.ts';
import { SourceInput } from './source-input.ts';
import { WindowOperator } from '../windows/window-operator.ts';
import { Subtask } from './subtask.ts';

/** What every subtask of one attempt shares, wherever it runs (this thread: `JobAttempt`; a worker: runtime/workers). */
export interface SubtaskContext extends AttemptSettings {
  readonly clock: Clock;
  readonly signal: AbortSignal;
}

/**
 * Builds subtask `index` of `stage`: its source reader or input gate over `inputs` (one per upstream subtask, in
 * upstream order; one for a forward edge), its chain of operators, and its output over `outputs` (per stage it feeds,
 * the channels to that stage's subtasks). Channels may be in-process or remote; the subtask cannot tell.
 */
export function buildSubtask(
  context: SubtaskContext,
  stage: Stage,
  index: number,
  inputs: GateChannels<ChannelReader<unknown>> | undefined,
  outputs: readonly OutputEdge<ChannelWriter<unknown>>[],
): Subtask {
  const { plan } = context;
  const logger = context.logger.child({ stage: stage.index, subtask: index });
  const main: StageOutput<unknown>[] = [];
  const sides = new Map<string, StageOutput<unknown>[]>();
  for (const { stage: next, input, writers } of outputs) {
    if (writers.length === 0) throw new SluiceError('SLUICE_INTERNAL', `stage ${stage.index} feeds stage ${next.index} but got no output channels`);
    // A forward edge has the one channel to the subtask of the same index: round-robin over one is forward.
    const edge =
      input.partitioning === 'hash'
        ? new HashOutput(writers, input.keySelector, plan.maxParallelism)
        : input.partitioning === 'broadcast'
          ? new BroadcastOutput(writers)
          : new RebalanceOutput(writers);
    if (input.output === undefined) main.push(edge);
    else sides.set(input.output, [...(sides.get(input.output) ?? []), edge]);
  }
  const fanOut = main.length > 1 || sides.size > 0 ? new FanOutOutput(main, sides) : undefined;
  const output: StageOutput<unknown> | undefined = fanOut ?? main[0];

  // Build the chain tail first so each operator gets its downstream.
  const head = stage.operators[0] as PlannedOperator;
  const last = stage.operators[stage.operators.length - 1] as PlannedOperator;
  const isSourceStage = head.node.kind === 'source';
  const operators = isSourceStage ? stage.operators.slice(1) : stage.operators;
  const chain: ChainedOperator<unknown>[] = [];
  const metrics = new SubtaskMetrics();
  const sideOutputs = fanOut === undefined || sides.size === 0 ? undefined : new SideOutputBuffer(new Map([...sides.keys()].map((name) => [name, fanOut.side(name) as StageOutput<unknown>])), metrics, last.uid);
  let subtask: Subtask | undefined;
  // The last operator feeds the subtask's output link (which counts records and times backpressure); the subtask
  // is built after its chain, so the link looks it up when records flow.
  let downstream: Downstream<unknown> = {
    process: (records, timestamps) => (subtask as Subtask).toOutput.process(records, timestamps),
    processWatermark: (watermark) => (subtask as Subtask).toOutput.processWatermark(watermark),
  };
  if (main.length === 0 && sides.size > 0) downstream = mainlessOutput(last.uid, downstream);
  for (let i = operators.length - 1; i >= 0; i--) {
    const planned = operators[i] as PlannedOperator;
    const emitSide = planned === last && sideOutputs !== undefined ? sideOutputs.emit.bind(sideOutputs) : undefined;
    const op = buildOperator(context, planned, stage, index, metrics, downstream, (mail) => (subtask as Subtask).post(mail), emitSide);
    chain.unshift(op);
    downstream = op;
  }

  let input: SourceInput<unknown> | InputGate<unknown>;
  let sourceUid: string | undefined;
  if (isSourceStage && head.node.kind === 'source') {
    const source: Source<unknown> = head.node.source;
    sourceUid = head.uid;
    // The reader's own state and each split's watermark (source-state-envelope.ts).
    const restoredSource = openSourceEnvelopes(context.restored?.operatorState(head.uid));
    const reader = source.createReader({
      job: plan.job,
      subtask: index,
      parallelism: stage.parallelism,
      restoredPositions: context.sourceStart === undefined ? context.restored?.sourcePositions(head.uid) : undefined,
      ...(context.sourceStart === undefined ? {} : { startOverride: context.sourceStart }),
      checkpointing: context.checkpoints !== undefined,
      ...(context.checkpointTiming === undefined ? {} : { checkpointTiming: context.checkpointTiming }),
      ...(context.ownerEpoch === undefined ? {} : { ownerEpoch: context.ownerEpoch }),
      restoredState: restoredSource.readerStates,
      logger: logger.child({ operator: head.uid }),
      clock: context.clock,
      signal: context.signal,
      reportSplitsChanged: (change) => context.onSplitsChanged?.(head.uid, change),
    });
    const checkpoints = context.checkpoints;
    const watermarks = head.node.watermarks;
    const board = context.watermarkBoard;
    const seat = board?.seat(plan, stage.index, index);
    input = new SourceInput(reader, {
      holdEnd: checkpoints !== undefined,
      eventTime: watermarks === undefined ? undefined : new SourceWatermarks(watermarks, reader, context.clock, head.uid, restoredSource.splitWatermarks),
      alignment: board === undefined || seat === undefined ? undefined : new SourceAlignment(board, seat, context.clock, logger.child({ operator: head.uid })),
      metrics,
      clock: context.clock,
      onFinished: () => {
        if (subtask !== undefined) checkpoints?.sourceFinished(subtask);
      },
    });
  } else {
    if (inputs === undefined) throw new SluiceError('SLUICE_INTERNAL', `stage ${stage.index} reads from channels but got none`);
    input = new InputGate(inputs.readers, inputs.inputOf);
  }
  const first = chain[0] as (ChainedOperator<unknown> & Partial<MultiInputOperator>) | undefined;

  subtask = new Subtask({
    job: plan.job,
    stage: stage.index,
    index,
    parallelism: stage.parallelism,
    input,
    sourceUid,
    chain,
    heads: isSourceStage ? undefined : first?.inputs,
    sideOutputs,
    output,
    clock: context.clock,
    logger,
    signal: context.signal,
    checkpoints: context.checkpoints,
    metrics,
  });
  return subtask;
}

/** `post` queues a mail on the operator's subtask (built after its chain): work that must run between batches. */
function buildOperator(
  context: SubtaskContext,
  op: PlannedOperator,
  stage: Stage,
  index: number,
  metrics: SubtaskMetrics,
  next: Downstream<unknown>,
  post: (mail: () => Promise<void> | void) => void,
  sideOutput: OperatorPlace['sideOutput'],
): ChainedOperator<unknown> {
  const { plan } = context;
  const place: OperatorPlace = {
    job: plan.job,
    uid: op.uid,
    subtask: index,
    parallelism: stage.parallelism,
    metrics,
    // Skipped records and dropped late records are logged with where they happened.
    logger: context.logger.child({ stage: stage.index, subtask: index, operator: op.uid }),
    ...(op.node.onError === undefined ? {} : { onError: op.node.onError }),
    ...(sideOutput === undefined ? {} : { sideOutput }),
  };
  const node = op.node;
  const keyed = () => ({
    keySelector: op.keySelector ?? (missingKey as KeySelector),
    maxParallelism: plan.maxParallelism,
    restored: context.restored?.keyedState(op.uid),
    restoredFrom: context.restored?.checkpointId,
    restoredOperatorState: context.restored?.operatorState(op.uid),
    // Full checkpoints are merged from deltas by the store: a heap subtask on a worker thread sends deltas rather than
    // pack all of its state on the records' thread at every checkpoint, when the main thread has a core to merge
    // them on. Otherwise it packs its live state, which costs less CPU than the merge (which decodes the chain first).
    incremental: plan.incrementalCheckpoints === true || (plan.standAloneCheckpoints === true && context.fullCheckpointsFromDeltas === true),
    // On a worker thread the checkpoint coordinator runs on the main thread, which is otherwise idle: it compacts
    // long chains there, off the records' thread (runtime/checkpoint/chain-compactor.ts). The LevelDB backend
    // delegates in the main thread too: the coordinator merges its chains byte for byte in time slices, while its
    // own rebase would hold the subtask while whole key groups are read back from LevelDB.
    delegateRebase: !isMainThread || plan.leveldbState !== undefined,
    leveldb: plan.leveldbState,
  });
  switch (node.kind) {
    case 'map':
      return new MapOperator(place, node.fn as (v: unknown) => unknown, next);
    case 'filter':
      return new FilterOperator(place, node.fn as (v: unknown) => boolean, next);
    case 'flatMap':
      return new FlatMapOperator(place, node.fn as (v: unknown) => Iterable<unknown>, next);
    case 'union':
    case 'sideOutput':
      // The stage's input gate merged a union's inputs already; a side output's records arrive on their own channels.
      return new MapOperator(place, (v: unknown) => v, next);
    case 'coProcess': {
      const second = node.inputs[1]?.keySelector;
      if (second === undefined) throw new SluiceError('SLUICE_INTERNAL', `connected operator "${op.uid}" has no key selector for its second input`);
      return new KeyedCoProcessOperator(place, keyed(), node.fn as never, second, context.clock, next);
    }
    case 'broadcastProcess':
      return new KeyedBroadcastProcessOperator(place, keyed(), node.fn as never, context.clock, next);
    case 'asyncMap':
      return new AsyncMapOperator(
        place,
        node.fn as (v: unknown, signal: AbortSignal) => Promise<unknown>,
        node.options as AsyncMapOptions<unknown, unknown>,
        { clock: context.clock, post: (mail) => post(mail), restored: context.restored?.operatorState(op.uid) },
        next,
      );
    case 'reduce':
      return new ReduceOperator(place, keyed(), node.fn as (a: unknown, b: unknown) => unknown, next);
    case 'window': {
      const lateWriter = node.window.lateRecords?.createWriter(sinkContext(context, stage, index, op.uid, 'late-records'));
      // A window's only side output is its late records (the plan checks it): an emitter means they are read.
      const lateStream = sideOutput !== undefined;
      return new WindowOperator(place, keyed(), node.window, context.clock, next, { lateWriter, lateStream });
    }
    case 'process':
      return op.keySelector === undefined
        ? new ProcessOperator(place, node.fn as never, next)
        : new KeyedProcessOperator(place, keyed(), node.fn as never, node.fn.processElement.bind(node.fn) as never, context.clock, next);
    case 'sink': {
      const sink: Sink<unknown> = node.sink;
      return new SinkOperator(place, sink.createWriter(sinkContext(context, stage, index, op.uid, 'output')));
    }
    case 'source':
      throw new SluiceError('SLUICE_INTERNAL', `source "${op.uid}" placed inside a chain`);
  }
}

/** What a sink's writer gets: the sink of a chain (`output`) or one an operator drives itself (`late-records`). */
function sinkContext(context: SubtaskContext, stage: Stage, index: number, uid: string, role: 'output' | 'late-records'): SinkWriterContext {
  return {
    job: context.plan.job,
    subtask: index,
    parallelism: stage.parallelism,
    attempt: context.attempt,
    checkpointing: context.checkpoints !== undefined,
    ...(context.checkpointTiming === undefined ? {} : { checkpointTiming: context.checkpointTiming }),
    ...(context.ownerEpoch === undefined ? {} : { ownerEpoch: context.ownerEpoch }),
    ...(context.ownerLease === undefined ? {} : { stillOwner: leaseCheck(context.ownerLease) }),
    // A window keeps its late-records sink's transactions inside the operator state it stores (with its watermark).
    restoredState: role === 'late-records' ? ownStates(context.restored?.operatorState(uid)) : context.restored?.operatorState(uid),
    ...(role === 'late-records' ? { role } : {}),
    logger: context.logger.child({ stage: stage.index, subtask: index, operator: uid }),
    clock: context.clock,
    signal: context.signal,
  };
}

/**
 * The downstream of a stage's last operator when only its side outputs are read: a record sent to its main output
 * would be lost, so it fails the job with what to do.
 */
function mainlessOutput(uid: string, downstream: Downstream<unknown>): Downstream<unknown> {
  return {
    process: () => {
      throw new SluiceError(
        'SLUICE_UNDECLARED_OUTPUT',
        `operator "${uid}" emitted to its main output, which nothing reads (only its side outputs are read): send the main stream to a sink too, or emit only with ctx.output(...)`,
        { retriable: false },
      );
    },
    processWatermark: (watermark) => downstream.processWatermark(watermark),
  };
}

function missingKey(): never {
  throw new SluiceError('SLUICE_INTERNAL', 'keyed operator without a key selector');
}

/** `SinkWriterContext.stillOwner` of a lease (a function, so writers need not know what a lease is). */
function leaseCheck(lease: OwnerLease): () => boolean {
  return () => lease.holds();
}
