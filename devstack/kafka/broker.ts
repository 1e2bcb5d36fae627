import type { Logger } from '../../runtime/logging/index.ts';
import type { Clock } from '../../runtime/time/index.ts';
import { AdminHandlers, type NodeInfo } from './admin-handlers.ts';
import { FetchHandler } from './fetch-handler.ts';
import { GroupCoordinator } from './groups/group-coordinator.ts';
import type { TopicStore } from './log/topic-store.ts';
import type { AnyApiCodec } from './protocol/api-codec.ts';
import { ALL_APIS } from './protocol/apis.ts';
import type { ApiVersionsResponse } from './protocol/api-versions-v0-2.ts';
import type { DeleteRecordsRequest, DeleteRecordsResponse } from './protocol/delete-records-v0-1.ts';
import { ErrorCode } from './protocol/error-codes.ts';
import type { ListOffsetsRequest, ListOffsetsResponse } from './protocol/list-offsets-v2-3.ts';
import type { ProducePartitionResponse, ProduceRequest, ProduceResponse } from './protocol/produce-v3-7.ts';
import { TransactionCoordinator } from './txn/transaction-coordinator.ts';

/** Per-request facts the handlers need from the connection. */
export interface RequestContext {
  readonly clientId: string;
  readonly clientHost: string;
  onClose(fn: () => void): () => void;
}

/** A handler's answer: a response, a promise of one, or NO_RESPONSE (Produce with acks=0). */
export const NO_RESPONSE: unique symbol = Symbol('no response');
export type HandlerResult = unknown;
type Handler = (req: never, ctx: RequestContext) => HandlerResult;

export interface BrokerOptions {
  node: NodeInfo;
  topics: TopicStore;
  clock: Clock;
  logger: Logger;
  groupInitialRebalanceDelayMs: number;
  groupMinSessionTimeoutMs: number;
  groupMaxSessionTimeoutMs: number;
  transactionMaxTimeoutMs: number;
  onStateChanged(): void;
}

const LATEST = -1;
/** DeleteRecords' offset meaning "up to the high watermark". */
const HIGH_WATERMARK = -1;
const EARLIEST = -2;
const READ_COMMITTED = 1;

/**
 * The single node's request handling: every API key maps to one handler that turns a decoded request into a
 * response object. No bytes here (codecs) and no sockets (server).
 */
export class Broker {
  readonly topics: TopicStore;
  readonly groups: GroupCoordinator;
  readonly txns: TransactionCoordinator;
  readonly #admin: AdminHandlers;
  readonly #fetch: FetchHandler;
  readonly #node: NodeInfo;
  readonly #handlers = new Map<number, Handler>();
  readonly #onStateChanged: () => void;

  constructor(opts: BrokerOptions) {
    this.topics = opts.topics;
    this.#node = opts.node;
    this.#onStateChanged = opts.onStateChanged;
    this.groups = new GroupCoordinator({
      clock: opts.clock,
      initialRebalanceDelayMs: opts.groupInitialRebalanceDelayMs,
      minSessionTimeoutMs: opts.groupMinSessionTimeoutMs,
      maxSessionTimeoutMs: opts.groupMaxSessionTimeoutMs,
      partitionExists: (t, p) => this.topics.partition(t, p) !== undefined,
      onOffsetsChanged: opts.onStateChanged,
    });
    this.txns = new TransactionCoordinator({
      clock: opts.clock,
      topics: this.topics,
      groups: this.groups,
      maxTimeoutMs: opts.transactionMaxTimeoutMs,
      onChange: opts.onStateChanged,
    });
    this.#admin = new AdminHandlers(this.topics, opts.node, (topic) => this.groups.removeTopic(topic));
    this.#fetch = new FetchHandler(this.topics);
    this.#register();
  }

  /** Runs the handler of `api`; the request was decoded by that API's codec. */
  handle(api: AnyApiCodec, req: unknown, ctx: RequestContext): HandlerResult {
    const handler = this.#handlers.get(api.key);
    if (handler === undefined) return api.errorResponse(req, ErrorCode.UNSUPPORTED_VERSION);
    return (handler as (req: unknown, ctx: RequestContext) => HandlerResult)(req, ctx);
  }

