import { SluiceError } from '../errors/index.ts';

/**
 * What travels through a channel: non-empty record batches (with each record's event time when the stream has
 * one), checkpoint barriers, watermarks and the producer's idleness (event time, runtime/event-time), and the end
 * of input. All of them keep their order.
 */
export type ChannelEvent<T> =
  | { readonly kind: 'records'; readonly records: readonly T[]; readonly bytes: number; readonly timestamps?: readonly number[] | undefined }
  | { readonly kind: 'barrier'; readonly checkpointId: number }
  | { readonly kind: 'watermark'; readonly watermark: number }
  /** The producer is idle (holds no watermark back) until it sends `idle: false`. */
  | { readonly kind: 'idle'; readonly idle: boolean }
  | { readonly kind: 'end' };

/**
 * The read half of a channel, all an `InputGate` uses: an in-process {@link Channel} or a channel whose producer is
 * in another worker (runtime/exchange's RemoteChannelReceiver has the same shape). `shift` may throw: that is how a
 * remote channel reports that its producer failed.
 */
export interface ChannelReader<T> {
  shift(): ChannelEvent<T> | undefined;
  /** Bytes of record batches queued for the consumer now (metrics: what waits in a subtask's input). */
  readonly queuedBytes: number;
  /** Set once by the consumer to be woken whenever an event is queued (or the channel fails). */
  onPush: () => void;
}

/** The write half of a channel, all a stage's output uses: a {@link Channel} or a remote channel's sender. */
export interface ChannelWriter<T> {
  /**
   * `undefined` when the batch was taken at once; otherwise a promise that resolves once it was (backpressure).
   * `timestamps`, when given, holds the event time of each record (same length).
   */
  pushRecords(records: readonly T[], bytes: number, timestamps?: readonly number[]): Promise<void> | undefined;
  pushBarrier(checkpointId: number): void;
  pushWatermark(watermark: number): void;
  pushIdle(idle: boolean): void;
  pushEnd(): void;
}

/**
 * A single-producer, single-consumer queue between two subtasks, bounded in **bytes**. A producer whose batch does
 * not fit waits until the consumer has drained enough; that wait is how backpressure reaches the source. Barriers and
 * the end marker are tiny and never wait, but keep their place in the order.
 *
 * Bound: queued bytes never exceed `capacity`, except that a single batch larger than the capacity is admitted
 * alone into an empty channel (otherwise it could never pass).
 */
export class Channel<T> implements ChannelReader<T>, ChannelWriter<T> {
  readonly capacity: number;
  #queue: ChannelEvent<T>[] = [];
  #head = 0;
  #bytes = 0;
  #maxBytes = 0;
  #spaceWaiter: { bytes: number; resolve: () => void; reject: (err: unknown) => void } | undefined;
  #closed: unknown = undefined;
  /** Called whenever an event is pushed; the consumer's input gate uses it to wake up. */
  onPush: () => void = () => {};

  constructor(capacity: number) {
    if (!(capacity > 0)) throw new SluiceError('SLUICE_INVALID_OPTION', `channel capacity must be > 0 bytes, got ${capacity}`, { retriable: false });
    this.capacity = capacity;
  }

  /** Bytes queued now. */
  get queuedBytes(): number {
    return this.#bytes;
  }

  /** The most bytes ever queued at once (for tests and metrics). */
  get maxQueuedBytes(): number {
    return this.#maxBytes;
  }

  get length(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * Enqueues a batch; resolves at once when it fits, otherwise once the consumer has made room. Returns `undefined`
   * when no wait was needed, so the common case costs no promise.
   */
  pushRecords(records: readonly T[], bytes: number, timestamps?: readonly number[]): Promise<void> | undefined {
    this.#checkOpen();
    const event: ChannelEvent<T> = timestamps === undefined ? { kind: 'records', records, bytes } : { kind: 'records', records, bytes, timestamps };
    if (this.#bytes === 0 || this.#bytes + bytes <= this.capacity) {
      this.#enqueue(event);
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      this.#spaceWaiter = { bytes, resolve, reject };
    }).then(() => {
      this.#checkOpen();
      this.#enqueue(event);
    });
  }

  pushBarrier(checkpointId: number): void {
    this.#checkOpen();
    this.#enqueue({ kind: 'barrier', checkpointId });
  }

  pushWatermark(watermark: number): void {
    this.#checkOpen();
    this.#enqueue({ kind: 'watermark', watermark });
  }

  pushIdle(idle: boolean): void {
    this.#checkOpen();
    this.#enqueue({ kind: 'idle', idle });
  }

  pushEnd(): void {
    this.#checkOpen();
    this.#enqueue({ kind: 'end' });
  }

  /** The next event, or `undefined` when the queue is empty. */
  shift(): ChannelEvent<T> | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const event = this.#queue[this.#head] as ChannelEvent<T>;
    this.#queue[this.#head++] = undefined as never;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    if (event.kind === 'records') {
      this.#bytes -= event.bytes;
      const waiter = this.#spaceWaiter;
      if (waiter !== undefined && (this.#bytes === 0 || this.#bytes + waiter.bytes <= this.capacity)) {
        this.#spaceWaiter = undefined;
        waiter.resolve();
      }
    }
    return event;
  }

  /** Fails a waiting producer and refuses further pushes (the attempt is being torn down). */
  close(reason: unknown): void {
    this.#closed = reason ?? new SluiceError('SLUICE_CANCELLED', 'channel closed');
    const waiter = this.#spaceWaiter;
    this.#spaceWaiter = undefined;
    waiter?.reject(this.#closed);
  }

  #enqueue(event: ChannelEvent<T>): void {
    this.#queue.push(event);
    if (event.kind === 'records') {
      this.#bytes += event.bytes;
      if (this.#bytes > this.#maxBytes) this.#maxBytes = this.#bytes;
    }
    this.onPush();
  }

  #checkOpen(): void {
    if (this.#closed !== undefined) throw this.#closed;
  }
}
