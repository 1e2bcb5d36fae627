import { type WatermarkGenerator, type WatermarkStrategy } from '../api/event-time.ts';
import type { SourceReader } from '../api/index.ts';
import { SluiceError } from '../errors/index.ts';
import type { Clock } from '../time/index.ts';
import { WatermarkValve, type ValveOutput } from './watermark-valve.ts';

/** Split id for readers that cannot tell which split a batch came from: one watermark for the whole subtask. */
const WHOLE_READER = '*';

interface SplitClock {
  readonly index: number;
  readonly generator: WatermarkGenerator<unknown>;
  /**
   * Processing time from which the split counts as quiet: the first check of idleness ({@link SourceWatermarks.poll})
   * that found no batch since the check before (or when the split was first seen); `undefined` while batches come.
   * Not the time of its last batch: a subtask that could not poll for a while (backpressure, a long checkpoint or GC,
   * a busy thread) would otherwise find all its splits quiet for that long and mark them idle before reading the
   * records waiting for it — and operators downstream could then move their watermark past those records on their
   * other inputs', dropping them as late. Flink's idleness timer likewise starts at the first periodic check that
   * sees no new records.
   */
  quietSince: number | undefined;
  /** A batch came since the last check. */
  progressed: boolean;
  idle: boolean;
}

/**
 * Event time at a source subtask: assigns each record its timestamp and keeps one watermark generator per split
 * (a Kafka partition), combined through a {@link WatermarkValve} into the subtask's watermark — the minimum over the
 * splits that are not idle. A split that delivered nothing for `idleAfterMs` stops holding the watermark back and
 * rejoins with its next record; a subtask that owns no split is idle from the start, so it holds nothing back
 * downstream either.
 *
 * Which split a batch came from, the reader says through `polledSplit()`; a reader that cannot gets one generator
 * for all its records. The set of splits follows the reader's `positions()`, so a split that has produced nothing
 * yet holds the watermark back (until idle) instead of being ignored — its first records might be the oldest.
 *
 * @example
 * ```ts
 * const events = new SourceWatermarks(strategy, reader, clock, 'clicks');
 * const timestamps = events.assign(batch);   // per record, in batch order
 * for (const e of events.poll()) emit(e);    // watermark advances and idleness changes
 * ```
 */
export class SourceWatermarks<T> {
  readonly #strategy: WatermarkStrategy<T>;
  readonly #reader: SourceReader<T>;
  readonly #clock: Clock;
  readonly #sourceUid: string;
  readonly #splits = new Map<string, SplitClock>();
  #valve: WatermarkValve;
  #pending: ValveOutput[] = [];
  #lastSync = Number.NEGATIVE_INFINITY;
  /** Each split's watermark at the restored checkpoint: its generator's watermark never goes below it. */
  readonly #restored: ReadonlyMap<string, number>;

  /** `restored`: the splits' watermarks stored with the checkpoint restored from (source-state-envelope.ts). */
  constructor(strategy: WatermarkStrategy<T>, reader: SourceReader<T>, clock: Clock, sourceUid: string, restored: ReadonlyMap<string, number> = new Map()) {
    this.#strategy = strategy;
    this.#reader = reader;
    this.#clock = clock;
    this.#sourceUid = sourceUid;
    this.#restored = restored;
    this.#valve = new WatermarkValve(0);
  }

  /**
   * `[split, watermark]` of each split this subtask reads, for a checkpoint: where each split's watermark is, so a
   * restore starts it there. Splits restored but not seen since keep their restored watermark.
   */
  splitWatermarks(): Array<[string, number]> {
    const out = new Map<string, number>();
    for (const id of this.#reader.polledSplit === undefined ? [WHOLE_READER] : this.#reader.positions().map((p) => p.split)) {
      const restored = this.#restored.get(id);
      if (restored !== undefined) out.set(id, restored);
    }
    for (const [id, split] of this.#splits) {
      const watermark = split.generator.currentWatermark();
      if (Number.isFinite(watermark)) out.set(id, watermark);
    }
    return [...out];
  }

