import type { SplitLag, SplitPosition } from '../api/index.ts';
import { SluiceError } from '../errors/index.ts';
import type { Logger } from '../logging/index.ts';
import type { Clock } from '../time/index.ts';
import { packValue } from '../serde/index.ts';
import { sealSourceEnvelope } from '../event-time/source-state-envelope.ts';
import type { ChannelEvent } from './channel.ts';
import type { InputGate } from './input-gate.ts';
import type { AttemptSubtask, OperatorConnectorMetrics } from './running-attempt.ts';
import type { ChainedOperator, Downstream, OperatorSnapshot } from './operators/chained-operator.ts';
import type { StageOutput } from './output.ts';
import type { SourceInput } from './source-input.ts';
import type { SideOutputBuffer } from './side-output-buffer.ts';
import { SubtaskMetrics } from './subtask-metrics.ts';

/**
 * Longest stretch a subtask processes records without letting the event loop run timers and I/O. Records move between
 * subtasks through promises, which are microtasks: a source that always has data (datagen, a full Kafka buffer) and a
 * pipeline that never blocks on I/O would otherwise starve every timer — the checkpoint interval, rate limits, Kafka
 * heartbeats. One `setImmediate` per 5 ms of work costs well under 1 % of throughput.
 */
const YIELD_EVERY_MS = 5;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** What a subtask reports to the checkpoint coordinator once it has snapshotted for barrier `checkpointId`. */
export interface SubtaskAck {
  readonly checkpointId: number;
  readonly stage: number;
  readonly subtask: number;
  readonly operators: ReadonlyArray<{ readonly uid: string; readonly snapshot: OperatorSnapshot }>;
  /** Source subtasks: the reader's positions at the barrier. */
  readonly source?: { readonly uid: string; readonly positions: SplitPosition[] };
}

/** The coordinator as a subtask sees it. */
export interface CheckpointListener {
  acknowledge(ack: SubtaskAck): void;
  /** A source subtask reached the end of its input. */
  sourceFinished(subtask: AttemptSubtask): void;
}

export interface SubtaskOptions {
  readonly job: string;
  readonly stage: number;
  readonly index: number;
  readonly parallelism: number;
  readonly input: SourceInput<unknown> | InputGate<unknown>;
  /** Uid of the source when this subtask reads one. */
  readonly sourceUid: string | undefined;
  /** Operators of the chain, head first. */
  readonly chain: readonly ChainedOperator<unknown>[];
  /**
   * Where the records of each input go, by the gate's input index, when the head tells its inputs apart (a connected
   * pair of streams); absent: every input goes to the head.
   */
  readonly heads?: readonly Downstream<unknown>[] | undefined;
  /** What the chain's last operator emitted to side outputs, flushed between batches and before barriers. */
  readonly sideOutputs?: SideOutputBuffer | undefined;
  readonly output: StageOutput<unknown> | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** The subtask's counters, when its operators count into them too (built before the chain); else its own. */
  readonly metrics?: SubtaskMetrics | undefined;
  readonly checkpoints: CheckpointListener | undefined;
}

type Mail = () => Promise<void> | void;

/**
 * One parallel instance of a stage: an async loop that takes events from its input (a source reader or the channels
 * of the previous stage), pushes records through its chain of operators, and takes part in checkpoints. Control
 * actions (trigger a checkpoint, commit, release the end) arrive as *mail* and run between two batches, never while
 * a batch is half processed — Flink's mailbox model, which keeps operators single-threaded.
 */
export class Subtask implements AttemptSubtask {
  readonly stage: number;
  readonly index: number;
  readonly metrics: SubtaskMetrics;
  readonly #options: SubtaskOptions;
  readonly #head: Downstream<unknown>;
  readonly #heads: readonly Downstream<unknown>[] | undefined;
  readonly #tail: Downstream<unknown>;
  #mail: Mail[] = [];
  #wakeMail: (() => void) | undefined;

  constructor(options: SubtaskOptions) {
    this.#options = options;
    this.stage = options.stage;
    this.index = options.index;
    this.metrics = options.metrics ?? new SubtaskMetrics();
    const metrics = this.metrics;
    const output = options.output;
    const clock = options.clock;
    const tail: Downstream<unknown> = output === undefined
      ? { process: () => undefined, processWatermark: () => undefined }
      : {
          processWatermark(watermark) {
            output.broadcastWatermark(watermark);
            return undefined;
          },
          process(records, timestamps) {
            metrics.recordsOut += records.length;
            const pending = output.emit(records, timestamps);
            if (pending === undefined) return undefined;
            metrics.backpressured = true;
            const since = clock.now();
            return pending.finally(() => {
              metrics.backpressured = false;
              metrics.backpressuredMs += clock.now() - since;
            });
          },
        };
    this.#tail = tail;
    this.#head = options.chain[0] ?? tail;
    this.#heads = options.heads;
  }

