import { SluiceError } from '../errors/index.ts';
import type { ChannelEvent, ChannelReader, ChannelWriter } from '../exec/index.ts';

/**
 * A failure that reached this worker through a channel from another worker: the echo of that worker's failure (its
 * channels fail with its error), or a broken exchange. The attempt's root cause is the other worker's own report,
 * which `WorkerAttempt` prefers to an echo whichever of them reaches the main thread first.
 */
export const PEER_FAILED = 'SLUICE_WORKER_PEER_FAILED';

function peerFailed(err: unknown, peer: number): SluiceError {
  if (err instanceof SluiceError && err.code === PEER_FAILED) return err;
  // A fatal error of the other worker (a record it could not encode) fails the job as it is, whichever report of it
  // reaches the main thread first: as an echo it would be retried.
  if (err instanceof SluiceError && err.retriable === false) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SluiceError(PEER_FAILED, `a channel from worker ${peer} failed: ${message}`, { cause: err, retriable: true });
}

/** The read half of a channel from worker `peer`, whose failures are marked as peer failures. */
export function fromPeer<T>(reader: ChannelReader<T>, peer: number): ChannelReader<T> {
  return {
    shift(): ChannelEvent<T> | undefined {
      try {
        return reader.shift();
      } catch (err) {
        throw peerFailed(err, peer);
      }
    },
    get queuedBytes() {
      return reader.queuedBytes;
    },
    get onPush() {
      return reader.onPush;
    },
    set onPush(wake: () => void) {
      reader.onPush = wake;
    },
  };
}

/** The write half of a channel to worker `peer`, whose failures are marked as peer failures. */
export function toPeer<T>(writer: ChannelWriter<T>, peer: number): ChannelWriter<T> {
  const mark = (err: unknown): never => {
    throw peerFailed(err, peer);
  };
  return {
    pushRecords(records, bytes, timestamps) {
      try {
        return writer.pushRecords(records, bytes, timestamps)?.catch(mark);
      } catch (err) {
        return mark(err);
      }
    },
    pushBarrier(checkpointId) {
      try {
        writer.pushBarrier(checkpointId);
      } catch (err) {
        mark(err);
      }
    },
    pushWatermark(watermark) {
      try {
        writer.pushWatermark(watermark);
      } catch (err) {
        mark(err);
      }
    },
    pushIdle(idle) {
      try {
        writer.pushIdle(idle);
      } catch (err) {
        mark(err);
      }
    },
    pushEnd() {
      try {
        writer.pushEnd();
      } catch (err) {
        mark(err);
      }
    },
  };
}
