import type { Socket } from 'node:net';
import type { Kafka } from 'kafkajs';
import { createKafkajsCluster } from '../../kafkajs/kafkajs-cluster.ts';

/**
 * The kafkajs 2.2.4 internals {@link GroupMembership} talks to the group coordinator through, typed here and nowhere
 * else: kafkajs's Cluster (bootstrap, metadata, FindCoordinator, with the client's ssl/sasl/timeouts) and the Broker
 * it hands out as coordinator (JoinGroup, SyncGroup, Heartbeat, LeaveGroup). kafkajs has no public API for a group
 * with a protocol type of our own; its consumer hardwires `consumer`.
 *
 * Two things kafkajs does not do for us, done here:
 * - Stopping. kafkajs retries inside the cluster with timers nobody can cancel, and `disconnect()` waits for requests
 *   in flight: a JoinGroup blocks for up to the rebalance timeout (+5 s), a request on a hung broker for the request
 *   timeout. So the cluster runs every step once (our loop owns backoff and retrying, and can stop), and {@link abort}
 *   destroys the sockets of busy connections so their requests fail now.
 * - Not leaking. Every coordinator handle is remembered and disconnected in {@link close}, also one that metadata
 *   refreshes dropped from kafkajs's broker pool (`cluster.disconnect()` no longer reaches those).
 */

/** kafkajs's parsed JoinGroup answer. */
export interface JoinGroupResponse {
  readonly generationId: number;
  readonly groupProtocol: string;
  readonly leaderId: string;
  readonly memberId: string;
  /** Every member with its metadata for the leader; empty for followers. */
  readonly members: ReadonlyArray<{ readonly memberId: string; readonly memberMetadata: Buffer | null }>;
}

/** A kafkajs Broker, as far as the group protocol needs it. Every call rejects with kafkajs's protocol errors. */
export interface GroupCoordinator {
  joinGroup(request: {
    groupId: string;
    sessionTimeout: number;
    rebalanceTimeout: number;
    memberId: string;
    protocolType: string;
    groupProtocols: Array<{ name: string; metadata: Buffer }>;
  }): Promise<JoinGroupResponse>;
  syncGroup(request: {
    groupId: string;
    generationId: number;
    memberId: string;
    groupAssignment: Array<{ memberId: string; memberAssignment: Buffer }>;
  }): Promise<{ memberAssignment: Buffer | null }>;
  heartbeat(request: { groupId: string; groupGenerationId: number; memberId: string }): Promise<unknown>;
  leaveGroup(request: { groupId: string; memberId: string }): Promise<unknown>;
}

/** kafkajs/src/network/connection.js: what tells whether a connection is busy, and its socket. */
interface InternalConnection {
  readonly socket?: Socket;
  readonly connectionStatus: string;
  readonly authHandlers: unknown;
  readonly requestQueue: { readonly inflight: Map<unknown, unknown>; readonly pending: readonly unknown[] };
}

interface InternalBroker extends GroupCoordinator {
  disconnect(): Promise<void>;
  readonly connectionPool: { readonly host: string; readonly port: number; readonly pool: readonly InternalConnection[] };
}

type Retrier = <T>(fn: (bail: (err?: unknown) => void, retryCount: number, retryTime: number) => Promise<T>) => Promise<T>;

interface InternalCluster {
  retrier: Retrier;
  readonly brokerPool: { retrier: Retrier; readonly seedBroker?: InternalBroker; readonly brokers: Record<string, InternalBroker> };
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadataIfNecessary(): Promise<void>;
  findGroupCoordinator(request: { groupId: string }): Promise<InternalBroker>;
}

/** One try, no timers: what kafkajs's retrier does with `retries: 0`, minus its error wrapping. */
const singleAttempt: Retrier = (fn) =>
  new Promise((resolve, reject) => {
    fn((err) => reject(err ?? new Error('aborted')), 0, 0).then(resolve, reject);
  });

/** How many event-loop turns {@link CoordinatorLink.settle} waits for destroyed connections to finish closing. */
const SETTLE_TURNS = 100;
/** How long `close()` lets kafkajs's graceful disconnect take before it destroys what is left. */
const DISCONNECT_TIMEOUT_MS = 5_000;

export class CoordinatorLink {
  readonly #cluster: InternalCluster;
  /** Every coordinator handle handed out: `close()` disconnects each, in or out of kafkajs's broker pool. */
  readonly #held = new Set<InternalBroker>();
  /** Connections whose socket {@link abort} destroyed: {@link settle} waits until kafkajs marked them disconnected. */
  readonly #destroyed = new Set<InternalConnection>();

