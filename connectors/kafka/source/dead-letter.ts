import type { Sink, SinkWriter, SourceReaderContext } from '../../../runtime/api/index.ts';
import type { KafkaHeaders } from '../kafka-record.ts';

/**
 * A record the Kafka source could not decode, as written to the dead-letter sink: where it came from, its raw bytes
 * and why it was rejected. `topic`/`partition`/`offset` identify it, so a replayed dead letter (after a failure,
 * see {@link DeadLetterWriter}) can be recognised as the same one.
 */
export interface DeadLetter {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Buffer | null;
  /** The value exactly as stored in Kafka. */
  readonly value: Buffer | null;
  readonly timestamp: number;
  readonly headers: KafkaHeaders;
  /** What the deserializer said, e.g. `Unexpected token } in JSON at position 7`. */
  readonly reason: string;
}

/**
 * Drives a dead-letter {@link Sink}'s writer from inside the source reader. The reader calls {@link deliver} with
 * the dead letters of a chunk *before* that chunk's position advance is handed to the pipeline, and `deliver` runs
 * the writer's whole two-phase protocol (`write`, `preCommit`, `commit`) under a private sequence number. So by the
 * time a checkpoint records a position past a poison record, its dead letter is committed in the sink: dead letters
 * are never lost. They are at-least-once: a failure between `deliver` and the next completed checkpoint replays the
 * poison record and writes its dead letter again (same topic/partition/offset). The writer is not part of the job's
 * checkpoints (its state is committed immediately, so there is nothing to restore).
 */
export class DeadLetterWriter {
  readonly #sink: Sink<DeadLetter>;
  readonly #context: SourceReaderContext;
  readonly #attempt: number;
  #writer: SinkWriter<DeadLetter> | undefined;
  #sequence = 0;
  /** Dead letters committed so far (for tests and metrics). */
  delivered = 0;

  constructor(sink: Sink<DeadLetter>, context: SourceReaderContext, attempt: number) {
    this.#sink = sink;
    this.#context = context;
    this.#attempt = attempt;
  }

  async start(): Promise<void> {
    const { job, subtask, parallelism, logger, clock, signal } = this.#context;
    this.#writer = this.#sink.createWriter({
      job,
      subtask,
      parallelism,
      attempt: this.#attempt,
      // The writer commits on our commit() calls, never on finish().
      checkpointing: true,
      restoredState: undefined,
      logger: logger.child({ deadLetters: this.#sink.name }),
      clock,
      signal,
    });
    await this.#writer.start();
  }

  /** Writes and commits `letters`; resolves once the sink has committed them. */
  async deliver(letters: readonly DeadLetter[]): Promise<void> {
    const writer = this.#writer;
    if (writer === undefined || letters.length === 0) return;
    const id = ++this.#sequence;
    await writer.write(letters);
    await writer.preCommit(id);
    await writer.commit(id);
    this.delivered += letters.length;
  }

  async close(outcome: 'finished' | 'failed' | 'cancelled'): Promise<void> {
    const writer = this.#writer;
    this.#writer = undefined;
    await writer?.close(outcome);
  }
}
