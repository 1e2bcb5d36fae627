import { SluiceError } from '../errors/index.ts';
import type { ChannelLink } from './channel-link.ts';
import { barrierFrame, controlFrame, creditBytes, errorFrame, FrameType, idleFrame, recordsFrame, timedRecordsFrame, watermarkFrame } from './channel-frames.ts';
import { ExchangeErrorCodes, exchangeError } from './exchange-errors.ts';

/**
 * The producer's side of a channel whose consumer is in another worker: the write half of `Channel` (exec/channel.ts)
 * — `pushRecords`, `pushBarrier`, `pushEnd`, `close` — with the same contract, over an {@link ExchangeEndpoint}.
 *
 * **Credit-based flow control.** The receiver opens the channel by granting its whole capacity as credit (OPEN) and
 * returns the bytes of each batch its consumer takes out of its queue (CREDIT). A batch is sent when it fits in the
 * credit left, or when nothing is unacknowledged (so a batch larger than the capacity passes alone, as in `Channel`);
 * otherwise `pushRecords` returns a promise that resolves once enough credit came back. The bytes sent and not yet
 * returned ({@link unacknowledgedBytes}) therefore never exceed the capacity — the bound `Channel` keeps on its
 * queue, now covering the bytes in flight too. Barriers and the end are sent without credit but never overtake a
 * batch that waits for it.
 *
 * Records are encoded when they are sent, so the caller must not change a batch while its push waits (as with
 * `Channel`, which keeps the array).
 *
 * @example
 * ```ts
 * const out = endpoint.openSender<Order>(7);
 * const wait = out.pushRecords(batch, estimateBatchBytes(batch));
 * if (wait !== undefined) await wait; // no credit: backpressure
 * out.pushBarrier(42);
 * out.pushEnd();
 * ```
 */
export class RemoteChannelSender<T> {
  readonly channel: number;
  readonly #link: ChannelLink;
  /** Capacity granted by the receiver's OPEN; undefined until it arrives (then every batch waits). */
  #capacity: number | undefined;
  #unacknowledged = 0;
  #maxUnacknowledged = 0;
  #waiter: { records: readonly T[]; bytes: number; timestamps: readonly number[] | undefined; resolve: () => void; reject: (err: unknown) => void } | undefined;
  /** Barriers and the end pushed while a batch waits for credit: they follow it. */
  #backlog: Uint8Array[] = [];
  #ended = false;
  #closed: unknown = undefined;

  /** @internal Made by {@link ExchangeEndpoint.openSender}. */
  constructor(channel: number, link: ChannelLink) {
    this.channel = channel;
    this.#link = link;
  }

  /** The receiver's capacity in bytes, once its OPEN arrived. */
  get capacity(): number | undefined {
    return this.#capacity;
  }

  /** Bytes sent whose batches the consumer has not yet taken: at most the capacity, or one oversized batch. */
  get unacknowledgedBytes(): number {
    return this.#unacknowledged;
  }

  /** The most bytes ever unacknowledged at once (for tests and metrics). */
  get maxUnacknowledgedBytes(): number {
    return this.#maxUnacknowledged;
  }

  /** True while a batch waits for credit. */
  get waiting(): boolean {
    return this.#waiter !== undefined;
  }

