/**
 * Shared parts of bench/cluster-failover.ts and bench/cluster-replication.ts: the input records of
 * cluster-count-job.ts, filling a topic with them, a steady producer, a logger whose lines the bench can read back
 * (when members logged what), and the cluster REST calls.
 */
import type { Kafka, Message, Producer } from 'kafkajs';
import { createLogger, type Logger } from '../../runtime/logging/index.ts';

/** The JSON value of one input record (~100 bytes, like the other Kafka benches): key `k<key>`, produced at `t`. */
export function clusterEventValue(key: number, t: number, bytes = 100): string {
  const base = `{"key":"k${key}","t":${t},"pad":""}`;
  return `{"key":"k${key}","t":${t},"pad":"${'x'.repeat(Math.max(0, bytes - base.length))}"}`;
}

const SEND_SIZE = 1_000;

/**
 * Produces `count` records whose keys are `keyOf(i)` for i in [0, count): sends of 1,000 messages, four in flight
 * (kafkajs's sweet spot, see ../shared/MEASURED.md), the default partitioner spreading them.
 */
export async function fillClusterTopic(kafka: Kafka, topic: string, count: number, keyOf: (i: number) => number = (i) => i): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < count) {
        const start = next;
        next = Math.min(count, next + SEND_SIZE);
        const t = Date.now();
        const messages: Message[] = [];
        for (let i = start; i < next; i++) messages.push({ value: clusterEventValue(keyOf(i), t) });
        await producer.send({ topic, messages });
      }
    };
    await Promise.all([lane(), lane(), lane(), lane()]);
  } finally {
    await producer.disconnect();
  }
}

/**
 * Produces `rate` records a second over keys drawn uniformly from [0, keys), in sends of `rate / 20` every 50 ms,
 * until `stop()`. Each record carries its production time, so the job's sink can tell how far behind it is.
 */
export class SteadyProducer {
  produced = 0;
  readonly #producer: Producer;
  #running = true;
  #loop: Promise<void> | undefined;

  private constructor(producer: Producer) {
    this.#producer = producer;
  }

  static async start(kafka: Kafka, topic: string, rate: number, keys: number): Promise<SteadyProducer> {
    const producer = kafka.producer();
    await producer.connect();
    const steady = new SteadyProducer(producer);
    steady.#loop = steady.#run(topic, rate, keys);
    return steady;
  }

  async #run(topic: string, rate: number, keys: number): Promise<void> {
    const tick = 50;
    const perTick = Math.max(1, Math.round((rate * tick) / 1000));
    const began = performance.now();
    let ticks = 0;
    while (this.#running) {
      const t = Date.now();
      const messages: Message[] = [];
      for (let i = 0; i < perTick; i++) messages.push({ value: clusterEventValue(Math.floor(Math.random() * keys), t) });
      // Sends of at most 1,000: kafkajs's cost grows with the square of messages per send.
      const sends: Array<Promise<unknown>> = [];
      for (let n = 0; n < messages.length; n += SEND_SIZE) sends.push(this.#producer.send({ topic, messages: messages.slice(n, n + SEND_SIZE) }));
      await Promise.all(sends);
      this.produced += messages.length;
      ticks++;
      const wait = began + ticks * tick - performance.now();
      if (wait > 0) await sleep(wait);
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop?.catch(() => undefined);
    await this.#producer.disconnect();
  }
}

/** A log line a member wrote: when the bench saw it (performance.now()), which member, and the line. */
export interface TappedLine {
  readonly at: number;
  readonly member: string;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

/**
 * Loggers whose lines are kept (and optionally copied to `file`'s stream): pino writes synchronously to the
 * destination, so `at` is when the member logged.
 */
export class LogTap {
  readonly lines: TappedLine[] = [];
  readonly #copy: { write(line: string): unknown } | undefined;

  constructor(copy?: { write(line: string): unknown }) {
    this.#copy = copy;
  }

  logger(member: string, level = 'info'): Logger {
    return createLogger({
      level,
      pretty: false,
      destination: {
        write: (line: string) => {
          const at = performance.now();
          this.#copy?.write(`${JSON.stringify({ at: Math.round(at), member })} ${line}`);
          try {
            const fields = JSON.parse(line) as Record<string, unknown>;
            this.lines.push({ at, member, msg: String(fields['msg'] ?? ''), fields });
          } catch {
            // not JSON: ignore
          }
        },
      },
    });
  }

  /** The first line after `since` from `member` (any member when undefined) whose message includes `text`. */
  first(text: string, since: number, member?: string): TappedLine | undefined {
    return this.lines.find((l) => l.at >= since && (member === undefined || l.member === member) && l.msg.includes(text));
  }
}

export interface ClusterJobView {
  name: string;
  owner: string | null;
  state: string;
  lastCheckpoint: { id: number; kind: string; at: number; bytes: number } | null;
}

export interface ClusterView {
  generation: number | null;
  leader: string | null;
  members: Array<{ name: string; url: string; jobs: string[] }>;
  jobs: ClusterJobView[];
}

export async function callApi<T>(url: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${url}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const json = (await response.json()) as T & { error?: { message: string } };
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${json.error?.message ?? JSON.stringify(json)}`);
  return json;
}

export async function clusterView(url: string): Promise<ClusterView> {
  return (await callApi<{ cluster: ClusterView }>(url, 'GET', '/v1/cluster')).cluster;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every `intervalMs` until it answers something other than undefined/false; throws after `timeoutMs`. */
export async function waitUntil<T>(condition: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs: number, intervalMs = 20): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
export const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
