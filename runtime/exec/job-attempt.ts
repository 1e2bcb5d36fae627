import { setMaxListeners } from 'node:events';
import type { CheckpointTiming, KeySelector, Sink, Source, SplitsChange } from '../api/index.ts';
import { SluiceError } from '../errors/index.ts';
import type { PhysicalPlan, PlannedOperator, Stage } from '../graph/index.ts';
import type { Logger } from '../logging/index.ts';
import type { Clock } from '../time/index.ts';
import { Channel } from './channel.ts';
import { InputGate } from './input-gate.ts';
import type { ChainedOperator, Downstream, OperatorPlace } from './operators/chained-operator.ts';
import { KeyedProcessOperator } from './operators/keyed-process-operator.ts';
import { ReduceOperator } from './operators/reduce-operator.ts';
import { SinkOperator } from './operators/sink-operator.ts';
import { FilterOperator, FlatMapOperator, MapOperator, ProcessOperator } from './operators/stateless-operators.ts';
import { HashOutput, RebalanceOutput, type StageOutput } from './output.ts';
import type { RestoredState } from './restored-state.ts';
import { SourceInput } from './source-input.ts';
import { Subtask, type CheckpointListener } from './subtask.ts';

/**
 * Default capacity of one channel. Small on purpose: records that wait in a channel survive V8's young-generation
 * collections and get promoted, so large channels cost GC time. Measured on the keyed-count pipeline at p = 2
 * (5M records, 2 vCPU): 4 MiB → ~1.0M records/s with 38 % of the time in GC; 1 MiB → ~1.0M; 256 KiB → ~1.7M;
 * 16–64 KiB → ~3.0M. 64 KiB still holds a few batches of typical records, enough to keep both sides busy.
 */
export const DEFAULT_CHANNEL_CAPACITY_BYTES = 64 * 1024;

export interface JobAttemptOptions {
  readonly plan: PhysicalPlan;
  /** 0 for the first attempt of this run, incremented by every restart. */
  readonly attempt: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly channelCapacityBytes?: number;
  readonly restored?: RestoredState | undefined;
  /** When set, sources hold their end of input until the coordinator releases it after a final checkpoint. */
  readonly checkpoints?: CheckpointListener | undefined;
  /** A source reported a change in its splits (see `SourceReaderContext.reportSplitsChanged`). */
  /** Passed to sink writers (see `SinkWriterContext.checkpointTiming`). */
  readonly checkpointTiming?: CheckpointTiming | undefined;
  /** Sources ignore restored positions and start every split here (see `SourceReaderContext.startOverride`). */
  readonly sourceStart?: 'earliest' | 'latest' | undefined;
  readonly onSplitsChanged?: ((sourceUid: string, change: SplitsChange) => void) | undefined;
}

/**
 * One attempt at running a plan: every subtask of every stage, wired by channels. It ends when every subtask
 * reached the end of input, or fails as a whole when any subtask fails (all others are cancelled first, then every
 * operator is closed with outcome `failed` so sinks abort open transactions). The restart loop lives one level up.
 */
export class JobAttempt {
  readonly plan: PhysicalPlan;
  readonly attempt: number;
  readonly subtasks: readonly Subtask[];
  readonly channels: readonly Channel<unknown>[];
  readonly #abort = new AbortController();
  readonly #logger: Logger;
  #failure: unknown;