  /**
   * The timestamps of a batch the reader just returned, in order; also feeds the batch's split generator. A
   * timestamp that is not a finite number fails the subtask, naming the source, the split and the record.
   */
  assign(records: readonly T[]): number[] {
    const id = this.#reader.polledSplit?.() ?? WHOLE_READER;
    const split = this.#split(id);
    const timestampOf = this.#strategy.timestamp;
    const generator = split.generator;
    const timestamps = new Array<number>(records.length);
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as T;
      let timestamp: number;
      try {
        timestamp = timestampOf(record);
      } catch (err) {
        throw this.#badTimestamp(id, record, `its timestamp function threw: ${(err as Error)?.message ?? String(err)}`, err);
      }
      if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) {
        throw this.#badTimestamp(id, record, `its timestamp function returned ${describe(timestamp)}, not a finite number of epoch milliseconds`);
      }
      timestamps[i] = timestamp;
      generator.onEvent(record, timestamp);
    }
    split.progressed = true;
    if (split.idle) {
      split.idle = false;
      this.#pending.push(...this.#valve.onIdle(split.index, false));
    }
    this.#pending.push(...this.#valve.onWatermark(split.index, generator.currentWatermark()));
    return timestamps;
  }

  /**
   * What changed since the last call: watermark advances and idleness changes of the subtask, in order. Checks
   * idleness against the clock and, at most every `syncEveryMs`, the reader's split set.
   */
  poll(syncEveryMs = 200): ValveOutput[] {
    const now = this.#clock.now();
    if (now - this.#lastSync >= syncEveryMs) {
      this.#lastSync = now;
      this.#syncSplits(now);
    }
    const idleAfter = this.#strategy.idleAfterMs;
    if (idleAfter !== undefined) {
      for (const split of this.#splits.values()) {
        if (split.progressed) {
          split.progressed = false;
          split.quietSince = undefined;
        } else if (split.quietSince === undefined) {
          split.quietSince = now;
        } else if (!split.idle && now - split.quietSince >= idleAfter) {
          split.idle = true;
          this.#pending.push(...this.#valve.onIdle(split.index, true));
        }
      }
    }
    const out = this.#pending;
    this.#pending = [];
    return out;
  }

  /** The processing time at which the next split goes idle, if one can (so a waiting subtask wakes for it). */
  nextIdleCheck(): number | undefined {
    const idleAfter = this.#strategy.idleAfterMs;
    if (idleAfter === undefined) return undefined;
    let next: number | undefined;
    for (const split of this.#splits.values()) {
      // A split not counted as quiet yet starts being so at the next check: wake for it at once.
      if (!split.idle) next = Math.min(next ?? Number.POSITIVE_INFINITY, split.quietSince === undefined ? this.#clock.now() : split.quietSince + idleAfter);
    }
    return next;
  }

  /** The subtask's current watermark (`NO_WATERMARK` before any). */
  get watermark(): number {
    return this.#valve.watermark;
  }

  /** Whether the subtask is idle: every split it reads is (or it reads none). */
  get idle(): boolean {
    return this.#valve.idle;
  }

  /**
   * Counts now as activity of the splits that are not idle — those in `only`, or all: a split (or a subtask) that
   * watermark alignment paused reads nothing, and must not be taken for idle (it would stop holding back a watermark
   * its unread records may need).
   */
  keepActive(only?: ReadonlySet<string>): void {
    const now = this.#clock.now();
    for (const [id, split] of this.#splits) if (!split.idle && (only === undefined || only.has(id))) split.quietSince = now;
  }

  /** The splits whose watermark is above `watermark` (for alignment per split). */
  splitsAbove(watermark: number): Set<string> {
    const above = new Set<string>();
    for (const [id, split] of this.#splits) if (split.generator.currentWatermark() > watermark) above.add(id);
    return above;
  }

  #split(id: string): SplitClock {
    let split = this.#splits.get(id);
    if (split === undefined) {
      split = this.#addSplit(id, this.#clock.now());
    }
    return split;
  }

  /** Follows the reader's splits: new ones join (holding the watermark back until they deliver or go idle). */
  #syncSplits(now: number): void {
    if (this.#reader.polledSplit === undefined) {
      if (this.#splits.size === 0) this.#addSplit(WHOLE_READER, now);
      return;
    }
    const current = new Set(this.#reader.positions().map((p) => p.split));
    let changed = false;
    for (const id of current) {
      if (!this.#splits.has(id)) {
        // The valve is rebuilt once all have joined: one at a time, a restored split ahead of the others would
        // reach the valve alone first and emit its own watermark as the subtask's.
        this.#addSplit(id, now, false);
        changed = true;
      }
    }
    for (const id of [...this.#splits.keys()]) {
      if (!current.has(id)) {
        this.#splits.delete(id);
        changed = true;
      }
    }
    if (changed || this.#splits.size === 0) this.#rebuildValve();
  }

  #addSplit(id: string, now: number, rebuild = true): SplitClock {
    const split: SplitClock = { index: this.#splits.size, generator: this.#generatorFor(id), quietSince: now, progressed: false, idle: false };
    this.#splits.set(id, split);
    if (rebuild) this.#rebuildValve();
    return this.#splits.get(id) as SplitClock;
  }

  /** A new generator for split `id`, which starts from the split's restored watermark if it has one. */
  #generatorFor(id: string): WatermarkGenerator<unknown> {
    const generator = this.#strategy.createGenerator() as WatermarkGenerator<unknown>;
    const floor = this.#restored.get(id);
    if (floor === undefined) return generator;
    return {
      onEvent: (record, timestamp) => generator.onEvent(record, timestamp),
      currentWatermark: () => Math.max(floor, generator.currentWatermark()),
    };
  }

  /**
   * A new valve over the current splits, seeded with their watermarks and idleness; the subtask's watermark never
   * goes back (a split that joins later cannot undo what was emitted, its records may be late). A subtask with no
   * split at all is idle.
   */
  #rebuildValve(): void {
    const before = this.#valve;
    const splits = [...this.#splits.values()];
    splits.forEach((split, i) => ((split as { index: number }).index = i));
    const valve = new WatermarkValve(Math.max(1, splits.length));
    if (splits.length === 0) {
      if (!before.idle) this.#pending.push(...valve.onIdle(0, true));
      this.#valve = valve;
      return;
    }
    for (const split of splits) {
      if (split.idle) valve.onIdle(split.index, true);
      else valve.onWatermark(split.index, split.generator.currentWatermark());
    }
    // The valve's own history starts now: report only what differs from what was already emitted.
    if (valve.idle !== before.idle) this.#pending.push({ kind: 'idle', idle: valve.idle });
    if (valve.watermark > before.watermark) this.#pending.push({ kind: 'watermark', watermark: valve.watermark });
    else valve.holdAt(before.watermark);
    this.#valve = valve;
  }

  #badTimestamp(split: string, record: T, what: string, cause?: unknown): SluiceError {
    return new SluiceError(
      'SLUICE_BAD_TIMESTAMP',
      `source "${this.#sourceUid}" cannot give a record of split ${split === WHOLE_READER ? '(the reader does not say)' : split} an event time: ${what}. Record: ${preview(record)}. Fix the timestamp function of the source's watermark strategy (or filter such records out upstream)`,
      cause === undefined ? { retriable: false } : { cause, retriable: false },
    );
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return String(value);
}

function preview(record: unknown): string {
  try {
    const text = JSON.stringify(record) ?? String(record);
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch {
    return String(record);
  }
}
