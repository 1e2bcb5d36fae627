import type { Message } from 'kafkajs';
import { SluiceError } from '../../../runtime/errors/index.ts';
import type { ResolvedKafkaSinkOptions } from './options.ts';

/** One produce call: messages grouped by topic (kafkajs `sendBatch`'s `topicMessages`). */
export type SendFn = (topicMessages: Array<{ topic: string; messages: Message[] }>) => Promise<unknown>;

/**
 * Turns records into Kafka messages and sends them in batches of `batchSize` messages with up to `maxInFlightSends`
 * produce calls in flight. Measured on this machine kind (../../../shared MEASURED.md): kafkajs's cost per `send`
 * grows with the square of its messages, ~1,000 per send with several in flight is the sweet spot (~129k records/s
 * against ~81k with 10,000 per send).
 *
 * Memory is bounded: `add` returns a promise (the caller awaits it, which backpressures the pipeline) while
 * `maxInFlightSends` sends are outstanding. The first failed send poisons the pipeline: every later call throws it,
 * so nothing is acknowledged after a loss.
 */
export class SendPipeline<T> {
  readonly #options: ResolvedKafkaSinkOptions<T>;
  readonly #send: SendFn;
  readonly #inFlight = new Set<Promise<void>>();
  /** Buffered messages by topic, and how many in total. */
  #buffer = new Map<string, Message[]>();
  #buffered = 0;
  #failure: SluiceError | undefined;
  /** Messages handed to this pipeline (sent or buffered) since it was created. */
  written = 0;

  constructor(options: ResolvedKafkaSinkOptions<T>, send: SendFn) {
    this.#options = options;
    this.#send = send;
  }

  /** Encodes and buffers `records`; resolves when there is room for more (undefined when there already is). */
  add(records: readonly T[]): Promise<void> | undefined {
    this.#throwIfFailed();
    const { fixedTopic, topicOf, key, serializer, headers, batchSize } = this.#options;
    const fixed = fixedTopic === undefined ? undefined : this.#topicBuffer(fixedTopic);
    for (const record of records) {
      const message: Message = { value: serializer(record) };
      if (key !== undefined) message.key = key(record);
      if (headers !== undefined) {
        const h = typeof headers === 'function' ? headers(record) : headers;
        if (h !== undefined) message.headers = h as Message['headers'] & object;
      }
      (fixed ?? this.#topicBuffer(topicOf(record))).push(message);
      this.#buffered++;
      if (this.#buffered >= batchSize) this.#dispatch();
    }
    this.written += records.length;
    return this.#inFlight.size >= this.#options.maxInFlightSends ? this.#waitForRoom() : undefined;
  }

  /** Sends what is buffered and waits until every send so far is acknowledged by Kafka (or throws its failure). */
  async flush(): Promise<void> {
    this.#throwIfFailed();
    if (this.#buffered > 0) this.#dispatch();
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
    this.#throwIfFailed();
  }

  /** Drops buffered messages (the attempt failed); sends in flight finish on their own. */
  discard(): void {
    this.#buffer = new Map();
    this.#buffered = 0;
  }

  /** Resolves when no send is in flight, whatever their outcome (for shutdown). */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  #topicBuffer(topic: string): Message[] {
    let list = this.#buffer.get(topic);
    if (list === undefined) {
      list = [];
      this.#buffer.set(topic, list);
    }
    return list;
  }

  #dispatch(): void {
    const topicMessages = [...this.#buffer].map(([topic, messages]) => ({ topic, messages }));
    this.#buffer = new Map();
    this.#buffered = 0;
    const sent: Promise<void> = this.#send(topicMessages).then(
      () => {
        this.#inFlight.delete(sent);
      },
      (err: unknown) => {
        this.#inFlight.delete(sent);
        this.#failure ??= new SluiceError(
          'SLUICE_KAFKA_SEND_FAILED',
          `kafkaSink could not write to ${topicMessages.map((t) => `"${t.topic}"`).join(', ')}: ${(err as Error)?.message ?? String(err)}; the attempt fails and restarts from the last checkpoint`,
          { cause: err, retriable: true },
        );
      },
    );
    this.#inFlight.add(sent);
  }

  async #waitForRoom(): Promise<void> {
    while (this.#inFlight.size >= this.#options.maxInFlightSends) await Promise.race(this.#inFlight);
    this.#throwIfFailed();
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }
}
