import type { Batch, Kafka } from 'kafkajs';
import { SluiceError } from '../../../runtime/errors/index.ts';
import type { AbortedTransaction } from './transaction-filter.ts';

/**
 * Takes the `aborted_transactions` of every read_committed Fetch response of one kafkajs client away from kafkajs and
 * keeps them for {@link CommittedRecordFilter}.
 *
 * Why: kafkajs 2.2.4 applies its own (wrong, see transaction-filter.ts) filter to that list while building a
 * `Batch`, and does not keep the list. Worse, when its filter leaves a batch empty it skips the batch without calling
 * `eachBatch`, so a wrongly dropped committed record could not even be recovered from `batch.messagesWithinOffset`.
 * With the list emptied, kafkajs's filter returns every record, and the source filters
 * `batch.messagesWithinOffset` itself. The broker still bounds the fetch by the last stable offset: the request keeps
 * isolation level read_committed.
 *
 * How: kafkajs has no hook for responses. Its consumer gets broker connections from the cluster its client's private
 * `createCluster` factory makes (the same factory the exactly-once sink uses); this wraps that factory on this one
 * client, and for read_committed clusters wraps `fetch` of each broker connection handed out. A response partition's
 * `messages` array becomes the `Batch`'s `rawMessages` (same array), so the list is found again by that array.
 * kafkajs 2.2.4 is pinned; {@link install} checks the shapes it relies on and fails loudly if they differ.
 */
export class FetchTap {
  readonly #aborted = new WeakMap<object, readonly AbortedTransaction[]>();

  /** Installs the tap on `kafka`'s consumers created from now on (admins and producers are untouched). */
  static install(kafka: Kafka): FetchTap {
    const tap = new FetchTap();
    const holder = kafka as unknown as Record<symbol, unknown>;
    const factory = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
    const create = factory === undefined ? undefined : holder[factory];
    if (factory === undefined || typeof create !== 'function') throw internalsMissing('the client has no cluster factory');
    holder[factory] = (options: { isolationLevel?: number }) => {
      const cluster = (create as (o: object) => unknown)(options) as InternalCluster;
      if (options.isolationLevel === READ_COMMITTED) tap.#wrapCluster(cluster);
      return cluster;
    };
    return tap;
  }

  /**
   * The aborted transactions of the fetch `batch` came from; throws when the batch did not pass through the tap (that
   * would mean kafkajs's shapes changed: filtering without the list would show aborted records).
   */
  abortedTransactionsOf(batch: Batch): readonly AbortedTransaction[] {
    const raw = (batch as unknown as { rawMessages?: unknown }).rawMessages;
    const aborted = typeof raw === 'object' && raw !== null ? this.#aborted.get(raw) : undefined;
    if (aborted === undefined) throw internalsMissing(`a fetched batch of ${batch.topic}/${batch.partition} did not pass through the fetch tap`);
    return aborted;
  }

  #wrapCluster(cluster: InternalCluster): void {
    const findBroker = cluster.findBroker;
    if (typeof findBroker !== 'function') throw internalsMissing('the cluster has no findBroker');
    cluster.findBroker = async (request) => {
      const broker = await findBroker.call(cluster, request);
      this.#wrapBroker(broker);
      return broker;
    };
  }

  #wrapBroker(broker: InternalBroker): void {
    if (broker[TAPPED] === true) return;
    const fetch = broker.fetch;
    if (typeof fetch !== 'function') throw internalsMissing('a broker connection has no fetch');
    broker[TAPPED] = true;
    broker.fetch = async (request) => {
      const response = await fetch.call(broker, request);
      for (const topic of response?.responses ?? []) {
        for (const partition of topic.partitions ?? []) {
          if (!Array.isArray(partition.messages)) continue;
          this.#aborted.set(partition.messages, partition.abortedTransactions ?? []);
          // kafkajs's filter returns every record when the list is empty; CommittedRecordFilter filters instead.
          partition.abortedTransactions = [];
        }
      }
      return response;
    };
  }
}

/** kafkajs's `ISOLATION_LEVEL.READ_COMMITTED`. */
const READ_COMMITTED = 1;
const TAPPED = Symbol('sluice:fetch-tap');

interface FetchResponsePartition {
  messages?: unknown;
  abortedTransactions?: AbortedTransaction[] | null;
}

interface FetchResponse {
  responses?: { partitions?: FetchResponsePartition[] }[];
}

interface InternalBroker {
  fetch: (request: unknown) => Promise<FetchResponse>;
  [TAPPED]?: boolean;
}

interface InternalCluster {
  findBroker: (request: unknown) => Promise<InternalBroker>;
}

function internalsMissing(what: string): SluiceError {
  return new SluiceError(
    'SLUICE_INTERNAL',
    `the Kafka source filters read_committed fetches itself and needs kafkajs 2.2.4's internals, but ${what}; install kafkajs@2.2.4, or set readUncommitted: true`,
  );
}
