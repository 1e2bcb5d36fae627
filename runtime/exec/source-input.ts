import { END_OF_INPUT, END_WATERMARK, type SourceReader } from '../api/index.ts';
import type { SourceAlignment } from '../event-time/source-alignment.ts';
import type { SourceWatermarks } from '../event-time/source-watermarks.ts';
import type { Clock } from '../time/index.ts';
import type { ChannelEvent } from './channel.ts';
import type { SubtaskMetrics } from './subtask-metrics.ts';

export interface SourceInputOptions<T> {
  /** Hold the end back until {@link SourceInput.releaseEnd} (the job checkpoints: a final checkpoint comes first). */
  readonly holdEnd: boolean;
  readonly onFinished: () => void;
  /** Event time, when the source has a watermark strategy. */
  readonly eventTime?: SourceWatermarks<T> | undefined;
  /** Wakes a waiting subtask when a split may have gone idle. */
  readonly clock: Clock;
  /** Watermark alignment, when the source's watermark strategy has one (it needs `eventTime`). */
  readonly alignment?: SourceAlignment | undefined;
  /** Where alignment's pauses are shown (status, metrics). */
  readonly metrics?: SubtaskMetrics | undefined;
}

/**
 * Adapts a source reader to a subtask's input. When the reader reaches the end and the job checkpoints, the end is
 * held back until the coordinator releases it after a final checkpoint, so that sinks commit everything before the
 * job finishes (the same reason Flink takes a final checkpoint for bounded jobs).
 *
 * With event time, each batch comes with its records' timestamps, and the subtask's watermark and idleness changes
 * are yielded between batches. The end of input yields the final watermark (+∞) at once, with or without event
 * time — before the final checkpoint, so what it fires (every open window) is committed by that checkpoint.
 */
export class SourceInput<T> {
  readonly reader: SourceReader<T>;
  readonly #options: SourceInputOptions<T>;
  #pending: ChannelEvent<T>[] = [];
  #finished = false;
  #released = false;
  #endDelivered = false;
  /** The wake-up of a subtask paused by watermark alignment, for its next look at the group. */
  #alignmentWake: Promise<void> | undefined;
  /** The splits watermark alignment paused in the reader (`SourceReader.pauseSplits`). */
  #pausedSplits: ReadonlySet<string> = new Set();

  constructor(reader: SourceReader<T>, options: SourceInputOptions<T>) {
    this.reader = reader;
    this.#options = options;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** Each split's watermark, for a checkpoint (undefined without event time). */
  splitWatermarks(): Array<[string, number]> | undefined {
    return this.#options.eventTime?.splitWatermarks();
  }

  /** The coordinator completed the final checkpoint: the end may now flow downstream. */
  releaseEnd(): void {
    this.#released = true;
  }

  /** A source's batches are not queued: nothing waits in its input. */
  get queuedBytes(): number {
    return 0;
  }

  /** A source injects barriers itself: they never wait for alignment. */
  get lastAlignmentMs(): number {
    return 0;
  }

  poll(): ChannelEvent<T> | null {
    const { eventTime, alignment } = this.#options;
    if (eventTime !== undefined && !this.#finished) {
      if (alignment?.paused === true) eventTime.keepActive();
      else if (this.#pausedSplits.size > 0) eventTime.keepActive(this.#pausedSplits);
      this.#pending.push(...eventTime.poll());
    }
    if (this.#pending.length > 0) return this.#pending.shift() as ChannelEvent<T>;
    if (this.#finished) {
      if ((this.#released || !this.#options.holdEnd) && !this.#endDelivered) {
        this.#endDelivered = true;
        return { kind: 'end' };
      }
      return null;
    }
    if (alignment !== undefined && eventTime !== undefined) {
      const mayRead = alignment.mayRead(eventTime.watermark, eventTime.idle);
      if (mayRead && this.reader.pauseSplits !== undefined) this.#pauseSplitsAhead(eventTime, alignment.maxAllowed);
      const metrics = this.#options.metrics;
      if (metrics !== undefined) {
        metrics.aligned = true;
        metrics.alignmentPaused = !mayRead;
        metrics.alignmentPausedSplits = this.#pausedSplits.size;
      }
      if (!mayRead) return null;
    }
    const batch = this.reader.poll();
    if (batch === null) return null;
    if (batch === END_OF_INPUT) {
      this.#finished = true;
      alignment?.finished();
      this.#options.onFinished();
      // Every source ends time, as Flink's do: event-time timers and windows fire, and so do processing-time windows.
      return { kind: 'watermark', watermark: END_WATERMARK };
    }
    if (batch.length === 0) return null;
    // Source batches are not queued here, so only their length matters; the size is estimated at channel edges.
    if (eventTime === undefined) return { kind: 'records', records: batch, bytes: 0 };
    return { kind: 'records', records: batch, bytes: 0, timestamps: eventTime.assign(batch) };
  }

  /** Pauses in the reader the splits ahead of what the group allows, and resumes the others (on a change only). */
  #pauseSplitsAhead(eventTime: SourceWatermarks<T>, maxAllowed: number): void {
    const ahead = eventTime.splitsAbove(maxAllowed);
    const before = this.#pausedSplits;
    if (ahead.size === before.size && [...ahead].every((id) => before.has(id))) return;
    this.#pausedSplits = ahead;
    this.reader.pauseSplits?.(ahead);
  }

  available(): Promise<void> {
    // After the end, only the coordinator's release (delivered as mail) wakes the subtask.
    if (this.#finished) return new Promise<void>(() => {});
    const { clock, alignment } = this.#options;
    // Paused by watermark alignment: what the reader has waits; the subtask looks at its group again in a while.
    if (alignment !== undefined && (alignment.paused || this.#pausedSplits.size > 0)) {
      // One wait at a time, however often mail wakes the subtask meanwhile.
      const wake = (this.#alignmentWake ??= alignment.wake().finally(() => (this.#alignmentWake = undefined)));
      // Paused whole, what the reader has waits; with splits paused, the others' records may come first.
      return alignment.paused ? wake : Promise.race([wake, this.reader.available()]);
    }
    const idleCheck = this.#options.eventTime?.nextIdleCheck();
    if (idleCheck === undefined) return this.reader.available();
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    const idle = new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, Math.max(0, idleCheck - clock.now()))));
    return Promise.race([this.reader.available(), idle]).finally(() => {
      if (timer !== undefined) clock.clearTimeout(timer);
    });
  }
}
