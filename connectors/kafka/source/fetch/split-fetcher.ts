import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../../../runtime/logging/index.ts';
import { isConnectionFailure } from '../errors.ts';
import type { FetchedPartition } from './fetch-response.ts';
import { fetchFromBroker, kafkaErrorFromCode, type InternalCluster } from './kafkajs-fetch.ts';

/** One partition the fetcher reads. */
export interface FetchedSplit {
  readonly topic: string;
  readonly partition: number;
}

export interface SplitFetcherOptions {
  /** The reader's kafkajs cluster; the fetcher uses it and leaves it connected when it stops. */
  readonly cluster: InternalCluster;
  readonly splits: readonly FetchedSplit[];
  /** Where each split's next fetch starts; asked before every fetch. */
  readonly nextOffset: (topic: string, partition: number) => number;
  /** Resolves when the reader's buffer has room (the backpressure on fetching); false stops the fetcher for good. */
  readonly awaitRoom: () => Promise<boolean>;
  /**
   * Handles one fetched partition, fetched from `fetchOffset`; the leader's next fetch waits for it. Must not throw
   * for bad records.
   */
  readonly onPartition: (fetched: FetchedPartition, fetchOffset: number) => Promise<void>;
  /** Whether a split is paused (watermark alignment): it is left out of fetches until it resumes. */
  readonly isPaused?: (topic: string, partition: number) => boolean;
  /** Resolves when the set of paused splits changes (a loop whose splits are all paused waits for it). */
  readonly pausesChanged?: () => Promise<void>;
  /** The split's position is outside the log (retention deleted it, or the log was truncated): reposition it. */
  readonly onOffsetOutOfRange: (topic: string, partition: number) => Promise<void>;
  /** The retry budget ran out, or an error that retrying cannot fix; the fetcher has stopped. */
  readonly onFailure: (error: unknown) => void;
  /**
   * A leader answered UNKNOWN_TOPIC_OR_PARTITION for a split (its topic may have been deleted); the fetcher retries as
   * for any stale metadata. Lets the reader look at the topic metadata now rather than at its next discovery round.
   */
  readonly onUnknownPartition?: (topic: string, partition: number) => void;
  readonly logger: Logger;
  readonly readCommitted: boolean;
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly maxBytesPerPartition: number;
  readonly retry: { readonly retries: number; readonly initialRetryTimeMs: number; readonly maxRetryTimeMs: number };
}

/** Kafka errors of a partition that mean "ask the metadata again": the leader moved or is not known yet. */
const STALE_METADATA = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'REPLICA_NOT_AVAILABLE',
  'KAFKA_STORAGE_ERROR',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
]);
const OFFSET_OUT_OF_RANGE = 1;

/**
 * Fetches a fixed set of partitions from their leaders — the `assign()` + `seek()` kafkajs lacks, without any consumer
 * group: one fetch loop per leader broker, each sending a Fetch for its partitions from `nextOffset()`, handing each
 * partition's response to `onPartition` and waiting for buffer room before the next fetch.
 *
 * Failures: a connection error, a timeout or a stale-metadata partition error stops every loop, refreshes the
 * metadata (leaders may have moved) and starts again after a backoff (`initialRetryTimeMs`, doubling up to
 * `maxRetryTimeMs`, ±20 % jitter, like kafkajs's retrier). The first failure is logged once as a warning and the
 * recovery once as info. After `retries` failures in a row, or on an error retrying cannot fix, `onFailure` is called
 * and the fetcher stops; the job's restart strategy takes it from there.
 */
export class SplitFetcher {
  readonly #o: SplitFetcherOptions;
  readonly #stopping = new AbortController();
  #supervisor: Promise<void> | undefined;
  /** Set when a loop failed: the others stop after their fetch in flight and the leaders are planned again. */
  #replan = false;

  constructor(options: SplitFetcherOptions) {
    this.#o = options;
  }

  /** Resolves when the fetcher stops. */
  readonly #stopped = new Promise<void>((resolve) => this.#stopping.signal.addEventListener('abort', () => resolve(), { once: true }));

  /** Starts fetching; returns at once (failures arrive through `onFailure`). */
  start(): void {
    this.#supervisor ??= this.#supervise();
  }

