import type { DeadLetter } from './dead-letter.ts';
/**
 * One unit of the buffer: records of one split in offset order, and the split's position once they are handed out.
 * `records` may be empty when every record of the chunk was skipped (poison records under `skip`/dead letters): the
 * position still has to advance. A chunk with `failure` fails the reader when it is reached, after everything before
 * it was handed out.
 */
export interface FetchedChunk<T> {
  readonly split: string;
  readonly records: T[];
  /** Offset after the last record this chunk covers (handed out or skipped). */
  readonly next: number;
  readonly bytes: number;
  readonly failure?: Error;
  /** Dead letters of records this chunk skipped, written when the chunk is handed out (checkpointed jobs). */
  readonly deadLetters?: readonly DeadLetter[];
}

/**
 * The bounded hand-off between kafkajs's fetch loop (producer side, async) and the reader's synchronous `poll()`
 * (consumer side). The fetch side awaits {@link waitForRoom} before each push, so while the pipeline is blocked the
 * kafkajs `eachBatch` callback does not return and kafkajs fetches nothing more for that broker: memory stays at
 * most `capacityBytes` plus one chunk, plus the one fetch response kafkajs holds.
 */
export class FetchBuffer<T> {
  readonly capacityBytes: number;
  #chunks: FetchedChunk<T>[] = [];
  #head = 0;
  #bytes = 0;
  #records = 0;
  #dataWaiter: { promise: Promise<void>; resolve: () => void } | undefined;
  #roomWaiters: Array<() => void> = [];

  constructor(capacityBytes: number) {
    this.capacityBytes = capacityBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get records(): number {
    return this.#records;
  }

  get isEmpty(): boolean {
    return this.#head === this.#chunks.length;
  }

  hasRoom(): boolean {
    return this.#bytes < this.capacityBytes;
  }

  /** Resolves when there is room, or when {@link wakeAll} is called (the fetch side then re-checks why it woke). */
  waitForRoom(): Promise<void> {
    if (this.hasRoom()) return Promise.resolve();
    return new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
  }

  push(chunk: FetchedChunk<T>): void {
    this.#chunks.push(chunk);
    this.#bytes += chunk.bytes;
    this.#records += chunk.records.length;
    this.#wakeReader();
  }

  shift(): FetchedChunk<T> | undefined {
    if (this.#head === this.#chunks.length) return undefined;
    const chunk = this.#chunks[this.#head] as FetchedChunk<T>;
    this.#chunks[this.#head] = undefined as unknown as FetchedChunk<T>;
    this.#head++;
    if (this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#head = 0;
    } else if (this.#head > 1024) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
    this.#bytes -= chunk.bytes;
    this.#records -= chunk.records.length;
    if (this.hasRoom() && this.#roomWaiters.length > 0) this.#wakeWriters();
    return chunk;
  }

  /**
   * Removes the buffered chunks of `split` (watermark alignment paused it: what was fetched is fetched again when it
   * resumes, rather than filling the buffer the other splits' records need). Returns how many it removed.
   */
  drop(split: string): number {
    const kept: FetchedChunk<T>[] = [];
    let dropped = 0;
    for (let i = this.#head; i < this.#chunks.length; i++) {
      const chunk = this.#chunks[i] as FetchedChunk<T>;
      if (chunk.split !== split) {
        kept.push(chunk);
        continue;
      }
      dropped++;
      this.#bytes -= chunk.bytes;
      this.#records -= chunk.records.length;
    }
    if (dropped === 0) return 0;
    this.#chunks = kept;
    this.#head = 0;
    if (this.hasRoom() && this.#roomWaiters.length > 0) this.#wakeWriters();
    return dropped;
  }

  /** Resolves when a chunk is buffered or {@link wakeAll} is called; one shared promise while waiting. */
  available(): Promise<void> {
    if (!this.isEmpty) return Promise.resolve();
    if (this.#dataWaiter === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#dataWaiter = { promise, resolve };
    }
    return this.#dataWaiter.promise;
  }

  /** Wakes every waiter on both sides: a failure, a consumer restart or close happened. */
  wakeAll(): void {
    this.#wakeReader();
    this.#wakeWriters();
  }

  #wakeReader(): void {
    const waiter = this.#dataWaiter;
    if (waiter === undefined) return;
    this.#dataWaiter = undefined;
    waiter.resolve();
  }

  #wakeWriters(): void {
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const wake of waiters) wake();
  }
}
