import { ExchangeErrorCodes, exchangeError, fromWireError, toWireError, type WireError } from './exchange-errors.ts';

/**
 * The frames logical channels exchange over one {@link Transport} (each is one transport frame; integers
 * little-endian):
 *
 * ```
 * frame    := type:u8 channel:u32 body
 * sender → receiver
 *   RECORDS  1  bytes:u32 batch:msgpack   `bytes` is the producer's size estimate (batch-size.ts), the unit of credit
 *   BARRIER  2  checkpointId:f64
 *   END      3  (empty)
 *   FAIL     4  error:utf8-json           the sender was closed with this error (a WireError)
 *   TIMED    8  bytes:u32 count:u32 timestamps:f64×count batch:msgpack
 *                                         RECORDS with each record's event time (streams with event time)
 *   WATERMARK 9 watermark:f64             event time reached this (±Infinity allowed)
 *   IDLE    10  idle:u8                   the producer is idle (1) or active again (0)
 * receiver → sender
 *   OPEN     5  capacity:u32              first frame of a receiver: the channel's capacity, all of it credit
 *   CREDIT   6  bytes:u32                 the consumer took a batch of this many bytes out of the queue
 *   CLOSE    7  error:utf8-json           the receiver was closed with this error
 * ```
 *
 * A channel id names one direction: sender `n` on one side talks to receiver `n` on the other, and the frame type
 * says which of the two a frame is for, so both sides may use id `n` for their own senders at once.
 * `batch` is a record array encoded by the endpoint's {@link RecordEncoder} (sequential msgpackr, record-codec.ts).
 */
export const FrameType = {
  records: 1,
  barrier: 2,
  end: 3,
  fail: 4,
  open: 5,
  credit: 6,
  close: 7,
  timedRecords: 8,
  watermark: 9,
  idle: 10,
} as const;

const LAST_FRAME_TYPE = FrameType.idle;

export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

/** type + channel. */
export const HEADER_BYTES = 5;
/** type + channel + bytes: where a records frame's batch starts. */
export const RECORDS_HEADER_BYTES = 9;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export function recordsFrame(channel: number, bytes: number, batch: Uint8Array): Uint8Array {
  const frame = new Uint8Array(RECORDS_HEADER_BYTES + batch.byteLength);
  const view = new DataView(frame.buffer);
  view.setUint8(0, FrameType.records);
  view.setUint32(1, channel, true);
  view.setUint32(5, creditBytes(bytes), true);
  frame.set(batch, RECORDS_HEADER_BYTES);
  return frame;
}

/** RECORDS with event time: the timestamps travel as raw f64s ahead of the batch (no msgpack work for them). */
export function timedRecordsFrame(channel: number, bytes: number, timestamps: readonly number[], batch: Uint8Array): Uint8Array {
  const start = RECORDS_HEADER_BYTES + 4;
  const frame = new Uint8Array(start + 8 * timestamps.length + batch.byteLength);
  const view = new DataView(frame.buffer);
  view.setUint8(0, FrameType.timedRecords);
  view.setUint32(1, channel, true);
  view.setUint32(5, creditBytes(bytes), true);
  view.setUint32(9, timestamps.length, true);
  for (let i = 0; i < timestamps.length; i++) view.setFloat64(start + 8 * i, timestamps[i] as number, true);
  frame.set(batch, start + 8 * timestamps.length);
  return frame;
}

/** The timestamps of a TIMED frame and where its batch starts. */
export function readTimestamps(view: DataView): { timestamps: number[]; batchStart: number } {
  if (view.byteLength < RECORDS_HEADER_BYTES + 4) throw corrupt('a timed records frame is too short for its count');
  const count = view.getUint32(9, true);
  const start = RECORDS_HEADER_BYTES + 4;
  if (view.byteLength < start + 8 * count) throw corrupt(`a timed records frame is too short for its ${count} timestamps`);
  const timestamps = new Array<number>(count);
  for (let i = 0; i < count; i++) timestamps[i] = view.getFloat64(start + 8 * i, true);
  return { timestamps, batchStart: start + 8 * count };
}

