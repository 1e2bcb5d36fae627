import { setMaxListeners } from 'node:events';
import type { SplitsChange } from '../api/index.ts';
import { SluiceError } from '../errors/index.ts';
import { WatermarkBoard } from '../event-time/watermark-board.ts';
import type { ExchangeEndpoint, RemoteChannelSender } from '../exchange/index.ts';
import { buildSubtask, Channel, planChannels, runSubtasks, wireChannels, type ChannelReader, type ChannelWriter, type CheckpointListener, type RestoredState, type Subtask } from '../exec/index.ts';
import type { PhysicalPlan } from '../graph/index.ts';
import type { Logger } from '../logging/index.ts';
import type { Clock } from '../time/index.ts';
import { fromPeer, toPeer } from './peer-channels.ts';
import { workerOf } from './placement.ts';
import type { ConnectorRow, LagRow, MetricsRow, WorkerSetup } from './worker-protocol.ts';
import { OwnerLease } from '../exec/owner-lease.ts';

export interface WorkerSliceOptions {
  readonly plan: PhysicalPlan;
  readonly setup: WorkerSetup;
  /** The exchange with each peer worker, by the peer's number (`undefined` at this worker's own index). */
  readonly endpoints: ReadonlyArray<ExchangeEndpoint | undefined>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly restored: RestoredState | undefined;
  readonly checkpoints: CheckpointListener | undefined;
  readonly onSplitsChanged: (uid: string, change: SplitsChange) => void;
  /** The first failure, at once: before operators close, so it reaches main before the peers' echoes of it. */
  readonly onFailure: (reason: unknown) => void;
}

type Closable = { close(reason: unknown): void };

/**
 * The subtasks of one attempt that run in this worker (subtask `i` of every stage when `i mod W` is this worker),
 * wired by in-process channels among themselves and by exchange channels to the other workers' subtasks. Runs them
 * like `JobAttempt` does in-process: open all, run all, and on the first failure stop all and close every operator
 * with outcome `failed` so sinks abort what they hold open.
 */
export class WorkerSlice {
  readonly subtasks: readonly Subtask[];
  readonly #abort = new AbortController();
  readonly #channels: Closable[] = [];
  readonly #senders: RemoteChannelSender<unknown>[] = [];
  #failure: unknown;
  readonly #onFailure: (reason: unknown) => void;

  constructor(options: WorkerSliceOptions) {
    const { plan, setup, endpoints } = options;
    this.#onFailure = options.onFailure;
    setMaxListeners(0, this.#abort.signal);
    const me = setup.worker;
    // Per planned channel, this worker's end of it: a local channel when both subtasks are here, else a receiver or a
    // sender of the exchange with the worker that has the other end.
    const readers = new Map<number, ChannelReader<unknown>>();
    const writers = new Map<number, ChannelWriter<unknown>>();
    for (const ch of planChannels(plan)) {
      const producer = workerOf(ch.from, setup.workers);
      const consumer = workerOf(ch.to, setup.workers);
      if (producer === me && consumer === me) {
        const channel = new Channel<unknown>(setup.channelCapacityBytes);
        readers.set(ch.id, channel);
        writers.set(ch.id, channel);
        this.#channels.push(channel);
      } else if (consumer === me) {
        const receiver = endpointTo(endpoints, producer).openReceiver<unknown>(ch.id, setup.remoteChannelCapacityBytes);
        readers.set(ch.id, fromPeer(receiver, producer));
        this.#channels.push(receiver);
      } else if (producer === me) {
        const sender = endpointTo(endpoints, consumer).openSender<unknown>(ch.id);
        writers.set(ch.id, toPeer(sender, consumer));
        this.#senders.push(sender);
        this.#channels.push(sender);
      }
    }
    const wiring = wireChannels(plan, (ch) => readers.get(ch.id), (ch) => writers.get(ch.id));
    const context = {
      plan,
      attempt: setup.attempt,
      clock: options.clock,
      logger: options.logger,
      signal: this.#abort.signal,
      restored: options.restored,
      checkpoints: options.checkpoints,
      checkpointTiming: setup.checkpointTiming,
      ownerEpoch: setup.ownerEpoch,
      ownerLease: setup.ownerLease === undefined ? undefined : new OwnerLease(setup.ownerLease),
      watermarkBoard: setup.watermarkBoard === undefined ? undefined : new WatermarkBoard(setup.watermarkBoard),
      sourceStart: setup.sourceStart,
      onSplitsChanged: options.onSplitsChanged,
      fullCheckpointsFromDeltas: setup.fullCheckpointsFromDeltas,
    };
    const subtasks: Subtask[] = [];
    for (const stage of plan.stages) {
      for (let i = me; i < stage.parallelism; i += setup.workers) {
        subtasks.push(buildSubtask(context, stage, i, wiring.inputs(stage.index, i), wiring.outputs(stage.index, i)));
      }
    }
    this.subtasks = subtasks;
  }

  subtask(stage: number, index: number): Subtask | undefined {
    return this.subtasks.find((s) => s.stage === stage && s.index === index);
  }

  /** Opens every operator (restoring state), runs every subtask; rejects with the first failure once all are closed. */
  async run(): Promise<void> {
    await runSubtasks(this.subtasks, (err) => this.fail(err), () => this.#failure);
  }

  /** Stops every subtask here; the first reason wins. Remote channels fail on the peer's side too. */
  fail(reason: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = reason;
    this.#onFailure(reason);
    this.#abort.abort(reason);
    for (const channel of this.#channels) channel.close(reason);
  }

  /** The most bytes any channel to another worker ever had unacknowledged (sent and not yet taken by its consumer). */
  maxUnacknowledgedBytes(): number {
    let max = 0;
    for (const sender of this.#senders) max = Math.max(max, sender.maxUnacknowledgedBytes);
    return max;
  }

  lagRows(): LagRow[] {
    const rows: LagRow[] = [];
    for (const s of this.subtasks) {
      const lags = s.sourceLag();
      if (lags !== undefined) rows.push([s.stage, s.index, lags.map(({ split, lag, position }) => (position === undefined ? [split, lag] : [split, lag, position]))]);
    }
    return rows;
  }

  connectorRows(): ConnectorRow[] {
    const rows: ConnectorRow[] = [];
    for (const s of this.subtasks) {
      const metrics = s.connectorMetrics();
      if (metrics.length > 0) rows.push([s.stage, s.index, metrics]);
    }
    return rows;
  }

  metricsRows(): MetricsRow[] {
    return this.subtasks.map((s) => {
      const m = s.metrics;
      return [s.stage, s.index, m.recordsIn, m.recordsOut, m.backpressuredMs, m.backpressured ? 1 : 0, m.sourcePauses, m.finished ? 1 : 0, m.lateRecordsDropped, m.activeMs, m.idleMs, m.inputQueuedBytes, m.lastAlignmentMs, m.alignmentMs, m.inputWatermark, m.recordsSkipped, m.opened ? 1 : 0, m.aligned ? 1 : 0, m.alignmentPaused ? 1 : 0, m.alignmentPausedSplits];
    });
  }
}

function endpointTo(endpoints: ReadonlyArray<ExchangeEndpoint | undefined>, worker: number): ExchangeEndpoint {
  const endpoint = endpoints[worker];
  if (endpoint === undefined) throw new SluiceError('SLUICE_INTERNAL', `no exchange with worker ${worker}`);
  return endpoint;
}
