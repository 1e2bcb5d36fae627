import type { ChannelEvent } from '../exec/channel.ts';
import type { ChannelLink } from './channel-link.ts';
import { FrameType, frameHeader, readCheckpointId, readError, readIdle, readTimestamps, readU32, readWatermark, RECORDS_HEADER_BYTES } from './channel-frames.ts';
import { ExchangeErrorCodes, exchangeError } from './exchange-errors.ts';
import { RecordDecoder, RecordEncoder } from './record-codec.ts';
import { RemoteChannelReceiver } from './remote-channel-receiver.ts';
import { RemoteChannelSender } from './remote-channel-sender.ts';
import type { Transport } from './transport.ts';

/** What arrived for a channel not opened yet on this side (its peer opened first), replayed when it is. */
type Early<C> = Array<(channel: C) => void>;

/**
 * One side of the exchange between two workers: multiplexes any number of logical channels, in both directions,
 * over one {@link Transport}. Each side opens senders and receivers by channel id; sender `n` here feeds receiver `n`
 * there. Frames that arrive before their channel is opened here (the peer was quicker) are kept and replayed.
 *
 * If the transport closes — the peer closed it, its worker died, or a frame could not be decoded — every channel not
 * finished fails with the transport's error (`SLUICE_EXCHANGE_DISCONNECTED` when the peer vanished): waiting pushes
 * reject and receivers' `shift` throws. {@link onClose} reports it to the owner as well.
 *
 * @example
 * ```ts
 * // main thread
 * const endpoint = new ExchangeEndpoint(new MessagePortTransport(port1));
 * const out = endpoint.openSender<Order>(0);
 * // worker
 * const endpoint = new ExchangeEndpoint(new MessagePortTransport(workerData.port));
 * const input = endpoint.openReceiver<Order>(0, 64 * 1024);
 * ```
 */
export class ExchangeEndpoint {
  readonly #transport: Transport;
  readonly #encoder = new RecordEncoder();
  readonly #decoder = new RecordDecoder();
  readonly #senders = new Map<number, RemoteChannelSender<unknown>>();
  readonly #receivers = new Map<number, RemoteChannelReceiver<unknown>>();
  readonly #earlyForSenders = new Map<number, Early<RemoteChannelSender<unknown>>>();
  readonly #earlyForReceivers = new Map<number, Early<RemoteChannelReceiver<unknown>>>();
  readonly #link: ChannelLink;
  #closedWith: Error | undefined | null = null;
  /** Called once when the transport closed: `undefined` for a clean close, else why. */
  onClose: (error: Error | undefined) => void = () => {};

