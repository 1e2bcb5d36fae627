/**
 * The exchange: channels between subtasks that run in different workers (issue 15), with the semantics of the
 * in-process `Channel` (exec/channel.ts) for producer and consumer alike.
 *
 * ## Layers
 * 1. {@link Transport} (transport.ts): moves opaque frames in order and reports how it closed. Nothing about
 *    records or checkpoints. {@link MessagePortTransport} implements it over a worker_threads `MessagePort`; a
 *    socket transport for the multi-process exchange implements the same four members.
 * 2. {@link ExchangeEndpoint} (exchange-endpoint.ts): one per transport per side; multiplexes logical channels by
 *    a u32 channel id, in both directions, and decodes records as they arrive.
 * 3. {@link RemoteChannelSender} (write half of `Channel`: `pushRecords`, `pushBarrier`, `pushEnd`, `close`) and
 *    {@link RemoteChannelReceiver} (read half: `shift`, `onPush`, `length`, `queuedBytes`, `close`), which an
 *    `InputGate` consumes once it takes {@link ChannelReader}s instead of `Channel`s.
 *
 * ## Frames
 * On a MessagePort, frames produced in one event-loop turn travel together in one transferred `ArrayBuffer`
 * (`length:u32le bytes` back to back; message-port-transport.ts). Each channel frame is
 * `type:u8 channel:u32le body` (channel-frames.ts): RECORDS (estimated bytes + a msgpackr batch; TIMED adds each record's event time),
 * BARRIER (checkpoint id), WATERMARK, IDLE, END and FAIL (an error) go sender → receiver; OPEN (capacity), CREDIT (bytes) and CLOSE (an
 * error) go receiver → sender. Record batches are msgpackr in sequential record mode: field names cross once per
 * shape per endpoint (record-codec.ts has the measurements that chose it over structured clone).
 *
 * ## Credits (flow control)
 * The receiver owns the buffer: its OPEN grants the channel's capacity in bytes; each batch its consumer shifts
 * returns that batch's bytes (CREDIT). The sender sends a batch when it fits in the credit left, or when nothing is
 * unacknowledged (one oversized batch passes alone, as in `Channel`); otherwise `pushRecords` returns a promise —
 * backpressure, per logical channel, in the same bytes (the producer's `estimateBatchBytes`) as in-process. So
 * bytes queued at the receiver plus bytes in flight never exceed the capacity. Channels do not share credit: a slow
 * consumer stalls only its own channel (and, through the producer's wait, its producer), as in-process.
 *
 * ## Ordering and failure
 * - Per channel, the consumer sees exactly the events the producer pushed, in push order. Barriers and END need
 *   no credit but never overtake a batch waiting for it, so barrier alignment works unchanged.
 * - No order holds across channels (none is needed: the gate aligns on barriers).
 * - `sender.close(err)` → the receiver drops what it holds and its `shift` throws `err` (a SluiceError keeps its
 *   code and message across the boundary); `receiver.close(err)` → the sender's waiting push rejects with `err`.
 * - Transport closed with an error, or the peer worker gone (`SLUICE_EXCHANGE_DISCONNECTED`): every channel that
 *   had not finished fails with it, on both sides.
 *
 * @example
 * ```ts
 * // main thread: producer of channel 3
 * const { port1, port2 } = new MessageChannel();
 * const worker = new Worker(url, { workerData: { port: port2 }, transferList: [port2] });
 * const endpoint = new ExchangeEndpoint(new MessagePortTransport(port1));
 * const out = endpoint.openSender<Order>(3);
 * for (const batch of batches) await out.pushRecords(batch, estimateBatchBytes(batch));
 * out.pushEnd();
 *
 * // worker: consumer of channel 3, through an InputGate
 * const endpoint = new ExchangeEndpoint(new MessagePortTransport(workerData.port));
 * const gate = new InputGate([endpoint.openReceiver<Order>(3, DEFAULT_CHANNEL_CAPACITY_BYTES)]);
 * ```
 */
export type { Transport } from './transport.ts';
export { MessagePortTransport } from './message-port-transport.ts';
export type { MessagePortTransportOptions } from './message-port-transport.ts';
export { ExchangeEndpoint } from './exchange-endpoint.ts';
export { RemoteChannelSender } from './remote-channel-sender.ts';
export { RemoteChannelReceiver } from './remote-channel-receiver.ts';
export type { ChannelReader } from './remote-channel-receiver.ts';
export { ExchangeErrorCodes, toWireError, fromWireError } from './exchange-errors.ts';
export type { ExchangeErrorCode, WireError } from './exchange-errors.ts';
export { RecordEncoder, RecordDecoder } from './record-codec.ts';
