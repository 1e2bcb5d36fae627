import type { Message } from 'kafkajs';
import { SluiceError } from '../../../runtime/errors/index.ts';
import type { ResolvedKafkaSinkOptions } from './options.ts';

/** One produce call: messages grouped by topic (kafkajs `sendBatch`'s `topicMessages`). */
export type SendFn = (topicMessages: Array<{ topic: string; messages: Message[] }>) => Promise<unknown>;

/** Messages waiting in one lane, and the send of that lane in flight (at most one). */
interface Lane {
  buffer: Map<string, Message[]>;
  buffered: number;
  inFlight: Promise<void> | undefined;
}

/**
 * Turns records into Kafka messages and sends them in batches, keeping every key's records in the order they were
 * written.
 *
 * Why lanes: kafkajs does not keep concurrent sends on one producer in order. A send waits for metadata, the
 * transaction's partition registration and a per-broker lock before it gets its sequence numbers, and a retried send
 * lands after sends issued later; 8 concurrent sends per transaction were seen landing as `0,1,2,3,4,5,7,6`, so a
 * key's running total could go 249, 260, 250 in its partition. So records are spread over `maxInFlightSends` lanes
 * by a hash of their key (records without a key share lane 0), and a lane sends its next batch only once Kafka
 * acknowledged the previous one. A key's records therefore never sit in two sends at once, whatever kafkajs does
 * with them; different keys still travel in parallel.
 *
 * When: once `batchSize` messages are buffered over all lanes, every lane without a send in flight sends what it
 * holds (records leave as early as with a single buffer); a busy lane keeps collecting and sends when its previous
 * send is acknowledged, so sends grow under load. Measured with `npx tsx bench/kafka-to-kafka.ts`: see
 * docs/connectors/kafka-sink.md, "Ordering".
 *
 * Memory is bounded: `add` returns a promise (the caller awaits it, which backpressures the pipeline) while a lane
 * holds `batchSize` messages behind its send in flight, so at most `maxInFlightSends` sends are in flight and about
 * `maxInFlightSends × batchSize` messages buffered. The first failed send poisons the pipeline: every later call
 * throws it, so nothing is acknowledged after a loss.
 */
export class SendPipeline<T> {
  readonly #options: ResolvedKafkaSinkOptions<T>;
  readonly #send: SendFn;
  readonly #lanes: Lane[];
  /** Messages buffered over all lanes. */
  #buffered = 0;
  #failure: SluiceError | undefined;
  /** Messages handed to this pipeline (sent or buffered) since it was created. */
  written = 0;

  constructor(options: ResolvedKafkaSinkOptions<T>, send: SendFn) {
    this.#options = options;
    this.#send = send;
    this.#lanes = Array.from({ length: options.maxInFlightSends }, () => ({ buffer: new Map(), buffered: 0, inFlight: undefined }));
  }