export function watermarkFrame(channel: number, watermark: number): Uint8Array {
  const frame = new Uint8Array(HEADER_BYTES + 8);
  const view = new DataView(frame.buffer);
  view.setUint8(0, FrameType.watermark);
  view.setUint32(1, channel, true);
  view.setFloat64(5, watermark, true);
  return frame;
}

export function readWatermark(view: DataView): number {
  if (view.byteLength < HEADER_BYTES + 8) throw corrupt('a watermark frame is too short for its watermark');
  return view.getFloat64(HEADER_BYTES, true);
}

export function idleFrame(channel: number, idle: boolean): Uint8Array {
  const frame = new Uint8Array(HEADER_BYTES + 1);
  const view = new DataView(frame.buffer);
  view.setUint8(0, FrameType.idle);
  view.setUint32(1, channel, true);
  view.setUint8(5, idle ? 1 : 0);
  return frame;
}

export function readIdle(view: DataView): boolean {
  if (view.byteLength < HEADER_BYTES + 1) throw corrupt('an idle frame is too short');
  return view.getUint8(HEADER_BYTES) === 1;
}

export function barrierFrame(channel: number, checkpointId: number): Uint8Array {
  const frame = new Uint8Array(HEADER_BYTES + 8);
  const view = new DataView(frame.buffer);
  view.setUint8(0, FrameType.barrier);
  view.setUint32(1, channel, true);
  view.setFloat64(5, checkpointId, true);
  return frame;
}

/** END, OPEN or CREDIT: a header and, for the last two, one u32. */
export function controlFrame(type: typeof FrameType.end | typeof FrameType.open | typeof FrameType.credit, channel: number, value = 0): Uint8Array {
  const frame = new Uint8Array(type === FrameType.end ? HEADER_BYTES : HEADER_BYTES + 4);
  const view = new DataView(frame.buffer);
  view.setUint8(0, type);
  view.setUint32(1, channel, true);
  if (type !== FrameType.end) view.setUint32(5, creditBytes(value), true);
  return frame;
}

export function errorFrame(type: typeof FrameType.fail | typeof FrameType.close, channel: number, error: unknown): Uint8Array {
  const json = utf8.encode(JSON.stringify(toWireError(error)));
  const frame = new Uint8Array(HEADER_BYTES + json.byteLength);
  const view = new DataView(frame.buffer);
  view.setUint8(0, type);
  view.setUint32(1, channel, true);
  frame.set(json, HEADER_BYTES);
  return frame;
}

/** The decoded header of a frame; the body is read with the functions below. */
export function frameHeader(frame: Uint8Array): { type: FrameTypeCode; channel: number; view: DataView } {
  if (frame.byteLength < HEADER_BYTES) throw corrupt(`a frame of ${frame.byteLength} bytes is shorter than its header`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const type = view.getUint8(0);
  if (type < FrameType.records || type > LAST_FRAME_TYPE) throw corrupt(`unknown frame type ${type}`);
  return { type: type as FrameTypeCode, channel: view.getUint32(1, true), view };
}

/** The u32 after the header (RECORDS bytes, OPEN capacity, CREDIT bytes). */
export function readU32(view: DataView): number {
  if (view.byteLength < HEADER_BYTES + 4) throw corrupt('a frame is too short for its u32 field');
  return view.getUint32(HEADER_BYTES, true);
}

export function readCheckpointId(view: DataView): number {
  if (view.byteLength < HEADER_BYTES + 8) throw corrupt('a barrier frame is too short for its checkpoint id');
  return view.getFloat64(HEADER_BYTES, true);
}

export function readError(frame: Uint8Array): Error {
  try {
    return fromWireError(JSON.parse(fromUtf8.decode(frame.subarray(HEADER_BYTES))) as WireError);
  } catch (err) {
    throw corrupt('an error frame does not hold a JSON error', err);
  }
}

/** Credits are whole bytes in a u32: what a batch of `bytes` (an estimate, maybe fractional) counts as on both sides. */
export function creditBytes(bytes: number): number {
  return Math.min(0xffff_ffff, Math.max(0, Math.ceil(bytes)));
}

function corrupt(message: string, cause?: unknown) {
  return exchangeError(ExchangeErrorCodes.corruptFrame, `exchange: ${message}; the peers disagree on the wire format or the bytes were damaged`, cause);
}
