import { ErrorCode } from '../protocol/error-codes.ts';
import type { DescribeGroupsResponse } from '../protocol/describe-groups-v1-2.ts';
import type { JoinGroupRequest, JoinGroupResponse } from '../protocol/join-group-v2-3.ts';
import type { OffsetCommitRequest, OffsetCommitResponse } from '../protocol/offset-commit-v2-5.ts';
import type { OffsetFetchRequest, OffsetFetchResponse } from '../protocol/offset-fetch-v2-4.ts';
import type { SyncGroupRequest, SyncGroupResponse } from '../protocol/sync-group-v1-2.ts';
import type { TxnOffsetCommitRequest } from '../protocol/txn-offset-commit-v0-1.ts';
import { ConsumerGroup, type GroupTiming, type JoinContext } from './consumer-group.ts';

export interface CommittedOffset {
  offset: number;
  metadata: string | null;
}

/** Snapshot of committed offsets for persistence: groupId -> topic -> partition -> offset. */
export type OffsetsSnapshot = Record<string, Record<string, Record<string, CommittedOffset>>>;

export interface GroupCoordinatorOptions extends GroupTiming {
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** Whether topic/partition exists (OffsetCommit refuses unknown partitions, as Kafka does). */
  partitionExists(topic: string, partition: number): boolean;
  /** Committed offsets changed (persistence writes them out). */
  onOffsetsChanged(): void;
}

/** offset.metadata.max.bytes */
const MAX_METADATA_LENGTH = 4096;

interface GroupEntry {
  group: ConsumerGroup;
  /** topic -> partition -> committed offset */
  offsets: Map<string, Map<number, CommittedOffset>>;
  /** producerId -> offsets committed inside its open transaction */
  pendingTxn: Map<number, Map<string, Map<number, CommittedOffset>>>;
}

/**
 * Group coordinator: owns every group (membership via {@link ConsumerGroup}) and its committed offsets, and applies
 * Kafka 2.1's request-level checks (unknown groups, simple commits, transactional offset commits).
 */
export class GroupCoordinator {
  readonly #groups = new Map<string, GroupEntry>();
  readonly #opts: GroupCoordinatorOptions;

  constructor(opts: GroupCoordinatorOptions) {
    this.#opts = opts;
  }

