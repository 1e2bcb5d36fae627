import type { KeySelector } from '../api/index.ts';
import { illFormedKey, keyGroupOf, loneSurrogateAt, ownerOfKeyGroup } from '../state/index.ts';
import { estimateBatchBytes } from './batch-size.ts';
import { Channel, type ChannelWriter } from './channel.ts';

/**
 * Where a stage's last operator sends its output: the channels to the next stage's subtasks, partitioned.
 * `emit` returns a promise only when a channel is full: that wait is backpressure.
 */
export interface StageOutput<T> {
  /** `timestamps`: each record's event time, when the stream has event time. */
  emit(records: readonly T[], timestamps?: readonly number[]): Promise<void> | undefined;
  broadcastBarrier(checkpointId: number): void;
  /** Watermarks and idleness go to every downstream subtask, in order with the records. */
  broadcastWatermark(watermark: number): void;
  broadcastIdle(idle: boolean): void;
  end(): void;
  /** True while waiting for room in a full channel. */
  readonly waiting: boolean;
}

abstract class ChannelOutput<T> implements StageOutput<T> {
  protected readonly channels: readonly ChannelWriter<T>[];
  #waiting = false;

  constructor(channels: readonly ChannelWriter<T>[]) {
    this.channels = channels;
  }

  abstract emit(records: readonly T[], timestamps?: readonly number[]): Promise<void> | undefined;

  get waiting(): boolean {
    return this.#waiting;
  }

  broadcastBarrier(checkpointId: number): void {
    for (const channel of this.channels) channel.pushBarrier(checkpointId);
  }

  broadcastWatermark(watermark: number): void {
    for (const channel of this.channels) channel.pushWatermark(watermark);
  }

  broadcastIdle(idle: boolean): void {
    for (const channel of this.channels) channel.pushIdle(idle);
  }

  end(): void {
    for (const channel of this.channels) channel.pushEnd();
  }

  protected async waitFor(pending: Promise<void>): Promise<void> {
    this.#waiting = true;
    try {
      await pending;
    } finally {
      this.#waiting = false;
    }
  }
}

/** Sends each record to the subtask that owns its key's key group (docs/architecture.md §3). */
export class HashOutput<T> extends ChannelOutput<T> {
  readonly #keySelector: (value: T) => string | number;
  readonly #maxParallelism: number;
  /** Owner subtask per key group, precomputed: one array read per record instead of a division. */
  readonly #ownerOf: Int32Array;
  /**
   * One subtask downstream, on another thread: records go unhashed, and the receiver derives each key from the
   * record as it arrives. A key with an unpaired surrogate would arrive changed (UTF-8 has no form for it), so keys
   * are checked here, where hashing would have refused them (well-formed-key.ts).
   */
  readonly #checkKeys: boolean;

  constructor(channels: readonly ChannelWriter<T>[], keySelector: KeySelector, maxParallelism: number) {
    super(channels);
    this.#keySelector = keySelector as (value: T) => string | number;
    this.#maxParallelism = maxParallelism;
    this.#ownerOf = new Int32Array(maxParallelism);
    for (let g = 0; g < maxParallelism; g++) this.#ownerOf[g] = ownerOfKeyGroup(g, channels.length, maxParallelism);
    this.#checkKeys = channels.length === 1 && !(channels[0] instanceof Channel);
  }

  emit(records: readonly T[], timestamps?: readonly number[]): Promise<void> | undefined {
    const p = this.channels.length;
    if (p === 1) {
      // One subtask owns every key group: the batch goes as it is (as RebalanceOutput sends it), without hashing each
      // key (7 % of a p = 1 join's time). The keyed operator checks each key when it sets it as current.
      if (this.#checkKeys) checkKeysCrossThreads(records, this.#keySelector);
      const pending = (this.channels[0] as ChannelWriter<T>).pushRecords(records, estimateBatchBytes(records), timestamps);
      return pending === undefined ? undefined : this.waitFor(pending);
    }
    const buckets: T[][] = new Array(p);
    for (let i = 0; i < p; i++) buckets[i] = [];
    const select = this.#keySelector;
    const owner = this.#ownerOf;
    const m = this.#maxParallelism;
    if (timestamps === undefined) {
      for (let i = 0; i < records.length; i++) {
        const record = records[i] as T;
        (buckets[owner[keyGroupOf(select(record), m)] as number] as T[]).push(record);
      }
      return this.#send(buckets, undefined, 0);
    }
    const times: number[][] = new Array(p);
    for (let i = 0; i < p; i++) times[i] = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as T;
      const to = owner[keyGroupOf(select(record), m)] as number;
      (buckets[to] as T[]).push(record);
      (times[to] as number[]).push(timestamps[i] as number);
    }
    return this.#send(buckets, times, 0);
  }