  /** Stops fetching; resolves when no fetch is in flight any more (≤ `maxWaitMs` plus a round trip). */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#supervisor;
  }

  get #running(): boolean {
    return !this.#stopping.signal.aborted;
  }

  async #supervise(): Promise<void> {
    const o = this.#o;
    let failures = 0;
    while (this.#running) {
      try {
        const leaders = await this.#planLeaders(failures > 0);
        this.#replan = false;
        // Recovered once every leader has answered a fetch: one healthy broker must not hide another one that is down.
        const answered = new Set<string>();
        const loops = [...leaders].map(([nodeId, splits]) =>
          this.#fetchLoop(nodeId, splits, () => {
            if (failures === 0 || answered.size === leaders.size) return;
            answered.add(nodeId);
            if (answered.size < leaders.size) return;
            o.logger.info({ attempts: failures }, `Kafka source fetches again after ${failures} failed attempt(s)`);
            failures = 0;
          }).catch((err: unknown) => {
            this.#replan = true;
            throw err;
          }),
        );
        const failed = (await Promise.allSettled(loops)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed !== undefined) throw failed.reason;
      } catch (err) {
        if (!this.#running) return;
        if (!isRetriable(err) || failures >= o.retry.retries) {
          this.#stopping.abort();
          o.onFailure(err);
          return;
        }
        failures++;
        if (failures === 1) {
          o.logger.warn(
            { err, retries: o.retry.retries },
            `Kafka source could not fetch (${(err as Error)?.message ?? String(err)}); retrying up to ${o.retry.retries} time(s) with backoff`,
          );
        }
        await sleep(backoffMs(failures, o.retry), undefined, { signal: this.#stopping.signal }).catch(() => undefined);
      }
    }
  }

  /** Leader node → its splits, from fresh metadata when `refresh` (after a failure). */
  async #planLeaders(refresh: boolean): Promise<Map<string, FetchedSplit[]>> {
    const { cluster, splits } = this.#o;
    const byTopic = new Map<string, number[]>();
    for (const s of splits) byTopic.set(s.topic, [...(byTopic.get(s.topic) ?? []), s.partition]);
    await cluster.addMultipleTargetTopics([...byTopic.keys()]);
    if (refresh) await cluster.refreshMetadata();
    const leaders = new Map<string, FetchedSplit[]>();
    for (const [topic, partitions] of byTopic) {
      const byLeader = cluster.findLeaderForPartitions(topic, partitions);
      let found = 0;
      for (const [nodeId, led] of Object.entries(byLeader)) {
        if (Number(nodeId) < 0) continue;
        found += led.length;
        leaders.set(nodeId, [...(leaders.get(nodeId) ?? []), ...led.map((partition) => ({ topic, partition }))]);
      }
      if (found < partitions.length) throw retriable(`no leader known yet for some partitions of "${topic}"`);
    }
    return leaders;
  }

  async #fetchLoop(nodeId: string, splits: readonly FetchedSplit[], onSuccess: () => void): Promise<void> {
    const o = this.#o;
    const broker = await o.cluster.findBroker({ nodeId });
    // Where the next fetch's partition list starts: see below.
    let rotation = 0;
    while (this.#running && !this.#replan) {
      if (!(await o.awaitRoom())) {
        // The reader moved on (a newer fetcher, or closing): this fetcher is done for good.
        this.#stopping.abort();
        return;
      }
      if (!this.#running) return;
      const active = o.isPaused === undefined ? splits : splits.filter(({ topic, partition }) => !(o.isPaused as NonNullable<typeof o.isPaused>)(topic, partition));
      if (active.length === 0) {
        // Every split of this leader is paused by watermark alignment: nothing to fetch until one resumes. Bounded as
        // a fetch is (maxWaitMs), so a replan asked for by another leader's loop is not held up.
        const pause = new AbortController();
        await Promise.race([o.pausesChanged?.(), this.#stopped, sleep(o.maxWaitMs, undefined, { signal: pause.signal }).catch(() => undefined)]);
        pause.abort();
        continue;
      }
      // The broker fills a fetch in the order its partitions are listed, and only the first partition with data may
      // exceed its byte limits (KIP-74): listed in the same order every time, the first partitions of a backlog would
      // take every fetch and starve the rest until they reach their end. Each fetch starts one partition further
      // (kafkajs's own consumer shuffles the list for the same reason; a rotation is as fair, and deterministic).
      const first = rotation++ % active.length;
      const ordered = first === 0 ? active : [...active.slice(first), ...active.slice(0, first)];
      const requested = ordered.map(({ topic, partition }) => ({ topic, partition, fetchOffset: o.nextOffset(topic, partition), maxBytes: o.maxBytesPerPartition }));
      const response = await fetchFromBroker(broker, {
        readCommitted: o.readCommitted,
        maxWaitMs: o.maxWaitMs,
        minBytes: o.minBytes,
        maxBytes: o.maxBytes,
        partitions: requested,
      });
      if (!this.#running) return;
      if (response.errorCode !== 0) throw kafkaErrorFromCode(response.errorCode);
      const askedAt = new Map(requested.map((r) => [`${r.topic}\0${r.partition}`, r.fetchOffset]));
      let stale: Error | undefined;
      for (const fetched of response.partitions) {
        if (fetched.errorCode === 0) {
          await o.onPartition(fetched, askedAt.get(`${fetched.topic}\0${fetched.partition}`) ?? -1);
        } else if (fetched.errorCode === OFFSET_OUT_OF_RANGE) {
          await o.onOffsetOutOfRange(fetched.topic, fetched.partition);
        } else {
          const error = kafkaErrorFromCode(fetched.errorCode);
          if (!STALE_METADATA.has(error.type ?? '') && error.retriable !== true) throw error;
          if (error.type === 'UNKNOWN_TOPIC_OR_PARTITION') o.onUnknownPartition?.(fetched.topic, fetched.partition);
          // The other partitions' records are still handed over; the leaders are planned again afterwards.
          stale ??= Object.assign(new Error(`${fetched.topic}-${fetched.partition}: ${error.message}`, { cause: error }), { retriable: true });
        }
        if (!this.#running) return;
      }
      if (stale !== undefined) throw stale;
      onSuccess();
    }
  }
}

function retriable(message: string): Error {
  return Object.assign(new Error(message), { retriable: true });
}

function isRetriable(err: unknown): boolean {
  if (isConnectionFailure(err)) return true;
  const e = err as { retriable?: unknown; name?: unknown } | null;
  return e?.retriable === true || e?.name === 'KafkaJSNumberOfRetriesExceeded' || e?.name === 'KafkaJSMetadataNotLoaded' || e?.name === 'KafkaJSTopicMetadataNotLoaded';
}

/** kafkajs's retry schedule: the initial time doubled per attempt, capped, with ±20 % jitter. */
function backoffMs(attempt: number, retry: SplitFetcherOptions['retry']): number {
  const base = Math.min(retry.maxRetryTimeMs, retry.initialRetryTimeMs * 2 ** (attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