  constructor(transport: Transport) {
    this.#transport = transport;
    this.#link = {
      send: (frame) => transport.send(frame),
      encode: (records) => this.#encoder.encode(records),
    };
    transport.onFrame = (frame) => this.#onFrame(frame);
    transport.onClose = (error) => this.#onTransportClose(error);
  }

  /** The producer side of channel `id` (whose receiver is opened on the other side). */
  openSender<T>(id: number): RemoteChannelSender<T> {
    this.#checkOpenable(id, this.#senders.has(id), 'sender');
    const sender = new RemoteChannelSender<T>(id, this.#link);
    this.#senders.set(id, sender as RemoteChannelSender<unknown>);
    this.#replay(this.#earlyForSenders, id, sender as RemoteChannelSender<unknown>);
    return sender;
  }

  /** The consumer side of channel `id`, holding at most `capacity` bytes of batches (granted to the sender as credit). */
  openReceiver<T>(id: number, capacity: number): RemoteChannelReceiver<T> {
    this.#checkOpenable(id, this.#receivers.has(id), 'receiver');
    const receiver = new RemoteChannelReceiver<T>(id, capacity, this.#link);
    this.#receivers.set(id, receiver as RemoteChannelReceiver<unknown>);
    receiver.open();
    this.#replay(this.#earlyForReceivers, id, receiver as RemoteChannelReceiver<unknown>);
    return receiver;
  }

  /**
   * Closes the transport: cleanly without an error (channels not finished on either side fail with
   * `SLUICE_EXCHANGE_CLOSED`), or with `error`, which every unfinished channel on both sides fails with.
   */
  close(error?: unknown): void {
    this.#transport.close(error);
  }

  get closed(): boolean {
    return this.#closedWith !== null;
  }

  #onFrame(frame: Uint8Array): void {
    const { type, channel, view } = frameHeader(frame);
    switch (type) {
      case FrameType.records: {
        // Decoded on arrival, whoever it is for: sequential msgpackr needs every batch decoded in order.
        const bytes = readU32(view);
        const records = this.#decoder.decode(frame.subarray(RECORDS_HEADER_BYTES));
        this.#toReceiver(channel, { kind: 'records', records, bytes });
        return;
      }
      case FrameType.timedRecords: {
        const bytes = readU32(view);
        const { timestamps, batchStart } = readTimestamps(view);
        const records = this.#decoder.decode(frame.subarray(batchStart));
        this.#toReceiver(channel, { kind: 'records', records, bytes, timestamps });
        return;
      }
      case FrameType.barrier:
        this.#toReceiver(channel, { kind: 'barrier', checkpointId: readCheckpointId(view) });
        return;
      case FrameType.watermark:
        this.#toReceiver(channel, { kind: 'watermark', watermark: readWatermark(view) });
        return;
      case FrameType.idle:
        this.#toReceiver(channel, { kind: 'idle', idle: readIdle(view) });
        return;
      case FrameType.end:
        this.#toReceiver(channel, { kind: 'end' });
        return;
      case FrameType.fail: {
        const error = readError(frame);
        this.#forReceiver(channel, (r) => r.failed(error));
        return;
      }
      case FrameType.open: {
        const capacity = readU32(view);
        this.#forSender(channel, (s) => s.opened(capacity));
        return;
      }
      case FrameType.credit: {
        const bytes = readU32(view);
        this.#forSender(channel, (s) => s.credited(bytes));
        return;
      }
      case FrameType.close: {
        const error = readError(frame);
        this.#forSender(channel, (s) => s.failed(error));
        return;
      }
    }
  }

  #toReceiver(channel: number, event: ChannelEvent<unknown>): void {
    const receiver = this.#receivers.get(channel);
    if (receiver !== undefined) receiver.deliver(event);
    else this.#early(this.#earlyForReceivers, channel).push((r) => r.deliver(event));
  }

  #forReceiver(channel: number, action: (r: RemoteChannelReceiver<unknown>) => void): void {
    const receiver = this.#receivers.get(channel);
    if (receiver !== undefined) action(receiver);
    else this.#early(this.#earlyForReceivers, channel).push(action);
  }

  #forSender(channel: number, action: (s: RemoteChannelSender<unknown>) => void): void {
    const sender = this.#senders.get(channel);
    if (sender !== undefined) action(sender);
    else this.#early(this.#earlyForSenders, channel).push(action);
  }

  #early<C>(map: Map<number, Early<C>>, channel: number): Early<C> {
    let list = map.get(channel);
    if (list === undefined) map.set(channel, (list = []));
    return list;
  }

  #replay<C>(map: Map<number, Early<C>>, id: number, channel: C): void {
    const early = map.get(id);
    if (early === undefined) return;
    map.delete(id);
    for (const action of early) action(channel);
  }

  #checkOpenable(id: number, taken: boolean, kind: string): void {
    if (!Number.isInteger(id) || id < 0 || id > 0xffff_ffff) {
      throw exchangeError(ExchangeErrorCodes.protocol, `channel id must be an integer from 0 to 2^32 - 1, got ${id}`);
    }
    if (taken) throw exchangeError(ExchangeErrorCodes.protocol, `a ${kind} for channel ${id} is already open on this endpoint`);
    if (this.#closedWith !== null) {
      throw this.#closedWith ?? exchangeError(ExchangeErrorCodes.closed, `cannot open ${kind} ${id}: the exchange endpoint is closed`);
    }
  }

  #onTransportClose(error: Error | undefined): void {
    this.#closedWith = error;
    const reason = error ?? exchangeError(ExchangeErrorCodes.closed, 'the exchange was closed before this channel finished');
    for (const sender of this.#senders.values()) if (!sender.finished) sender.failed(reason);
    for (const receiver of this.#receivers.values()) if (!receiver.finished) receiver.failed(reason);
    this.#earlyForSenders.clear();
    this.#earlyForReceivers.clear();
    this.onClose(error);
  }
}