  #send(buckets: T[][], times: number[][] | undefined, from: number): Promise<void> | undefined {
    for (let i = from; i < buckets.length; i++) {
      const bucket = buckets[i] as T[];
      if (bucket.length === 0) continue;
      const pending = (this.channels[i] as ChannelWriter<T>).pushRecords(bucket, estimateBatchBytes(bucket), times?.[i]);
      if (pending !== undefined) return this.waitFor(pending).then(() => this.#send(buckets, times, i + 1));
    }
    return undefined;
  }
}

/** Throws for the first record whose key could not cross threads unchanged (an unpaired surrogate). */
function checkKeysCrossThreads<T>(records: readonly T[], select: (value: T) => string | number): void {
  for (let i = 0; i < records.length; i++) {
    const key = select(records[i] as T);
    if (typeof key === 'string' && !key.isWellFormed()) throw illFormedKey('the key', key, loneSurrogateAt(key));
  }
}

/** Sends whole batches round-robin to the next stage's subtasks. */
export class RebalanceOutput<T> extends ChannelOutput<T> {
  #next = 0;

  emit(records: readonly T[], timestamps?: readonly number[]): Promise<void> | undefined {
    const channel = this.channels[this.#next] as ChannelWriter<T>;
    this.#next = (this.#next + 1) % this.channels.length;
    const pending = channel.pushRecords(records, estimateBatchBytes(records), timestamps);
    return pending === undefined ? undefined : this.waitFor(pending);
  }
}

/** Sends every batch to every subtask of the next stage (a broadcast stream, for broadcast state). */
export class BroadcastOutput<T> extends ChannelOutput<T> {
  emit(records: readonly T[], timestamps?: readonly number[]): Promise<void> | undefined {
    return this.#send(records, estimateBatchBytes(records), timestamps, 0);
  }

  #send(records: readonly T[], bytes: number, timestamps: readonly number[] | undefined, from: number): Promise<void> | undefined {
    for (let i = from; i < this.channels.length; i++) {
      const pending = (this.channels[i] as ChannelWriter<T>).pushRecords(records, bytes, timestamps);
      if (pending !== undefined) return this.waitFor(pending).then(() => this.#send(records, bytes, timestamps, i + 1));
    }
    return undefined;
  }
}

/**
 * A stream consumed by several stages (fan-out), or an operator with side outputs: every batch of the main output
 * goes to each main edge, every batch of side output `name` to the edges reading that output, and every barrier,
 * watermark and end to all of them, in order. A batch waits for room on every edge it goes to before the subtask
 * goes on, so each edge keeps its own order, and the slowest consumer sets the pace (as in Flink). The edges share
 * the record objects: operators must not mutate the records they are given (in-process they are the same objects on
 * every edge).
 */
export class FanOutOutput<T> implements StageOutput<T> {
  readonly #main: readonly StageOutput<T>[];
  readonly #sides: ReadonlyMap<string, FanOutOutput<T>>;
  readonly #all: readonly StageOutput<T>[];

  /** `sides`: the edges reading each side output, by its name. */
  constructor(main: readonly StageOutput<T>[], sides: ReadonlyMap<string, readonly StageOutput<T>[]> = new Map()) {
    this.#main = main;
    this.#sides = new Map([...sides].map(([name, edges]) => [name, new FanOutOutput(edges)]));
    this.#all = [...main, ...[...sides.values()].flat()];
  }

  get waiting(): boolean {
    return this.#all.some((e) => e.waiting);
  }

  /** True when some stage reads the main output. */
  get hasMain(): boolean {
    return this.#main.length > 0;
  }

  /** Where records of side output `name` go; undefined when no stage reads it. */
  side(name: string): StageOutput<T> | undefined {
    return this.#sides.get(name);
  }

  emit(records: readonly T[], timestamps?: readonly number[]): Promise<void> | undefined {
    let pending: Promise<void>[] | undefined;
    for (const edge of this.#main) {
      const wait = edge.emit(records, timestamps);
      if (wait !== undefined) (pending ??= []).push(wait);
    }
    return pending === undefined ? undefined : Promise.all(pending).then(() => undefined);
  }

  broadcastBarrier(checkpointId: number): void {
    for (const edge of this.#all) edge.broadcastBarrier(checkpointId);
  }

  broadcastWatermark(watermark: number): void {
    for (const edge of this.#all) edge.broadcastWatermark(watermark);
  }

  broadcastIdle(idle: boolean): void {
    for (const edge of this.#all) edge.broadcastIdle(idle);
  }

  end(): void {
    for (const edge of this.#all) edge.end();
  }
}
