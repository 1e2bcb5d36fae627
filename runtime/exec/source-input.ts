import { END_OF_INPUT, type SourceReader } from '../api/index.ts';
import type { ChannelEvent } from './channel.ts';

/**
 * Adapts a source reader to a subtask's input. When the reader reaches the end and the job checkpoints, the end is
 * held back until the coordinator releases it after a final checkpoint, so that sinks commit everything before the
 * job finishes (the same reason Flink takes a final checkpoint for bounded jobs).
 */
export class SourceInput<T> {
  readonly reader: SourceReader<T>;
  readonly #holdEnd: boolean;
  readonly #onFinished: () => void;
  #finished = false;
  #released = false;
  #endDelivered = false;

  constructor(reader: SourceReader<T>, options: { holdEnd: boolean; onFinished: () => void }) {
    this.reader = reader;
    this.#holdEnd = options.holdEnd;
    this.#onFinished = options.onFinished;
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** The coordinator completed the final checkpoint: the end may now flow downstream. */
  releaseEnd(): void {
    this.#released = true;
  }

  poll(): ChannelEvent<T> | null {
    if (this.#finished) {
      if ((this.#released || !this.#holdEnd) && !this.#endDelivered) {
        this.#endDelivered = true;
        return { kind: 'end' };
      }
      return null;
    }
    const batch = this.reader.poll();
    if (batch === null) return null;
    if (batch === END_OF_INPUT) {
      this.#finished = true;
      this.#onFinished();
      return this.poll();
    }
    if (batch.length === 0) return null;
    // Source batches are not queued here, so only their length matters; the size is estimated at channel edges.
    return { kind: 'records', records: batch, bytes: 0 };
  }

  available(): Promise<void> {
    // After the end, only the coordinator's release (delivered as mail) wakes the subtask.
    return this.#finished ? new Promise<void>(() => {}) : this.reader.available();
  }
}