  #on<Req>(key: number, fn: (req: Req, ctx: RequestContext) => HandlerResult): void {
    this.#handlers.set(key, fn as Handler);
  }

  #register(): void {
    const node = this.#node;
    this.#on(18, (): ApiVersionsResponse => apiVersionsResponse(ErrorCode.NONE));
    this.#on(0, (req: ProduceRequest) => this.#produce(req));
    this.#on(1, (req: Parameters<FetchHandler['handle']>[0], ctx) => this.#fetch.handle(req, ctx));
    this.#on(2, (req: ListOffsetsRequest) => this.#listOffsets(req));
    this.#on(3, (req: Parameters<AdminHandlers['metadata']>[0]) => this.#admin.metadata(req));
    this.#on(8, (req: Parameters<GroupCoordinator['commitOffsets']>[0]) => this.groups.commitOffsets(req));
    this.#on(9, (req: Parameters<GroupCoordinator['fetchOffsets']>[0]) => this.groups.fetchOffsets(req));
    this.#on(10, (req: { key: string; keyType: number }) => {
      if (req.keyType !== 0 && req.keyType !== 1) {
        return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: null, nodeId: -1, host: '', port: -1 };
      }
      return { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: node.nodeId, host: node.host, port: node.port() };
    });
    this.#on(11, (req: Parameters<GroupCoordinator['join']>[0], ctx) => {
      return new Promise((resolve) => this.groups.join(req, ctx, resolve));
    });
    this.#on(12, (req: { groupId: string; memberId: string; generationId: number }) => ({
      errorCode: this.groups.heartbeat(req.groupId, req.memberId, req.generationId),
    }));
    this.#on(13, (req: { groupId: string; memberId: string }) => ({
      errorCode: this.groups.leave(req.groupId, req.memberId),
    }));
    this.#on(14, (req: Parameters<GroupCoordinator['sync']>[0]) => {
      return new Promise((resolve) => this.groups.sync(req, resolve));
    });
    this.#on(15, (req: { groupIds: string[] }) => this.groups.describe(req.groupIds));
    this.#on(16, () => ({ errorCode: ErrorCode.NONE, groups: this.groups.list() }));
    this.#on(19, (req: Parameters<AdminHandlers['createTopics']>[0]) => this.#admin.createTopics(req));
    this.#on(20, (req: Parameters<AdminHandlers['deleteTopics']>[0]) => this.#admin.deleteTopics(req));
    this.#on(21, (req: DeleteRecordsRequest) => this.#deleteRecords(req));
    this.#on(22, (req: { transactionalId: string | null; transactionTimeoutMs: number }) =>
      this.txns.initProducerId(req.transactionalId, req.transactionTimeoutMs),
    );
    this.#on(24, (req: Parameters<TransactionCoordinator['addPartitions']>[0]) => this.txns.addPartitions(req));
    this.#on(25, (req: { transactionalId: string; producerId: number; producerEpoch: number; groupId: string }) => ({
      errorCode: this.txns.addOffsets(req.transactionalId, req.producerId, req.producerEpoch, req.groupId),
    }));
    this.#on(26, (req: { transactionalId: string; producerId: number; producerEpoch: number; committed: boolean }) => ({
      errorCode: this.txns.endTxn(req.transactionalId, req.producerId, req.producerEpoch, req.committed),
    }));
    this.#on(28, (req: Parameters<GroupCoordinator['commitTxnOffsets']>[0]) => {
      const check = this.txns.checkTxnOffsetCommit(req.transactionalId, req.producerId, req.producerEpoch);
      if (check !== ErrorCode.NONE) {
        return {
          topics: req.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode: check })),
          })),
        };
      }
      return this.groups.commitTxnOffsets(req);
    });
    this.#on(32, (req: Parameters<AdminHandlers['describeConfigs']>[0]) => this.#admin.describeConfigs(req));
    this.#on(33, (req: Parameters<AdminHandlers['alterConfigs']>[0]) => this.#admin.alterConfigs(req));
    this.#on(37, (req: Parameters<AdminHandlers['createPartitions']>[0]) => this.#admin.createPartitions(req));
    this.#on(42, (req: { groupIds: string[] }) => ({ results: this.groups.deleteGroups(req.groupIds) }));
  }

  /**
   * DeleteRecords (KIP-107), as Kafka 2.1's `ReplicaManager.deleteRecords`: each partition's log start offset moves
   * up to the requested offset (-1: the high watermark) and the batches wholly below it go; an offset past the high
   * watermark is OFFSET_OUT_OF_RANGE. The answer's low watermark is the log start offset afterwards.
   */
  #deleteRecords(req: DeleteRecordsRequest): DeleteRecordsResponse {
    const res: DeleteRecordsResponse = {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map(({ partition, offset }) => {
          const log = this.topics.partition(t.name, partition);
          if (log === undefined) return { partition, lowWatermark: -1, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
          const target = offset === HIGH_WATERMARK ? log.highWatermark : offset;
          if (target < 0 || target > log.highWatermark) return { partition, lowWatermark: -1, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
          log.advanceLogStartOffset(target);
          return { partition, lowWatermark: log.logStartOffset, errorCode: ErrorCode.NONE };
        }),
      })),
    };
    this.#onStateChanged();
    return res;
  }

  #produce(req: ProduceRequest): ProduceResponse | typeof NO_RESPONSE {
    const validAcks = req.acks === -1 || req.acks === 0 || req.acks === 1;
    const res: ProduceResponse = {
      topics: req.topics.map((t) => {
        const topic = this.topics.get(t.name);
        const maxBytes = Number(topic?.configs.get('max.message.bytes') ?? 1000012);
        return {
          name: t.name,
          partitions: t.partitions.map((p): ProducePartitionResponse => {
            const fail = (errorCode: number): ProducePartitionResponse => ({
              partition: p.partition,
              errorCode,
              baseOffset: -1,
              logAppendTime: -1,
              logStartOffset: -1,
            });
            if (!validAcks) return fail(ErrorCode.INVALID_REQUIRED_ACKS);
            const log = topic?.partitions[p.partition];
            if (log === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
            if (p.records === null || p.records.length === 0) return fail(ErrorCode.CORRUPT_MESSAGE);
            if (p.records.length > maxBytes + 12) return fail(ErrorCode.MESSAGE_TOO_LARGE);
            const result = log.appendFromProducer(p.records);
            if (result.errorCode !== ErrorCode.NONE) {
              return { ...fail(result.errorCode), logStartOffset: log.logStartOffset };
            }
            return {
              partition: p.partition,
              errorCode: ErrorCode.NONE,
              baseOffset: result.baseOffset,
              logAppendTime: result.logAppendTime ?? -1,
              logStartOffset: log.logStartOffset,
            };
          }),
        };
      }),
    };
    return req.acks === 0 ? NO_RESPONSE : res;
  }

  #listOffsets(req: ListOffsetsRequest): ListOffsetsResponse {
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          const log = this.topics.partition(t.name, p.partition);
          if (log === undefined) {
            return { partition: p.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, timestamp: -1, offset: -1 };
          }
          if (p.timestamp === LATEST) {
            const offset = req.isolationLevel === READ_COMMITTED ? log.lastStableOffset : log.highWatermark;
            return { partition: p.partition, errorCode: ErrorCode.NONE, timestamp: -1, offset };
          }
          if (p.timestamp === EARLIEST) {
            return { partition: p.partition, errorCode: ErrorCode.NONE, timestamp: -1, offset: log.logStartOffset };
          }
          const found = log.offsetForTimestamp(p.timestamp);
          if (found === undefined) return { partition: p.partition, errorCode: ErrorCode.NONE, timestamp: -1, offset: -1 };
          return { partition: p.partition, errorCode: ErrorCode.NONE, timestamp: found.timestamp, offset: found.offset };
        }),
      })),
    };
  }

  close(): void {
    this.groups.close();
    this.txns.close();
  }
}

/** ApiVersions answer: every implemented API with the range it implements. */
export function apiVersionsResponse(errorCode: number): ApiVersionsResponse {
  return {
    errorCode,
    apiVersions: ALL_APIS.map((a) => ({ apiKey: a.key, minVersion: a.minVersion, maxVersion: a.maxVersion })),
  };
}
