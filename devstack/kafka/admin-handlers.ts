import type { TopicStore } from './log/topic-store.ts';
import { TOPIC_CONFIG_DEFAULTS, validateTopicName } from './log/topic-store.ts';
import { invalidTopicConfig } from './log/topic-configs.ts';
import type { AlterConfigsRequest, AlterConfigsResponse } from './protocol/alter-configs-v0-1.ts';
import type { CreatePartitionsRequest, CreatePartitionsResponse } from './protocol/create-partitions-v0-1.ts';
import type { CreateTopicsRequest, CreateTopicsResponse, TopicResult } from './protocol/create-topics-v2-3.ts';
import type { DeleteTopicsRequest, DeleteTopicsResponse } from './protocol/delete-topics-v0-1.ts';
import type { DescribeConfigsRequest, DescribeConfigsResponse, DescribedConfig } from './protocol/describe-configs-v1-2.ts';
import { ErrorCode } from './protocol/error-codes.ts';
import type { MetadataRequest, MetadataResponse, MetadataTopic } from './protocol/metadata-v1-6.ts';

/** What the admin handlers need to know about the node. */
export interface NodeInfo {
  nodeId: number;
  host: string;
  port(): number;
  clusterId: string;
  numPartitions: number;
  autoCreateTopics: boolean;
}

const RESOURCE_TOPIC = 2;
const RESOURCE_BROKER = 4;
const SOURCE_TOPIC_CONFIG = 1;
const SOURCE_STATIC_BROKER = 4;
const SOURCE_DEFAULT = 5;

/** Broker configs reported by DescribeConfigs(BROKER): enough for tools that look at a few well-known keys. */
const BROKER_CONFIGS: ReadonlyMap<string, string> = new Map([
  ['auto.create.topics.enable', 'true'],
  ['default.replication.factor', '1'],
  ['delete.topic.enable', 'true'],
  ['group.initial.rebalance.delay.ms', '0'],
  ['group.max.session.timeout.ms', '300000'],
  ['group.min.session.timeout.ms', '6000'],
  ['log.retention.hours', '168'],
  ['message.max.bytes', '1000012'],
  ['min.insync.replicas', '1'],
  ['num.partitions', '1'],
  ['offsets.topic.replication.factor', '1'],
  ['transaction.max.timeout.ms', '900000'],
  ['transaction.state.log.min.isr', '1'],
  ['transaction.state.log.replication.factor', '1'],
]);

/**
 * Metadata and topic administration with Kafka 2.1's validation order and error codes. Creation and deletion are
 * immediate (there is no controller round trip), so kafkajs' `waitForLeaders` is satisfied on its first look.
 */
export class AdminHandlers {
  readonly #topics: TopicStore;
  readonly #node: NodeInfo;
  readonly #onTopicDeleted: (topic: string) => void;

  constructor(topics: TopicStore, node: NodeInfo, onTopicDeleted: (topic: string) => void) {
    this.#topics = topics;
    this.#node = node;
    this.#onTopicDeleted = onTopicDeleted;
  }