  constructor(kafka: Kafka) {
    this.#cluster = createKafkajsCluster<InternalCluster>(
      kafka,
      { metadataMaxAge: 300_000, allowAutoTopicCreation: false, maxInFlightRequests: null, instrumentationEmitter: null },
      'Sluice cluster mode (group membership)',
    );
    this.#cluster.retrier = singleAttempt;
    this.#cluster.brokerPool.retrier = singleAttempt;
  }

  /** Connects (one bootstrap broker per call, rotating through the list) and finds the group's coordinator. */
  async find(groupId: string): Promise<GroupCoordinator> {
    await this.settle();
    await this.#cluster.connect();
    await this.#cluster.refreshMetadataIfNecessary();
    const broker = await this.#cluster.findGroupCoordinator({ groupId });
    this.#held.add(broker);
    return broker;
  }

  /**
   * LeaveGroup through `coordinator` (or the one found now), on connections {@link abort} may just have destroyed:
   * false when no answer came within `timeoutMs` (the request is aborted then).
   */
  async leaveGroup(groupId: string, memberId: string, coordinator: GroupCoordinator | undefined, timeoutMs: number): Promise<boolean> {
    await this.settle();
    // Sent only after settle(): the coordinator's connection may be one abort() just destroyed.
    const send = (async () => {
      await (coordinator ?? (await this.find(groupId))).leaveGroup({ groupId, memberId });
    })();
    if (await settlesWithin(send, timeoutMs)) return send.then(() => true);
    this.abort();
    return false;
  }

  /** `host:port` of the bootstrap broker tried last, for messages. */
  seedAddress(): string | undefined {
    const pool = this.#cluster.brokerPool.seedBroker?.connectionPool;
    return pool === undefined ? undefined : `${pool.host}:${pool.port}`;
  }

  /**
   * Destroys the sockets of connections that are connecting, authenticating or waiting for an answer (`all`: every
   * socket), so the requests on them reject now. kafkajs then disconnects those connections itself.
   */
  abort(all = false): void {
    for (const connection of this.#connections()) {
      const socket = connection.socket;
      if (socket === undefined || socket.destroyed) continue;
      const queue = connection.requestQueue;
      const busy = socket.connecting || connection.authHandlers != null || queue.inflight.size > 0 || queue.pending.length > 0;
      if (!all && !busy) continue;
      this.#destroyed.add(connection);
      socket.destroy(new Error('closed by Sluice: the group membership abandons the requests on this connection'));
    }
  }

  /**
   * Waits until kafkajs finished disconnecting what {@link abort} destroyed. Why: kafkajs counts a connection as
   * connected while it disconnects, so a request sent meanwhile would go to the dead socket and never be answered
   * (the disconnect also stops its timeout check), and a reconnect would have its new socket ended by the old
   * disconnect. And a `disconnect()` that starts waiting for requests before the socket error rejects them waits
   * forever (kafkajs's rejectAll does not signal an empty queue): so `close()` settles first.
   */
  async settle(): Promise<void> {
    for (let turn = 0; turn < SETTLE_TURNS; turn++) {
      const closing = [...this.#destroyed].filter((c) => c.connectionStatus !== 'disconnected');
      if (closing.length === 0) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.#destroyed.clear();
  }

  /** Disconnects everything: gracefully (FIN), or with `abrupt` every socket destroyed first, as a crash would. */
  async close(abrupt: boolean): Promise<void> {
    this.abort(abrupt);
    await this.settle();
    const brokers = new Set<InternalBroker>(this.#held);
    const disconnect = Promise.allSettled([this.#cluster.disconnect(), ...[...brokers].map((b) => b.disconnect())]);
    // kafkajs's disconnect waits for requests in flight; one that slipped past abort() must not hold close() forever.
    if (!(await settlesWithin(disconnect, DISCONNECT_TIMEOUT_MS))) this.abort(true);
    this.#held.clear();
  }

  *#connections(): Iterable<InternalConnection> {
    const pool = this.#cluster.brokerPool;
    const brokers = new Set<InternalBroker>([...this.#held, ...Object.values(pool.brokers ?? {})]);
    if (pool.seedBroker !== undefined) brokers.add(pool.seedBroker);
    for (const broker of brokers) yield* broker.connectionPool.pool;
  }
}

export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A plain copy: kafkajs's buffers are views of the whole response. */
export function toBytes(buffer: Buffer | null | undefined): Uint8Array {
  return buffer == null ? new Uint8Array(0) : new Uint8Array(buffer);
}

/** True when `promise` settled (either way) within `ms`; the timer is cleared either way. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}