  /** Encodes and buffers `records`; resolves when there is room for more (undefined when there already is). */
  add(records: readonly T[]): Promise<void> | undefined {
    this.#throwIfFailed();
    const { fixedTopic, topicOf, key, serializer, headers, batchSize } = this.#options;
    const lanes = this.#lanes;
    for (const record of records) {
      const message: Message = { value: serializer(record) };
      let lane = lanes[0] as Lane;
      if (key !== undefined) {
        const k = key(record);
        message.key = k;
        if (k !== null && lanes.length > 1) lane = lanes[laneOfKey(k, lanes.length)] as Lane;
      }
      if (headers !== undefined) {
        const h = typeof headers === 'function' ? headers(record) : headers;
        if (h !== undefined) message.headers = h as Message['headers'] & object;
      }
      topicBuffer(lane, fixedTopic ?? topicOf(record)).push(message);
      lane.buffered++;
      if (++this.#buffered >= batchSize) this.#dispatchIdle();
    }
    this.written += records.length;
    return this.#full() ? this.#waitForRoom() : undefined;
  }

  /** Sends what is buffered and waits until every send so far is acknowledged by Kafka (or throws its failure). */
  async flush(): Promise<void> {
    for (;;) {
      this.#throwIfFailed();
      this.#dispatchIdle();
      const inFlight = this.#inFlight();
      if (inFlight.length === 0) return;
      await Promise.all(inFlight);
    }
  }

  /** Drops buffered messages (the attempt failed); sends in flight finish on their own. */
  discard(): void {
    for (const lane of this.#lanes) {
      lane.buffer = new Map();
      lane.buffered = 0;
    }
    this.#buffered = 0;
  }

  /** Resolves when no send is in flight, whatever their outcome (for shutdown). */
  async settled(): Promise<void> {
    for (let inFlight = this.#inFlight(); inFlight.length > 0; inFlight = this.#inFlight()) await Promise.all(inFlight);
  }

  #inFlight(): Array<Promise<void>> {
    const sends: Array<Promise<void>> = [];
    for (const lane of this.#lanes) if (lane.inFlight !== undefined) sends.push(lane.inFlight);
    return sends;
  }

  /** True while some lane holds a full batch behind its send in flight. */
  #full(): boolean {
    const { batchSize } = this.#options;
    return this.#lanes.some((lane) => lane.inFlight !== undefined && lane.buffered >= batchSize);
  }

  /**
   * Sends the buffer of every lane without a send in flight. Called once `batchSize` messages are buffered over all
   * lanes, so records leave as soon as they did when there was one buffer; lanes whose send is in flight keep
   * collecting, and their next send goes out when the previous one is acknowledged (bigger sends under load).
   */
  #dispatchIdle(): void {
    for (const lane of this.#lanes) if (lane.inFlight === undefined && lane.buffered > 0) this.#dispatch(lane);
  }

  #dispatch(lane: Lane): void {
    const topicMessages = [...lane.buffer].map(([topic, messages]) => ({ topic, messages }));
    this.#buffered -= lane.buffered;
    lane.buffer = new Map();
    lane.buffered = 0;
    lane.inFlight = this.#send(topicMessages).then(
      () => {
        lane.inFlight = undefined;
        // Sends what collected behind this send, so the lane (and a writer waiting for room) can go on.
        const { batchSize } = this.#options;
        if (this.#failure === undefined && lane.buffered > 0 && (lane.buffered >= batchSize || this.#buffered >= batchSize)) this.#dispatch(lane);
      },
      (err: unknown) => {
        lane.inFlight = undefined;
        this.#failure ??= new SluiceError(
          'SLUICE_KAFKA_SEND_FAILED',
          `kafkaSink could not write to ${topicMessages.map((t) => `"${t.topic}"`).join(', ')}: ${(err as Error)?.message ?? String(err)}; the attempt fails and restarts from the last checkpoint`,
          { cause: err, retriable: true },
        );
      },
    );
  }

  async #waitForRoom(): Promise<void> {
    const { batchSize } = this.#options;
    while (this.#failure === undefined && this.#full()) {
      await Promise.race(this.#lanes.filter((lane) => lane.inFlight !== undefined && lane.buffered >= batchSize).map((lane) => lane.inFlight));
    }
    this.#throwIfFailed();
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }
}

function topicBuffer(lane: Lane, topic: string): Message[] {
  let list = lane.buffer.get(topic);
  if (list === undefined) {
    list = [];
    lane.buffer.set(topic, list);
  }
  return list;
}

/**
 * Lane of a record key, `0 ≤ lane < lanes`: FNV-1a over the key's UTF-16 code units (a string) or bytes (a Buffer),
 * so equal keys always share a lane. Any stable hash would do; this one is cheap for the short keys records carry.
 */
export function laneOfKey(key: string | Buffer, lanes: number): number {
  let hash = 0x811c9dc5;
  if (typeof key === 'string') {
    for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  } else {
    for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ (key[i] as number), 0x01000193);
  }
  return (hash >>> 0) % lanes;
}