  metadata(req: MetadataRequest): MetadataResponse {
    const node = this.#node;
    const names = req.topics ?? this.#topics.names();
    const topics = names.map((name): MetadataTopic => {
      const topic = this.#topics.get(name);
      if (topic !== undefined) {
        return {
          errorCode: ErrorCode.NONE,
          name,
          isInternal: false,
          partitions: topic.partitions.map((_, partition) => ({
            errorCode: ErrorCode.NONE,
            partition,
            leader: node.nodeId,
            replicas: [node.nodeId],
            isr: [node.nodeId],
          })),
        };
      }
      const invalid = validateTopicName(name);
      if (invalid !== undefined) return { errorCode: invalid.errorCode, name, isInternal: false, partitions: [] };
      if (req.topics !== null && req.allowAutoTopicCreation && node.autoCreateTopics) {
        // As in Kafka 2.1, the request that triggers auto-creation sees LEADER_NOT_AVAILABLE; the retry sees leaders.
        this.#topics.create(name, node.numPartitions);
        return { errorCode: ErrorCode.LEADER_NOT_AVAILABLE, name, isInternal: false, partitions: [] };
      }
      return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name, isInternal: false, partitions: [] };
    });
    return {
      brokers: [{ nodeId: node.nodeId, host: node.host, port: node.port() }],
      clusterId: node.clusterId,
      controllerId: node.nodeId,
      topics,
    };
  }

  createTopics(req: CreateTopicsRequest): CreateTopicsResponse {
    const seen = new Map<string, number>();
    for (const t of req.topics) seen.set(t.name, (seen.get(t.name) ?? 0) + 1);
    const results: TopicResult[] = req.topics.map((t) => {
      const fail = (errorCode: number, errorMessage: string): TopicResult => ({ name: t.name, errorCode, errorMessage });
      if ((seen.get(t.name) ?? 0) > 1) {
        return fail(ErrorCode.INVALID_REQUEST, 'Create topics request from client contains a duplicate topic.');
      }
      const configs = new Map<string, string>();
      for (const c of t.configs) if (c.value !== null) configs.set(c.name, c.value);
      let numPartitions = t.numPartitions;
      if (t.assignments.length > 0) {
        if (t.numPartitions !== -1 || t.replicationFactor !== -1) {
          return fail(
            ErrorCode.INVALID_REQUEST,
            'Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.',
          );
        }
        const bad = t.assignments.some((a) => a.brokerIds.length === 0 || a.brokerIds.some((b) => b !== this.#node.nodeId));
        if (bad) return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Replica assignment may only name broker ${this.#node.nodeId}.`);
        numPartitions = t.assignments.length;
      } else {
        // Before Kafka 2.4 (KIP-464) the broker has no defaults here: -1 is rejected like any other value <= 0.
        if (t.numPartitions <= 0) return fail(ErrorCode.INVALID_PARTITIONS, 'Number of partitions must be larger than 0.');
        if (t.replicationFactor <= 0) {
          return fail(ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0.');
        }
        if (t.replicationFactor > 1) {
          return fail(
            ErrorCode.INVALID_REPLICATION_FACTOR,
            `Replication factor: ${t.replicationFactor} larger than available brokers: 1.`,
          );
        }
      }
      const invalid = this.#topics.validateCreate(t.name, numPartitions, configs);
      if (invalid !== undefined) return fail(invalid.errorCode, invalid.message);
      if (req.validateOnly) return { name: t.name, errorCode: ErrorCode.NONE, errorMessage: null };
      this.#topics.create(t.name, numPartitions, configs);
      // Kafka creates the topic but reports a timeout when the client gave it no time to wait for metadata.
      if (req.timeoutMs <= 0) return { name: t.name, errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: null };
      return { name: t.name, errorCode: ErrorCode.NONE, errorMessage: null };
    });
    return { topics: results };
  }

  deleteTopics(req: DeleteTopicsRequest): DeleteTopicsResponse {
    return {
      topics: req.names.map((name) => {
        if (!this.#topics.delete(name)) return { name, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION };
        this.#onTopicDeleted(name);
        return { name, errorCode: req.timeoutMs <= 0 ? ErrorCode.REQUEST_TIMED_OUT : ErrorCode.NONE };
      }),
    };
  }

  createPartitions(req: CreatePartitionsRequest): CreatePartitionsResponse {
    return {
      results: req.topics.map((t) => {
        const fail = (errorCode: number, errorMessage: string): TopicResult => ({ name: t.name, errorCode, errorMessage });
        const topic = this.#topics.get(t.name);
        if (topic === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${t.name}' does not exist.`);
        const current = topic.partitions.length;
        if (t.count < current) {
          return fail(
            ErrorCode.INVALID_PARTITIONS,
            `Topic currently has ${current} partitions, which is higher than the requested ${t.count}.`,
          );
        }
        if (t.count === current) return fail(ErrorCode.INVALID_PARTITIONS, `Topic already has ${current} partitions.`);
        if (t.assignments !== null) {
          if (t.assignments.length !== t.count - current) {
            return fail(
              ErrorCode.INVALID_REPLICA_ASSIGNMENT,
              `Increasing the number of partitions by ${t.count - current} but ${t.assignments.length} assignments provided.`,
            );
          }
          const unknown = t.assignments.flat().filter((b) => b !== this.#node.nodeId);
          if (unknown.length > 0) {
            return fail(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Unknown broker(s) in replica assignment: ${unknown.join(', ')}.`);
          }
        }
        if (!req.validateOnly) this.#topics.addPartitions(t.name, t.count);
        if (!req.validateOnly && req.timeoutMs <= 0) return { name: t.name, errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: null };
        return { name: t.name, errorCode: ErrorCode.NONE, errorMessage: null };
      }),
    };
  }

  /**
   * AlterConfigs (not incremental): a topic's dynamic configs become exactly the entries given, checked as at
   * creation, and its partitions follow them from now on (segment rolling, compaction, retention, timestamps).
   * `validate_only` checks without applying. Dynamic broker configs are not supported (INVALID_REQUEST).
   */
  alterConfigs(req: AlterConfigsRequest): AlterConfigsResponse {
    return {
      resources: req.resources.map((r) => {
        const answer = (errorCode: number, errorMessage: string | null) => ({ errorCode, errorMessage, resourceType: r.resourceType, resourceName: r.resourceName });
        if (r.resourceType !== RESOURCE_TOPIC) return answer(ErrorCode.INVALID_REQUEST, 'the devstack broker has no dynamic broker configs');
        if (this.#topics.get(r.resourceName) === undefined) return answer(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Topic ${r.resourceName} does not exist`);
        const nulls = r.entries.filter((e) => e.value === null).map((e) => e.name);
        if (nulls.length > 0) return answer(ErrorCode.INVALID_REQUEST, `Null value not supported for : ${nulls.join(', ')}`);
        const configs = new Map(r.entries.map((e) => [e.name, e.value as string]));
        const invalid = invalidTopicConfig(configs);
        if (invalid !== undefined) return answer(ErrorCode.INVALID_CONFIG, invalid);
        if (!req.validateOnly) this.#topics.alterConfigs(r.resourceName, configs);
        return answer(ErrorCode.NONE, null);
      }),
    };
  }

  describeConfigs(req: DescribeConfigsRequest): DescribeConfigsResponse {
    return {
      results: req.resources.map((r) => {
        const base = { resourceType: r.resourceType, resourceName: r.resourceName };
        const pick = (all: DescribedConfig[]): DescribedConfig[] =>
          r.configNames === null || r.configNames.length === 0 ? all : all.filter((c) => r.configNames?.includes(c.name));
        if (r.resourceType === RESOURCE_TOPIC) {
          const topic = this.#topics.get(r.resourceName);
          if (topic === undefined) {
            return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `Topic ${r.resourceName} does not exist`, configs: [] };
          }
          const configs = [...TOPIC_CONFIG_DEFAULTS].map(([name, def]): DescribedConfig => {
            const override = topic.configs.get(name);
            const source = override === undefined ? SOURCE_DEFAULT : SOURCE_TOPIC_CONFIG;
            const value = override ?? def;
            return {
              name,
              value,
              readOnly: false,
              source,
              isSensitive: false,
              synonyms: req.includeSynonyms ? [{ name, value, source }] : [],
            };
          });
          return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs: pick(configs) };
        }
        if (r.resourceType === RESOURCE_BROKER) {
          if (r.resourceName !== '' && r.resourceName !== String(this.#node.nodeId)) {
            return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unexpected broker id, expected ${this.#node.nodeId}`, configs: [] };
          }
          const configs = [...BROKER_CONFIGS].map(([name, value]): DescribedConfig => ({
            name,
            value,
            readOnly: true,
            source: SOURCE_STATIC_BROKER,
            isSensitive: false,
            synonyms: req.includeSynonyms ? [{ name, value, source: SOURCE_STATIC_BROKER }] : [],
          }));
          return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, configs: pick(configs) };
        }
        return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `Unsupported resource type ${r.resourceType}`, configs: [] };
      }),
    };
  }
}
