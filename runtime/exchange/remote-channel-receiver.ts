import { SluiceError } from '../errors/index.ts';
import type { ChannelEvent } from '../exec/channel.ts';
import type { ChannelLink } from './channel-link.ts';
import { controlFrame, errorFrame, FrameType } from './channel-frames.ts';

/**
 * What `InputGate` (exec/input-gate.ts) uses of a channel — all of it: it sets `onPush` once to be woken, and takes
 * events with `shift`. `Channel` has exactly this shape, but `InputGate`'s constructor is typed with the `Channel`
 * class (whose `#private` fields make the type nominal), so the executor wiring changes that parameter to
 * `readonly ChannelReader<T>[]`; nothing else in the gate changes. `shift` may throw: that is how a remote
 * channel reports that its producer failed, and the gate lets it propagate to the subtask.
 */
export interface ChannelReader<T> {
  /** The next event, or `undefined` when none is queued. Throws the channel's error once it failed. */
  shift(): ChannelEvent<T> | undefined;
  /** Called whenever an event is queued (or the channel fails); the consumer sets it to wake up. */
  onPush: () => void;
}

/**
 * The consumer's side of a channel whose producer is in another worker: the read half of `Channel`
 * (`shift`, `onPush`, `length`, `queuedBytes`, `maxQueuedBytes`, `close`), fed by an {@link ExchangeEndpoint}.
 *
 * It grants its whole capacity as credit when opened and returns each batch's bytes when the consumer shifts it,
 * so the sender never has more than `capacity` bytes unacknowledged (queued here or in flight), except one batch
 * larger than the capacity, alone. Events come out in the order the sender pushed them.
 *
 * When the sender is closed with an error (or the transport fails before this channel's end arrived), events not yet
 * taken are dropped and `shift` throws that error from then on: a failed upstream fails the consuming subtask.
 *
 * @example
 * ```ts
 * const input = endpoint.openReceiver<Order>(7, 64 * 1024);
 * input.onPush = () => wake();
 * for (let e = input.shift(); e !== undefined && e.kind !== 'end'; e = input.shift()) handle(e);
 * ```
 */
export class RemoteChannelReceiver<T> implements ChannelReader<T> {
  readonly channel: number;
  readonly capacity: number;
  readonly #link: ChannelLink;
  #queue: ChannelEvent<T>[] = [];
  #head = 0;
  #bytes = 0;
  #maxBytes = 0;
  #endReceived = false;
  #error: unknown = undefined;
  onPush: () => void = () => {};

  /** @internal Made by {@link ExchangeEndpoint.openReceiver}, which sends the OPEN. */
  constructor(channel: number, capacity: number, link: ChannelLink) {
    if (!(capacity > 0) || capacity > 0xffff_ffff) {
      throw new SluiceError('SLUICE_INVALID_OPTION', `channel capacity must be > 0 and < 4 GiB, got ${capacity}`, { retriable: false });
    }
    this.channel = channel;
    this.capacity = capacity;
    this.#link = link;
  }

  /** Bytes queued here (the sender may have more in flight). */
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

  /** True once the end arrived or the channel failed: nothing more will be queued. */
  get finished(): boolean {
    return this.#endReceived || this.#error !== undefined;
  }

  shift(): ChannelEvent<T> | undefined {
    if (this.#error !== undefined) throw this.#error;
    if (this.#head >= this.#queue.length) return undefined;
    const event = this.#queue[this.#head] as ChannelEvent<T>;
    this.#queue[this.#head++] = undefined as never;
    // Same compaction as Channel: drop the consumed prefix once it is most of the array.
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    if (event.kind === 'records') {
      this.#bytes -= event.bytes;
      this.#sendQuietly(controlFrame(FrameType.credit, this.channel, event.bytes));
    }
    return event;
  }

  /**
   * Stops consuming: drops what is queued, tells the sender (its waiting push fails with `reason`) and makes
   * `shift` throw `reason`. Use it to tear down an attempt, like `Channel.close`.
   */
  close(reason?: unknown): void {
    if (this.#error !== undefined) return;
    const error = reason ?? new SluiceError('SLUICE_CANCELLED', `channel ${this.channel} closed`);
    if (!this.#endReceived) this.#sendQuietly(errorFrame(FrameType.close, this.channel, error));
    this.#fail(error);
  }

  /** @internal Sends the OPEN that grants the whole capacity. */
  open(): void {
    this.#link.send(controlFrame(FrameType.open, this.channel, this.capacity));
  }

  /** @internal An event from the sender, in order. */
  deliver(event: ChannelEvent<T>): void {
    if (this.#error !== undefined) return;
    if (event.kind === 'end') this.#endReceived = true;
    this.#queue.push(event);
    if (event.kind === 'records') {
      this.#bytes += event.bytes;
      if (this.#bytes > this.#maxBytes) this.#maxBytes = this.#bytes;
    }
    this.onPush();
  }

  /** @internal The sender failed, or the transport went away before the end arrived. */
  failed(reason: Error): void {
    if (this.#error !== undefined) return;
    this.#fail(reason);
  }

  #fail(reason: unknown): void {
    this.#error = reason;
    this.#queue = [];
    this.#head = 0;
    this.#bytes = 0;
    this.onPush();
  }

  #sendQuietly(frame: Uint8Array): void {
    try {
      this.#link.send(frame);
    } catch {
      // The transport is closed; the sender learns of it from the transport.
    }
  }
}
