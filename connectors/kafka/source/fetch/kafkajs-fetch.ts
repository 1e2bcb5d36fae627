import { createRequire } from 'node:module';
import { SluiceError } from '../../../../runtime/errors/index.ts';
import { decodeFetchResponse, FETCH_VERSIONS, type FetchResponse } from './fetch-response.ts';

/**
 * The kafkajs 2.2.4 internals the source's fetcher uses, typed here and nowhere else: the cluster (metadata, leaders,
 * broker connections with the client's ssl/sasl/timeouts) and one broker connection's request path. A Fetch goes out
 * encoded by kafkajs's own request encoder for the version the broker supports, and its response is decoded by
 * {@link decodeFetchResponse} instead of kafkajs's decoder: that is the whole point (see record-set-reader.ts).
 */

/** A kafkajs broker connection: only what sending a request needs. */
export interface InternalBroker {
  /** Set once the broker's ApiVersions are known (kafkajs connects brokers before handing them out). */
  lookupRequest(apiKey: number, definition: RequestDefinition): (args: FetchRequestArgs) => ProtocolRequest;
}

/** kafkajs's cluster of one client. */
export interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  /** Leader node id → partitions; partitions missing from the metadata are left out. */
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(request: { nodeId: string }): Promise<InternalBroker>;
}

/** One partition of a fetch request. */
export interface FetchPartitionRequest {
  readonly topic: string;
  readonly partition: number;
  readonly fetchOffset: number;
  readonly maxBytes: number;
}

export interface FetchRequest {
  readonly readCommitted: boolean;
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly partitions: readonly FetchPartitionRequest[];
}

interface FetchRequestArgs {
  replicaId: number;
  isolationLevel: number;
  maxWaitTime: number;
  minBytes: number;
  maxBytes: number;
  topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
}

interface ProtocolRequest {
  request: { apiVersion: number };
  response: { decode(payload: Buffer): Promise<unknown>; parse(decoded: unknown): Promise<unknown> };
  requestTimeout?: number;
}

interface RequestDefinition {
  versions: string[];
  protocol(options: { version: number }): (args: FetchRequestArgs) => ProtocolRequest;
}

const FETCH_API_KEY = 1;
/** A consumer's replica id (not a follower broker). */
const CONSUMER_REPLICA_ID = -1;

let definition: RequestDefinition | undefined;

/**
 * kafkajs's Fetch request definition with the response decoder swapped for ours: kafkajs picks the highest version
 * both it and the broker support, encodes the request and, through the connection, calls our decode.
 */
function fetchDefinition(): RequestDefinition {
  if (definition !== undefined) return definition;
  let kafkajsFetch: RequestDefinition;
  try {
    kafkajsFetch = createRequire(import.meta.url)('kafkajs/src/protocol/requests/fetch/index.js') as RequestDefinition;
    if (!Array.isArray(kafkajsFetch.versions) || typeof kafkajsFetch.protocol !== 'function') throw new Error('unexpected shape');
  } catch (err) {
    throw internalsMissing(`its Fetch request encoder could not be loaded (${(err as Error).message})`);
  }
  const ours: RequestDefinition = {
    versions: kafkajsFetch.versions.filter((v) => Number(v) >= FETCH_VERSIONS.min && Number(v) <= FETCH_VERSIONS.max),
    protocol: ({ version }) => {
      const build = kafkajsFetch.protocol({ version });
      return (args) => ({
        ...build(args),
        response: {
          decode: async (payload: Buffer) => decodeFetchResponse(payload, version),
          parse: async (decoded: unknown) => decoded,
        },
      });
    },
  };
  definition = ours;
  return ours;
}

/**
 * Sends one Fetch to `broker` and returns the decoded response; partition errors are in the response, not thrown.
 * Connection failures and timeouts are thrown as kafkajs's errors (the fetcher retries them).
 */
export async function fetchFromBroker(broker: InternalBroker, request: FetchRequest): Promise<FetchResponse> {
  const topics: FetchRequestArgs['topics'] = [];
  for (const p of request.partitions) {
    let topic = topics.find((t) => t.topic === p.topic);
    if (topic === undefined) topics.push((topic = { topic: p.topic, partitions: [] }));
    topic.partitions.push({ partition: p.partition, fetchOffset: String(p.fetchOffset), maxBytes: p.maxBytes });
  }
  const build = broker.lookupRequest(FETCH_API_KEY, fetchDefinition());
  const protocolRequest = build({
    replicaId: CONSUMER_REPLICA_ID,
    isolationLevel: request.readCommitted ? 1 : 0,
    maxWaitTime: request.maxWaitMs,
    minBytes: request.minBytes,
    maxBytes: request.maxBytes,
    topics,
  });
  if (protocolRequest.request.apiVersion < FETCH_VERSIONS.min) {
    throw new SluiceError('SLUICE_KAFKA_ERROR', `the broker supports Fetch up to v${protocolRequest.request.apiVersion}; the Kafka source needs Fetch v4 (Kafka 0.11 or later)`, { retriable: false });
  }
  return (await sendRequestOf(broker).call(broker, protocolRequest)) as FetchResponse;
}

/** The broker's private request path (it reconnects a closed connection on the next request). */
function sendRequestOf(broker: InternalBroker): (request: ProtocolRequest) => Promise<unknown> {
  let proto: object | null = Object.getPrototypeOf(broker) as object | null;
  while (proto !== null) {
    const symbol = Object.getOwnPropertySymbols(proto).find((s) => s.description === 'private:Broker:sendRequest');
    const send = symbol === undefined ? undefined : (proto as Record<symbol, unknown>)[symbol];
    if (typeof send === 'function') return send as (request: ProtocolRequest) => Promise<unknown>;
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  throw internalsMissing('a broker connection has no request path');
}

function internalsMissing(what: string): SluiceError {
  return new SluiceError('SLUICE_INTERNAL', `the Kafka source decodes fetches itself and needs kafkajs 2.2.4's internals, but ${what}; install kafkajs@2.2.4`, { retriable: false });
}

/** A Kafka error code as kafkajs's error (its `type` names the code, `retriable` says whether to retry). */
export function kafkaErrorFromCode(code: number): Error & { readonly type?: string; readonly retriable?: boolean } {
  try {
    const { createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as { createErrorFromCode(code: number): Error };
    return createErrorFromCode(code);
  } catch {
    return Object.assign(new Error(`Kafka error code ${code}`), { retriable: false });
  }
}
