import type { MessagePort } from 'node:worker_threads';
import { ExchangeErrorCodes, exchangeError, fromWireError, toWireError, type WireError } from './exchange-errors.ts';
import type { Transport } from './transport.ts';

/**
 * Wire format on the port: each `postMessage` carries either
 * - a `Uint8Array` whose `ArrayBuffer` is transferred (not copied), holding one or more frames back to back:
 *   ```
 *   chunk := frame*
 *   frame := length:u32le  bytes:u8[length]
 *   ```
 * - or the goodbye, the last message a side sends: `{ close: WireError | null }` (`null`: clean close).
 *
 * Frames sent in one turn of the event loop share one chunk: `postMessage` costs microseconds per message whatever
 * its size (one message per record caps at ~120k/s), so the transport gathers the frames of a turn and posts them
 * from a microtask, or at once when they reach `chunkBytes`. Each chunk is allocated at the size it holds: a chunk
 * allocated at `chunkBytes` up front (256 KiB, zeroed, mapped and unmapped by the allocator at each transfer) and
 * posted with one small frame cost 7 % of a worker's time in bench/workers-cpu.ts. Copying a frame (memcpy of
 * ~100 KiB ≈ 10 µs) is far cheaper than a message and lets `send` copy, as the Transport contract says.
 */
export interface MessagePortTransportOptions {
  /** Bytes of frames gathered before they are posted without waiting for the microtask. Default 256 KiB. */
  readonly chunkBytes?: number;
}

interface Goodbye {
  readonly close: WireError | null;
}

const DEFAULT_CHUNK_BYTES = 256 * 1024;

/**
 * A {@link Transport} over one end of a `MessageChannel` (worker_threads): the other end is typically handed to a
 * worker in `workerData` with a transfer list.
 *
 * @example
 * ```ts
 * const { port1, port2 } = new MessageChannel();
 * const worker = new Worker(url, { workerData: { port: port2 }, transferList: [port2] });
 * const transport = new MessagePortTransport(port1);
 * ```
 */
export class MessagePortTransport implements Transport {
  readonly #port: MessagePort;
  readonly #chunkBytes: number;
  /** Frames sent this turn, each with its length prefix, not yet posted. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #flushQueued = false;
  #closed = false;
  onFrame: (frame: Uint8Array) => void = () => {};
  onClose: (error: Error | undefined) => void = () => {};

  constructor(port: MessagePort, options: MessagePortTransportOptions = {}) {
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isInteger(chunkBytes) || chunkBytes < 64) {
      throw exchangeError(ExchangeErrorCodes.protocol, `MessagePortTransport option chunkBytes must be an integer ≥ 64, got ${chunkBytes}`);
    }
    this.#port = port;
    this.#chunkBytes = chunkBytes;
    port.on('message', (data: unknown) => this.#receive(data));
    // Emitted on both sides when either closes, and when the peer's thread ends (terminate, crash).
    port.on('close', () => this.#finish(exchangeError(ExchangeErrorCodes.disconnected, 'the peer of a MessagePort exchange went away without closing it (its worker exited or crashed); data in flight is lost')));
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(frame: Uint8Array): void {
    if (this.#closed) throw exchangeError(ExchangeErrorCodes.closed, 'cannot send on a closed MessagePort transport');
    // The frame is copied at once (the caller may reuse its bytes), with its length prefix, into a buffer of its own
    // size: most turns send one frame, which is then posted as it is.
    const framed = new Uint8Array(4 + frame.byteLength);
    new DataView(framed.buffer).setUint32(0, frame.byteLength, true);
    framed.set(frame, 4);
    this.#pending.push(framed);
    this.#pendingBytes += framed.byteLength;
    if (this.#pendingBytes >= this.#chunkBytes) {
      this.#flush();
    } else if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => {
        this.#flushQueued = false;
        this.#flush();
      });
    }
  }

  close(error?: unknown): void {
    if (this.#closed) return;
    this.#flush();
    const goodbye: Goodbye = { close: error === undefined ? null : toWireError(error) };
    this.#port.postMessage(goodbye);
    this.#finish(error === undefined ? undefined : error instanceof Error ? error : fromWireError(toWireError(error)));
  }

  #flush(): void {
    const pending = this.#pending;
    if (pending.length === 0 || this.#closed) return;
    let chunk = pending[0] as Uint8Array;
    if (pending.length > 1) {
      chunk = new Uint8Array(this.#pendingBytes);
      let offset = 0;
      for (const framed of pending) {
        chunk.set(framed, offset);
        offset += framed.byteLength;
      }
    }
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#port.postMessage(chunk, [chunk.buffer as ArrayBuffer]);
  }

  #receive(data: unknown): void {
    if (this.#closed) return;
    if (!(data instanceof Uint8Array)) {
      const goodbye = data as Goodbye;
      this.#finish(goodbye.close === null ? undefined : fromWireError(goodbye.close));
      return;
    }
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let offset = 0;
    try {
      while (offset < data.byteLength && !this.#closed) {
        const length = view.getUint32(offset, true);
        if (offset + 4 + length > data.byteLength) {
          throw exchangeError(ExchangeErrorCodes.corruptFrame, `a frame of ${length} bytes runs past the end of its ${data.byteLength}-byte chunk`);
        }
        this.onFrame(data.subarray(offset + 4, offset + 4 + length));
        offset += 4 + length;
      }
    } catch (err) {
      // A frame the receiver cannot handle leaves the stream in an unknown state: stop both sides with the reason.
      this.close(err);
    }
  }

  #finish(error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending = [];
    this.#port.close();
    this.onClose(error);
  }
}
