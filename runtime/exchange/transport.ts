/**
 * The one contract between the exchange and whatever carries its bytes: a `MessagePort` between worker threads now
 * (message-port-transport.ts), a socket between processes later. It moves opaque **frames** in order and reports
 * how it ended; it knows nothing of records, channels, credits or checkpoints, so a new carrier only implements
 * these four members.
 *
 * Guarantees an implementation must give:
 * - frames arrive whole, in the order they were sent, exactly once, until the transport closes;
 * - `send` never blocks and copies what it needs before returning (the caller may reuse the bytes); flow control is
 *   the caller's job (credits, see remote-channel-sender.ts);
 * - `close(error)` delivers the frames already sent, then the error, to the peer's `onClose`; `close()` without an
 *   error is a clean goodbye (`onClose(undefined)` on the peer). A peer that disappears without either (a worker
 *   that crashed or was terminated) is reported as an error with code `SLUICE_EXCHANGE_DISCONNECTED`.
 * - `onClose` fires once, on both sides, whoever closed; no frame is delivered after it.
 *
 * @example
 * ```ts
 * const { port1, port2 } = new MessageChannel();
 * const a = new MessagePortTransport(port1);
 * const b = new MessagePortTransport(port2);
 * b.onFrame = (frame) => handle(frame);
 * b.onClose = (error) => error === undefined ? done() : fail(error);
 * a.send(new Uint8Array([1, 2, 3]));
 * a.close();
 * ```
 */
export interface Transport {
  /** Queues one frame for the peer. Throws `SLUICE_EXCHANGE_CLOSED` after close. */
  send(frame: Uint8Array): void;
  /**
   * Called with each frame from the peer, in order. The frame is owned by the receiver once delivered (it is not
   * reused by the transport), so views into it may be kept.
   */
  onFrame: (frame: Uint8Array) => void;
  /** Called once when the transport has closed: `undefined` for a clean close by either side, else the error. */
  onClose: (error: Error | undefined) => void;
  /** Flushes what was sent, then closes; with an error, the peer's `onClose` receives it (code and message kept). */
  close(error?: unknown): void;
  readonly closed: boolean;
}