  /**
   * Sends a batch at once when the receiver has room for it, else once it has. Returns `undefined` when no wait was
   * needed, so the common case costs no promise. Only one push may wait at a time (single producer).
   */
  pushRecords(records: readonly T[], bytes: number, timestamps?: readonly number[]): Promise<void> | undefined {
    this.#checkWritable();
    if (this.#waiter !== undefined) {
      throw exchangeError(ExchangeErrorCodes.protocol, `channel ${this.channel}: pushRecords called while an earlier batch still waits for credit; await its promise first`);
    }
    const credit = creditBytes(bytes);
    if (this.#fits(credit)) {
      this.#send(records, credit, timestamps);
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      this.#waiter = { records, bytes: credit, timestamps, resolve, reject };
    });
  }

  /** Event time reached `watermark`; in order with the batches (no credit needed, never overtakes a waiting batch). */
  pushWatermark(watermark: number): void {
    this.#checkWritable();
    this.#sendOrQueue(watermarkFrame(this.channel, watermark));
  }

  pushIdle(idle: boolean): void {
    this.#checkWritable();
    this.#sendOrQueue(idleFrame(this.channel, idle));
  }

  pushBarrier(checkpointId: number): void {
    this.#checkWritable();
    this.#sendOrQueue(barrierFrame(this.channel, checkpointId));
  }

  /** The last event of the channel; the sender is finished once it is sent. */
  pushEnd(): void {
    this.#checkWritable();
    this.#ended = true;
    this.#sendOrQueue(controlFrame(FrameType.end, this.channel));
  }

  /**
   * Fails a waiting push and refuses further pushes; the receiver's consumer gets `reason` (code and message kept)
   * instead of the events it has not taken yet. After `pushEnd` was sent this does nothing on the other side.
   */
  close(reason?: unknown): void {
    if (this.#closed !== undefined) return;
    this.#closed = reason ?? new SluiceError('SLUICE_CANCELLED', `channel ${this.channel} closed`);
    this.#rejectWaiter();
    if (!this.#ended || this.#backlog.length > 0) {
      this.#backlog = [];
      this.#sendQuietly(errorFrame(FrameType.fail, this.channel, this.#closed));
    }
  }

  /** @internal The receiver's OPEN. */
  opened(capacity: number): void {
    this.#capacity = capacity;
    this.#maybeRelease();
  }

  /** @internal The receiver's consumer took `bytes` of batches. */
  credited(bytes: number): void {
    this.#unacknowledged = Math.max(0, this.#unacknowledged - bytes);
    this.#maybeRelease();
  }

  /** @internal The receiver was closed, or the transport went away: fail like `close` without telling the peer. */
  failed(reason: Error): void {
    if (this.#closed !== undefined) return;
    this.#closed = reason;
    this.#backlog = [];
    this.#rejectWaiter();
  }

  get finished(): boolean {
    return this.#closed !== undefined || (this.#ended && this.#waiter === undefined);
  }

  #fits(bytes: number): boolean {
    const capacity = this.#capacity;
    return capacity !== undefined && (this.#unacknowledged === 0 || this.#unacknowledged + bytes <= capacity);
  }

  #send(records: readonly T[], bytes: number, timestamps: readonly number[] | undefined): void {
    const batch = this.#link.encode(records);
    this.#link.send(timestamps === undefined ? recordsFrame(this.channel, bytes, batch) : timedRecordsFrame(this.channel, bytes, timestamps, batch));
    this.#unacknowledged += bytes;
    if (this.#unacknowledged > this.#maxUnacknowledged) this.#maxUnacknowledged = this.#unacknowledged;
  }

  #maybeRelease(): void {
    const waiter = this.#waiter;
    if (waiter === undefined || this.#closed !== undefined || !this.#fits(waiter.bytes)) return;
    this.#waiter = undefined;
    try {
      this.#send(waiter.records, waiter.bytes, waiter.timestamps);
      for (const frame of this.#backlog) this.#link.send(frame);
      this.#backlog = [];
    } catch (err) {
      waiter.reject(err);
      return;
    }
    waiter.resolve();
  }

  #sendOrQueue(frame: Uint8Array): void {
    if (this.#waiter !== undefined) this.#backlog.push(frame);
    else this.#link.send(frame);
  }

  #sendQuietly(frame: Uint8Array): void {
    try {
      this.#link.send(frame);
    } catch {
      // The transport is closed: the peer learns of the failure from the transport instead.
    }
  }

  #rejectWaiter(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(this.#closed);
  }

  #checkWritable(): void {
    if (this.#closed !== undefined) throw this.#closed;
    if (this.#ended) throw exchangeError(ExchangeErrorCodes.protocol, `channel ${this.channel}: push after pushEnd`);
  }
}