  #create(groupId: string): GroupEntry {
    const entry: GroupEntry = { group: new ConsumerGroup(groupId, this.#opts), offsets: new Map(), pendingTxn: new Map() };
    this.#groups.set(groupId, entry);
    return entry;
  }

  join(req: JoinGroupRequest, ctx: JoinContext, respond: (res: JoinGroupResponse) => void): void {
    const fail = (errorCode: number): void =>
      respond({ errorCode, generationId: -1, protocolName: '', leader: '', memberId: req.memberId, members: [] });
    if (req.groupId === '') return fail(ErrorCode.INVALID_GROUP_ID);
    if (req.sessionTimeoutMs < this.#opts.minSessionTimeoutMs || req.sessionTimeoutMs > this.#opts.maxSessionTimeoutMs) {
      return fail(ErrorCode.INVALID_SESSION_TIMEOUT);
    }
    let entry = this.#groups.get(req.groupId);
    if (entry === undefined) {
      if (req.memberId !== '') return fail(ErrorCode.UNKNOWN_MEMBER_ID);
      entry = this.#create(req.groupId);
    }
    entry.group.join(req, ctx, respond);
  }

  sync(req: SyncGroupRequest, respond: (res: SyncGroupResponse) => void): void {
    if (req.groupId === '') return respond({ errorCode: ErrorCode.INVALID_GROUP_ID, assignment: Buffer.alloc(0) });
    const entry = this.#groups.get(req.groupId);
    if (entry === undefined) return respond({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, assignment: Buffer.alloc(0) });
    entry.group.sync(req, respond);
  }

  heartbeat(groupId: string, memberId: string, generationId: number): number {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const entry = this.#groups.get(groupId);
    if (entry === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    return entry.group.heartbeat(memberId, generationId);
  }

  leave(groupId: string, memberId: string): number {
    if (groupId === '') return ErrorCode.INVALID_GROUP_ID;
    const entry = this.#groups.get(groupId);
    if (entry === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    return entry.group.leave(memberId);
  }

  commitOffsets(req: OffsetCommitRequest): OffsetCommitResponse {
    const all = (errorCode: number): OffsetCommitResponse => ({
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partition: p.partition, errorCode })),
      })),
    });
    if (req.groupId === '') return all(ErrorCode.INVALID_GROUP_ID);
    let entry = this.#groups.get(req.groupId);
    if (entry === undefined) {
      // Kafka: an unknown group with a non-negative generation is a commit from an older generation.
      if (req.generationId >= 0) return all(ErrorCode.ILLEGAL_GENERATION);
      entry = this.#create(req.groupId);
    }
    const check = entry.group.checkCommit(req.memberId, req.generationId);
    if (check !== ErrorCode.NONE) return all(check);
    const target = entry.offsets;
    const res = this.#store(req.topics, (topic, partition, value) => {
      let byPartition = target.get(topic);
      if (byPartition === undefined) target.set(topic, (byPartition = new Map()));
      byPartition.set(partition, value);
    });
    this.#opts.onOffsetsChanged();
    return res;
  }

  /** TxnOffsetCommit: offsets become visible only when the transaction commits. */
  commitTxnOffsets(req: TxnOffsetCommitRequest): OffsetCommitResponse {
    const entry = this.#groups.get(req.groupId) ?? this.#create(req.groupId);
    let pending = entry.pendingTxn.get(req.producerId);
    if (pending === undefined) entry.pendingTxn.set(req.producerId, (pending = new Map()));
    const target = pending;
    return this.#store(req.topics, (topic, partition, value) => {
      let byPartition = target.get(topic);
      if (byPartition === undefined) target.set(topic, (byPartition = new Map()));
      byPartition.set(partition, value);
    });
  }

  /** Called by the transaction coordinator when a transaction that added offsets for `groupId` ends. */
  completeTxnOffsets(groupId: string, producerId: number, commit: boolean): void {
    const entry = this.#groups.get(groupId);
    const pending = entry?.pendingTxn.get(producerId);
    if (entry === undefined || pending === undefined) return;
    entry.pendingTxn.delete(producerId);
    if (!commit) return;
    for (const [topic, parts] of pending) {
      let byPartition = entry.offsets.get(topic);
      if (byPartition === undefined) entry.offsets.set(topic, (byPartition = new Map()));
      for (const [p, v] of parts) byPartition.set(p, v);
    }
    this.#opts.onOffsetsChanged();
  }

  #store(
    topics: OffsetCommitRequest['topics'],
    put: (topic: string, partition: number, value: CommittedOffset) => void,
  ): OffsetCommitResponse {
    return {
      topics: topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          if (!this.#opts.partitionExists(t.name, p.partition)) {
            return { partition: p.partition, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
          }
          if (p.metadata !== null && p.metadata.length > MAX_METADATA_LENGTH) {
            return { partition: p.partition, errorCode: ErrorCode.OFFSET_METADATA_TOO_LARGE };
          }
          put(t.name, p.partition, { offset: p.offset, metadata: p.metadata });
          return { partition: p.partition, errorCode: ErrorCode.NONE };
        }),
      })),
    };
  }

  fetchOffsets(req: OffsetFetchRequest): OffsetFetchResponse {
    if (req.groupId === '') return { errorCode: ErrorCode.INVALID_GROUP_ID, topics: [] };
    const offsets = this.#groups.get(req.groupId)?.offsets;
    if (req.topics === null) {
      return {
        errorCode: ErrorCode.NONE,
        topics: [...(offsets ?? new Map<string, Map<number, CommittedOffset>>())].map(([name, parts]) => ({
          name,
          partitions: [...parts].map(([partition, c]) => ({
            partition,
            offset: c.offset,
            metadata: c.metadata ?? '',
            errorCode: ErrorCode.NONE,
          })),
        })),
      };
    }
    return {
      errorCode: ErrorCode.NONE,
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((partition) => {
          const c = offsets?.get(t.name)?.get(partition);
          return {
            partition,
            offset: c?.offset ?? -1,
            metadata: c === undefined ? '' : (c.metadata ?? ''),
            errorCode: ErrorCode.NONE,
          };
        }),
      })),
    };
  }

  describe(groupIds: string[]): DescribeGroupsResponse {
    return {
      groups: groupIds.map((groupId) => {
        if (groupId === '') {
          return { errorCode: ErrorCode.INVALID_GROUP_ID, groupId, state: '', protocolType: '', protocol: '', members: [] };
        }
        const entry = this.#groups.get(groupId);
        if (entry === undefined) {
          return { errorCode: ErrorCode.NONE, groupId, state: 'Dead', protocolType: '', protocol: '', members: [] };
        }
        return entry.group.describe();
      }),
    };
  }

  list(): { groupId: string; protocolType: string }[] {
    return [...this.#groups.values()].map((e) => ({ groupId: e.group.groupId, protocolType: e.group.protocolType ?? '' }));
  }

  deleteGroups(groupIds: string[]): { groupId: string; errorCode: number }[] {
    const results = groupIds.map((groupId) => {
      if (groupId === '') return { groupId, errorCode: ErrorCode.INVALID_GROUP_ID };
      const entry = this.#groups.get(groupId);
      if (entry === undefined || entry.group.state === 'Dead') return { groupId, errorCode: ErrorCode.GROUP_ID_NOT_FOUND };
      if (entry.group.state !== 'Empty') return { groupId, errorCode: ErrorCode.NON_EMPTY_GROUP };
      entry.group.markDead();
      this.#groups.delete(groupId);
      return { groupId, errorCode: ErrorCode.NONE };
    });
    this.#opts.onOffsetsChanged();
    return results;
  }

  /** A deleted topic takes its committed offsets with it. */
  removeTopic(topic: string): void {
    for (const e of this.#groups.values()) e.offsets.delete(topic);
    this.#opts.onOffsetsChanged();
  }

  snapshotOffsets(): OffsetsSnapshot {
    const out: OffsetsSnapshot = {};
    for (const [groupId, e] of this.#groups) {
      const topics: Record<string, Record<string, CommittedOffset>> = {};
      for (const [topic, parts] of e.offsets) topics[topic] = Object.fromEntries(parts);
      out[groupId] = topics;
    }
    return out;
  }

  /** Restores committed offsets; the groups come back Empty (members must rejoin after a restart, as in Kafka). */
  restoreOffsets(snapshot: OffsetsSnapshot): void {
    for (const [groupId, topics] of Object.entries(snapshot)) {
      const entry = this.#groups.get(groupId) ?? this.#create(groupId);
      for (const [topic, parts] of Object.entries(topics)) {
        entry.offsets.set(topic, new Map(Object.entries(parts).map(([p, c]) => [Number(p), c])));
      }
    }
  }

  close(): void {
    for (const e of this.#groups.values()) e.group.close();
  }
}