  constructor(options: JobAttemptOptions) {
    this.plan = options.plan;
    this.attempt = options.attempt;
    this.#logger = options.logger;
    // Every waiting subtask and reader listens on the attempt's signal; dozens at once is normal, not a leak.
    setMaxListeners(0, this.#abort.signal);
    const capacity = options.channelCapacityBytes ?? DEFAULT_CHANNEL_CAPACITY_BYTES;
    const channels: Channel<unknown>[] = [];
    // inbound[stage][downstreamSubtask][upstreamSubtask]
    const inbound = new Map<number, Channel<unknown>[][]>();
    for (const stage of this.plan.stages) {
      if (stage.input === undefined) continue;
      const upstream = this.plan.stages[stage.input.stage] as Stage;
      const grid: Channel<unknown>[][] = [];
      for (let d = 0; d < stage.parallelism; d++) {
        const row: Channel<unknown>[] = [];
        for (let u = 0; u < upstream.parallelism; u++) {
          const channel = new Channel<unknown>(capacity);
          row.push(channel);
          channels.push(channel);
        }
        grid.push(row);
      }
      inbound.set(stage.index, grid);
    }
    this.channels = channels;

    const subtasks: Subtask[] = [];
    for (const stage of this.plan.stages) {
      for (let i = 0; i < stage.parallelism; i++) {
        subtasks.push(this.#buildSubtask(stage, i, inbound, options));
      }
    }
    this.subtasks = subtasks;
  }

  /** Aborted when the attempt is failing or cancelled. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /**
   * Opens all operators (restoring state), then runs every subtask. Resolves when all finished; rejects with the
   * first failure after tearing everything down.
   */
  async run(): Promise<void> {
    try {
      for (const subtask of this.subtasks) await subtask.open();
      await Promise.all(
        this.subtasks.map((subtask) =>
          subtask.run().catch((err: unknown) => {
            this.fail(err);
            throw err;
          }),
        ),
      );
    } catch (err) {
      this.fail(err);
      await this.#closeAll(this.#failure instanceof SluiceError && this.#failure.code === 'SLUICE_CANCELLED' ? 'cancelled' : 'failed');
      throw this.#failure;
    }
    await this.#closeAll('finished');
  }

  /** Fails the attempt: the first reason wins; every subtask and channel is stopped. */
  fail(reason: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = reason;
    this.#abort.abort(reason);
    for (const channel of this.channels) channel.close(reason);
  }

  /** Stops the attempt on request (Ctrl-C, cancel, rescale). */
  cancel(message = 'job cancelled'): void {
    this.fail(new SluiceError('SLUICE_CANCELLED', message));
  }

  async #closeAll(outcome: 'finished' | 'failed' | 'cancelled'): Promise<void> {
    await Promise.all(this.subtasks.map((s) => s.close(outcome)));
  }

  #buildSubtask(stage: Stage, index: number, inbound: Map<number, Channel<unknown>[][]>, options: JobAttemptOptions): Subtask {
    const { plan } = this;
    const logger = this.#logger.child({ stage: stage.index, subtask: index });
    let output: StageOutput<unknown> | undefined;
    if (stage.output !== undefined) {
      const next = plan.stages[stage.output] as Stage;
      const grid = inbound.get(next.index) as Channel<unknown>[][];
      const targets = grid.map((row) => row[index] as Channel<unknown>);
      output =
        next.input?.partitioning === 'hash'
          ? new HashOutput(targets, next.input.keySelector, plan.maxParallelism)
          : new RebalanceOutput(targets);
    }

    // Build the chain tail first so each operator gets its downstream.
    const head = stage.operators[0] as PlannedOperator;
    const isSourceStage = head.node.kind === 'source';
    const operators = isSourceStage ? stage.operators.slice(1) : stage.operators;
    const chain: ChainedOperator<unknown>[] = [];
    let subtask: Subtask | undefined;
    // The last operator feeds the subtask's output link (which counts records and times backpressure); the subtask
    // is built after its chain, so the link looks it up when records flow.
    let downstream: Downstream<unknown> = { process: (records) => (subtask as Subtask).emitToOutput(records) };
    for (let i = operators.length - 1; i >= 0; i--) {
      const op = this.#buildOperator(operators[i] as PlannedOperator, stage, index, downstream, options);
      chain.unshift(op);
      downstream = op;
    }

    let input: SourceInput<unknown> | InputGate<unknown>;
    let sourceUid: string | undefined;
    if (isSourceStage && head.node.kind === 'source') {
      const source: Source<unknown> = head.node.source;
      sourceUid = head.uid;
      const reader = source.createReader({
        job: plan.job,
        subtask: index,
        parallelism: stage.parallelism,
        restoredPositions: options.sourceStart === undefined ? options.restored?.sourcePositions(head.uid) : undefined,
        ...(options.sourceStart === undefined ? {} : { startOverride: options.sourceStart }),
        checkpointing: options.checkpoints !== undefined,
        ...(options.checkpointTiming === undefined ? {} : { checkpointTiming: options.checkpointTiming }),
        restoredState: options.restored?.operatorState(head.uid),
        logger: logger.child({ operator: head.uid }),
        clock: options.clock,
        signal: this.#abort.signal,
        reportSplitsChanged: (change) => options.onSplitsChanged?.(head.uid, change),
      });
      const checkpoints = options.checkpoints;
      input = new SourceInput(reader, {
        holdEnd: checkpoints !== undefined,
        onFinished: () => {
          if (subtask !== undefined) checkpoints?.sourceFinished(subtask);
        },
      });
    } else {
      input = new InputGate((inbound.get(stage.index) as Channel<unknown>[][])[index] as Channel<unknown>[]);
    }

    subtask = new Subtask({
      job: plan.job,
      stage: stage.index,
      index,
      parallelism: stage.parallelism,
      input,
      sourceUid,
      chain,
      output,
      clock: options.clock,
      logger,
      signal: this.#abort.signal,
      checkpoints: options.checkpoints,
    });
    return subtask;
  }

  #buildOperator(
    op: PlannedOperator,
    stage: Stage,
    index: number,
    next: Downstream<unknown>,
    options: JobAttemptOptions,
  ): ChainedOperator<unknown> {
    const place: OperatorPlace = { job: this.plan.job, uid: op.uid, subtask: index, parallelism: stage.parallelism };
    const node = op.node;
    const keyed = () => ({
      keySelector: op.keySelector ?? (missingKey as KeySelector),
      maxParallelism: this.plan.maxParallelism,
      restored: options.restored?.keyedState(op.uid),
    });
    switch (node.kind) {
      case 'map':
        return new MapOperator(place, node.fn as (v: unknown) => unknown, next);
      case 'filter':
        return new FilterOperator(place, node.fn as (v: unknown) => boolean, next);
      case 'flatMap':
        return new FlatMapOperator(place, node.fn as (v: unknown) => Iterable<unknown>, next);
      case 'reduce':
        return new ReduceOperator(place, keyed(), node.fn as (a: unknown, b: unknown) => unknown, next);
      case 'process':
        return op.keySelector === undefined
          ? new ProcessOperator(place, node.fn as never, next)
          : new KeyedProcessOperator(place, keyed(), node.fn as never, options.clock, next);
      case 'sink': {
        const sink: Sink<unknown> = node.sink;
        const writer = sink.createWriter({
          job: this.plan.job,
          subtask: index,
          parallelism: stage.parallelism,
          attempt: this.attempt,
          checkpointing: options.checkpoints !== undefined,
          ...(options.checkpointTiming === undefined ? {} : { checkpointTiming: options.checkpointTiming }),
          restoredState: options.restored?.operatorState(op.uid),
          logger: this.#logger.child({ stage: stage.index, subtask: index, operator: op.uid }),
          clock: options.clock,
          signal: this.#abort.signal,
        });
        return new SinkOperator(place, writer);
      }
      case 'source':
        throw new SluiceError('SLUICE_INTERNAL', `source "${op.uid}" placed inside a chain`);
    }
  }
}

function missingKey(): never {
  throw new SluiceError('SLUICE_INTERNAL', 'keyed operator without a key selector');
}