  /** Where the last operator of the chain sends its output: the stage's channels (counted, backpressure timed). */
  get toOutput(): Downstream<unknown> {
    return this.#tail;
  }

  get name(): string {
    return `stage ${this.stage} subtask ${this.index + 1}/${this.#options.parallelism}`;
  }

  get isSource(): boolean {
    return this.#options.sourceUid !== undefined;
  }

  get chain(): readonly ChainedOperator<unknown>[] {
    return this.#options.chain;
  }

  /** The reader's input, for source subtasks. */
  get sourceInput(): SourceInput<unknown> | undefined {
    return this.isSource ? (this.#options.input as SourceInput<unknown>) : undefined;
  }

  /** Queues a control action to run between batches. */
  post(mail: Mail): void {
    this.#mail.push(mail);
    const wake = this.#wakeMail;
    if (wake !== undefined) {
      this.#wakeMail = undefined;
      wake();
    }
  }

  /** Source subtasks: inject barrier `checkpointId` before the next batch. */
  triggerCheckpoint(checkpointId: number): void {
    this.post(() => this.#checkpoint(checkpointId));
  }

  completeCheckpoint(checkpointId: number): void {
    this.post(() => this.notifyCheckpointComplete(checkpointId));
  }

  releaseEnd(): void {
    const input = this.sourceInput;
    if (input !== undefined) this.post(() => input.releaseEnd());
  }

  sourceLag(): readonly SplitLag[] | undefined {
    return this.sourceInput?.reader.lag?.();
  }

  connectorMetrics(): OperatorConnectorMetrics[] {
    const out: OperatorConnectorMetrics[] = [];
    for (const op of this.#options.chain) {
      const metrics = op.operatorMetrics();
      if (metrics !== undefined && metrics.length > 0) out.push({ uid: op.place.uid, metrics });
    }
    return out;
  }

  /** Opens the chain's operators (restoring their state), tail first so each has its downstream ready. */
  async open(): Promise<void> {
    const chain = this.#options.chain;
    for (let i = chain.length - 1; i >= 0; i--) await (chain[i] as ChainedOperator<unknown>).open();
    if (this.isSource) await (this.#options.input as SourceInput<unknown>).reader.start();
    this.metrics.opened = true;
  }

  /** Runs until the end of input (resolves) or a failure (rejects). */
  async run(): Promise<void> {
    const { input, signal } = this.#options;
    const head = this.#head;
    const metrics = this.metrics;
    // Busy and idle time (SubtaskMetrics): the loop's time is added up to each hand-over to the event loop.
    let sliceStart = performance.now();
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const now = performance.now();
      if (now - sliceStart >= YIELD_EVERY_MS) {
        metrics.activeMs += now - sliceStart;
        metrics.inputQueuedBytes = input.queuedBytes;
        await yieldToEventLoop();
        sliceStart = performance.now();
      }
      if (this.#mail.length > 0) await this.#runMail();
      await this.#fireDueTimers();
      if (this.#options.sideOutputs?.pending) await this.#options.sideOutputs.flush();
      const event: ChannelEvent<unknown> | null = input.poll();
      if (event === null) {
        const waitStart = performance.now();
        metrics.activeMs += waitStart - sliceStart;
        metrics.inputQueuedBytes = 0;
        await this.#waitForWork();
        sliceStart = performance.now();
        metrics.idleMs += sliceStart - waitStart;
        continue;
      }
      switch (event.kind) {
        case 'records': {
          metrics.recordsIn += event.records.length;
          const target = this.#heads === undefined ? head : (this.#heads[(input as InputGate<unknown>).lastInput] as Downstream<unknown>);
          const pending = target.process(event.records, event.timestamps);
          if (pending !== undefined) {
            if (this.isSource) metrics.sourcePauses++;
            await pending;
          }
          for (const op of this.#options.chain) {
            const ready = op.inputReady(); // a state backend behind on its writes
            if (ready !== undefined) await ready;
          }
          break;
        }
        case 'watermark': {
          metrics.inputWatermark = event.watermark;
          const pending = head.processWatermark(event.watermark);
          if (pending !== undefined) await pending;
          break;
        }
        case 'idle':
          this.#options.output?.broadcastIdle(event.idle);
          break;
        case 'barrier': {
          const alignedMs = input.lastAlignmentMs;
          metrics.lastAlignmentMs = alignedMs;
          metrics.alignmentMs += alignedMs;
          await this.#checkpoint(event.checkpointId);
          break;
        }
        case 'end':
          await this.#finish();
          return;
      }
    }
  }

  /** Closes operators and the reader; `failed` tells sinks to abort what they hold open. */
  async close(outcome: 'finished' | 'failed' | 'cancelled'): Promise<void> {
    const errors: unknown[] = [];
    if (this.isSource) {
      await (this.#options.input as SourceInput<unknown>).reader.close().catch((err: unknown) => errors.push(err));
    }
    for (const op of this.#options.chain) await op.close(outcome).catch((err: unknown) => errors.push(err));
    if (errors.length > 0) {
      this.#options.logger.warn({ err: errors[0], subtask: this.name }, 'errors while closing subtask');
    }
  }

  async #runMail(): Promise<void> {
    while (this.#mail.length > 0) {
      const mail = this.#mail.shift() as Mail;
      await mail();
    }
  }

  async #checkpoint(checkpointId: number): Promise<void> {
    const { chain, output, checkpoints, sourceUid } = this.#options;
    const operators: Array<{ uid: string; snapshot: OperatorSnapshot }> = [];
    let source: SubtaskAck['source'];
    if (sourceUid !== undefined) {
      const input = this.#options.input as SourceInput<unknown>;
      const reader = input.reader;
      source = { uid: sourceUid, positions: reader.positions() };
      // Taken before the barrier moves on, like the positions: nothing is polled in between.
      const envelope = sealSourceEnvelope(await reader.snapshotState?.(checkpointId), input.splitWatermarks());
      if (envelope !== undefined) operators.push({ uid: sourceUid, snapshot: { operator: packValue(envelope) } });
    }
    for (const op of chain) {
      const snapshot = await op.snapshot(checkpointId);
      if (snapshot !== undefined) operators.push({ uid: op.place.uid, snapshot });
    }
    // Side records emitted before the barrier go out before it.
    await this.#options.sideOutputs?.flush();
    output?.broadcastBarrier(checkpointId);
    checkpoints?.acknowledge({
      checkpointId,
      stage: this.stage,
      subtask: this.index,
      operators,
      ...(source === undefined ? {} : { source }),
    });
  }

  /** Forwards a completed checkpoint to operators and the reader (runs as mail). */
  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    for (const op of this.#options.chain) await op.notifyCheckpointComplete(checkpointId);
    if (this.isSource) await (this.#options.input as SourceInput<unknown>).reader.notifyCheckpointComplete?.(checkpointId);
  }

  async #finish(): Promise<void> {
    for (const op of this.#options.chain) await op.finish();
    await this.#options.sideOutputs?.flush();
    this.#options.output?.end();
    this.metrics.finished = true;
  }

  async #fireDueTimers(): Promise<void> {
    const chain = this.#options.chain;
    for (let i = 0; i < chain.length; i++) {
      const op = chain[i] as ChainedOperator<unknown>;
      const due = op.nextTimer();
      if (due === undefined) continue;
      const now = this.#options.clock.now();
      if (due <= now) {
        const pending = op.fireTimers(now);
        if (pending !== undefined) await pending;
      }
    }
  }

  #nextTimer(): number | undefined {
    let next: number | undefined;
    for (const op of this.#options.chain) {
      const due = op.nextTimer();
      if (due !== undefined && (next === undefined || due < next)) next = due;
    }
    return next;
  }

  /** Waits for input, mail, the next timer or cancellation, whichever comes first. */
  async #waitForWork(): Promise<void> {
    const { input, clock, signal } = this.#options;
    if (this.#mail.length > 0) return;
    const waits: Promise<void>[] = [input.available(), new Promise<void>((resolve) => (this.#wakeMail = resolve))];
    const nextTimer = this.#nextTimer();
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    if (nextTimer !== undefined) {
      waits.push(new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, Math.max(0, nextTimer - clock.now())))));
    }
    let onAbort: (() => void) | undefined;
    waits.push(
      new Promise<void>((_, reject) => {
        onAbort = () => reject(signal.reason ?? new SluiceError('SLUICE_CANCELLED', 'subtask cancelled'));
        // Aborted since the loop last looked (during mail, timers or poll): 'abort' has fired and will not again. A
        // worker whose peer failed is stopped this way, and nothing else would wake an idle source's wait.
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }),
    );
    try {
      await Promise.race(waits);
    } finally {
      this.#wakeMail = undefined;
      if (timer !== undefined) clock.clearTimeout(timer);
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    }
  }
}
