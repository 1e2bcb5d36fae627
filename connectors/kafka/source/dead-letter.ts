import type { ConnectorEndpoint, Sink, SinkWriter, SourceReaderContext } from '../../../runtime/api/index.ts';
import { SluiceError } from '../../../runtime/errors/index.ts';
import type { KafkaHeaders } from '../kafka-record.ts';
import type { OnDeserializationError } from './options.ts';

/** Where undecodable records go outside the job: the dead-letter sink's endpoints (none for `'fail'` and `'skip'`). */
export function deadLetterEndpoints(onError: OnDeserializationError): readonly ConnectorEndpoint[] {
  return typeof onError === 'object' ? (onError.deadLetter.endpoints ?? []) : [];
}

/**
 * A record the Kafka source could not decode, as written to the dead-letter sink: where it came from, its raw bytes
 * and why it was rejected. `topic`/`partition`/`offset` identify it, so a replayed dead letter (after a failure,
 * see {@link DeadLetterWriter}) can be recognised as the same one.
 */
export interface DeadLetter {
  /** The topic the record came from. */
  readonly topic: string;
  /** The partition the record came from. */
  readonly partition: number;
  /** The record's offset. */
  readonly offset: number;
  /** The record's key, exactly as stored in Kafka. */
  readonly key: Buffer | null;
  /** The value exactly as stored in Kafka. */
  readonly value: Buffer | null;
  /** The record's timestamp (ms). */
  readonly timestamp: number;
  /** The record's headers. */
  readonly headers: KafkaHeaders;
  /** What the deserializer said, e.g. `Unexpected token } in JSON at position 7`. */
  readonly reason: string;
}

/** What the source reader stores in a checkpoint for its dead letters: the dead-letter writer's pre-commit state. */
export interface DeadLetterSnapshot {
  readonly deadLetters: unknown;
}

/**
 * Drives a dead-letter {@link Sink}'s writer from inside the source reader, in one of two ways:
 *
 * - **With checkpoints** (`checkpointed`): the writer takes part in the job's checkpoints like a sink. The reader
 *   writes a chunk's dead letters when `poll()` hands that chunk's position advance out ({@link write}), so the
 *   dead letters before barrier `n` are exactly those of the records checkpoint `n` is past. On the barrier the
 *   reader pre-commits them ({@link preCommit}, its state goes into checkpoint `n`), and commits them when checkpoint
 *   `n` completes ({@link commit}); a restore hands the writer the state back, so it re-commits or aborts what the
 *   failed attempt left. With an exactly-once sink (Kafka transactions) dead letters are then exactly-once: a replay
 *   after a failure rewrites only those of aborted transactions. With an at-least-once sink they are flushed on the
 *   barrier: never lost, possibly repeated.
 * - **Without checkpoints**: {@link deliver} runs the writer's whole two-phase protocol under a private sequence
 *   number before the reader hands the chunk out. Nothing is restored in such a job, so that is the most it can do.
 */
export class DeadLetterWriter {
  readonly #sink: Sink<DeadLetter>;
  readonly #context: SourceReaderContext;
  readonly #attempt: number;
  #writer: SinkWriter<DeadLetter> | undefined;
  #sequence = 0;
  /** Dead letters handed to the writer so far (for tests and metrics). */
  delivered = 0;

  constructor(sink: Sink<DeadLetter>, context: SourceReaderContext, attempt: number) {
    this.#sink = sink;
    this.#context = context;
    this.#attempt = attempt;
  }

  /** True when the job checkpoints: use {@link write}/{@link preCommit}/{@link commit}, not {@link deliver}. */
  get checkpointed(): boolean {
    return this.#context.checkpointing;
  }

  async start(): Promise<void> {
    const { job, subtask, parallelism, logger, clock, signal, checkpointTiming, restoredState } = this.#context;
    this.#writer = this.#sink.createWriter({
      job,
      subtask,
      parallelism,
      attempt: this.#attempt,
      // Without job checkpoints the writer still commits on our commit() calls (deliver), never on finish().
      checkpointing: true,
      ...(checkpointTiming === undefined ? {} : { checkpointTiming }),
      restoredState: restoredWriterStates(restoredState),
      role: 'dead-letters',
      logger: logger.child({ deadLetters: this.#sink.name }),
      clock,
      signal,
    });
    await this.#writer.start();
  }

  /** Checkpointed: hands `letters` to the writer; a promise means "wait before writing more" (backpressure). */
  write(letters: readonly DeadLetter[]): void | Promise<void> {
    const writer = this.#opened();
    this.delivered += letters.length;
    return writer.write(letters);
  }

  /** Checkpointed: on barrier `checkpointId`; what it returns goes into the checkpoint. */
  async preCommit(checkpointId: number): Promise<DeadLetterSnapshot | undefined> {
    const state = await this.#opened().preCommit(checkpointId);
    return state === undefined ? undefined : { deadLetters: state };
  }

  /** Checkpointed: checkpoint `checkpointId` is durable. */
  async commit(checkpointId: number): Promise<void> {
    await this.#opened().commit(checkpointId);
  }

  /** Without checkpoints: writes and commits `letters`; resolves once the sink has committed them. */
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

  #opened(): SinkWriter<DeadLetter> {
    if (this.#writer === undefined) throw new SluiceError('SLUICE_INTERNAL', 'the dead-letter writer is used before start() or after close()');
    return this.#writer;
  }
}

/** The writer states inside the reader states a checkpoint kept (one per old subtask that had some). */
function restoredWriterStates(states: readonly unknown[] | undefined): readonly unknown[] | undefined {
  if (states === undefined) return undefined;
  const writerStates = states
    .filter((s): s is DeadLetterSnapshot => typeof s === 'object' && s !== null && 'deadLetters' in s)
    .map((s) => s.deadLetters);
  return writerStates.length === 0 ? undefined : writerStates;
}
