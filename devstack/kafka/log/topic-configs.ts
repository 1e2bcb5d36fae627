import type { CompactionPolicy } from './log-cleaner.ts';
import type { RollPolicy } from './log-segments.ts';

/** How a topic treats record timestamps (`message.timestamp.type`, `message.timestamp.difference.max.ms`). */
export interface TimestampPolicy {
  /** The broker stamps each batch with its append time (LogAppendTime) instead of keeping the producer's. */
  readonly logAppendTime: boolean;
  /** With CreateTime: how far a record's timestamp may be from the broker's clock. */
  readonly maxDifferenceMs: number;
}

/** A topic's retention (`cleanup.policy` with `delete`): -1 turns a bound off, as in Kafka. */
export interface RetentionPolicy {
  /** `retention.ms`: a segment whose newest record is older than this goes. */
  readonly retentionMs: number;
  /** `retention.bytes`: the oldest segments go while the partition is larger than this by at least their size. */
  readonly retentionBytes: number;
}

/** Topic-level settings a client may set at creation; everything else reports Kafka's defaults. */
export type TopicConfigs = Map<string, string>;

/** Topic configs the broker accepts at creation, with Kafka 2.1's defaults (reported by DescribeConfigs). */
export const TOPIC_CONFIG_DEFAULTS: ReadonlyMap<string, string> = new Map([
  ['cleanup.policy', 'delete'],
  ['compression.type', 'producer'],
  ['delete.retention.ms', '86400000'],
  ['file.delete.delay.ms', '60000'],
  ['flush.messages', '9223372036854775807'],
  ['flush.ms', '9223372036854775807'],
  ['follower.replication.throttled.replicas', ''],
  ['index.interval.bytes', '4096'],
  ['leader.replication.throttled.replicas', ''],
  ['max.message.bytes', '1000012'],
  ['message.downconversion.enable', 'true'],
  ['message.format.version', '2.1-IV2'],
  ['message.timestamp.difference.max.ms', '9223372036854775807'],
  ['message.timestamp.type', 'CreateTime'],
  ['min.cleanable.dirty.ratio', '0.5'],
  ['min.compaction.lag.ms', '0'],
  ['min.insync.replicas', '1'],
  ['preallocate', 'false'],
  ['retention.bytes', '-1'],
  ['retention.ms', '604800000'],
  ['segment.bytes', '1073741824'],
  ['segment.index.bytes', '10485760'],
  ['segment.jitter.ms', '0'],
  ['segment.ms', '604800000'],
  ['unclean.leader.election.enable', 'false'],
]);

/** Numeric configs the broker acts on, with the lowest value Kafka 2.1's ConfigDef accepts (and the highest). */
const NUMERIC: ReadonlyMap<string, { type: 'INT' | 'LONG' | 'DOUBLE'; min: number; max?: number }> = new Map([
  ['segment.bytes', { type: 'INT', min: 14 }],
  ['segment.ms', { type: 'LONG', min: 1 }],
  ['min.cleanable.dirty.ratio', { type: 'DOUBLE', min: 0, max: 1 }],
  ['min.compaction.lag.ms', { type: 'LONG', min: 0 }],
  ['delete.retention.ms', { type: 'LONG', min: 0 }],
  ['retention.ms', { type: 'LONG', min: -1 }],
  ['message.timestamp.difference.max.ms', { type: 'LONG', min: 0 }],
  ['retention.bytes', { type: 'LONG', min: -Infinity }],
]);

/** Kafka's message for the first config a CreateTopics request may not set, or undefined when all are valid. */
export function invalidTopicConfig(configs: ReadonlyMap<string, string>): string | undefined {
  for (const [key, value] of configs) {
    if (!TOPIC_CONFIG_DEFAULTS.has(key)) return `Unknown topic config name: ${key}`;
    if (key === 'cleanup.policy' && value !== 'delete' && value !== 'compact' && value !== 'compact,delete' && value !== 'delete,compact') {
      return `Invalid value ${value} for configuration cleanup.policy`;
    }
    if (key === 'message.timestamp.type' && value !== 'CreateTime' && value !== 'LogAppendTime') {
      return `Invalid value ${value} for configuration message.timestamp.type: String must be one of: CreateTime, LogAppendTime`;
    }
    const numeric = NUMERIC.get(key);
    if (numeric === undefined) continue;
    const n = Number(value);
    const whole = numeric.type !== 'DOUBLE';
    if (value.trim() === '' || !Number.isFinite(n) || (whole && !Number.isInteger(n))) {
      return `Invalid value ${value} for configuration ${key}: Not a number of type ${numeric.type}`;
    }
    if (n < numeric.min) return `Invalid value ${value} for configuration ${key}: Value must be at least ${numeric.min}`;
    if (numeric.max !== undefined && n > numeric.max) return `Invalid value ${value} for configuration ${key}: Value must be no more than ${numeric.max}`;
  }
  return undefined;
}

function numberOf(configs: ReadonlyMap<string, string>, key: string): number {
  return Number(configs.get(key) ?? TOPIC_CONFIG_DEFAULTS.get(key));
}

/** When the topic's partitions roll a new segment. */
export function rollPolicyOf(configs: ReadonlyMap<string, string>): RollPolicy {
  return { segmentBytes: numberOf(configs, 'segment.bytes'), segmentMs: numberOf(configs, 'segment.ms') };
}

/** How the log cleaner treats the topic; undefined unless its `cleanup.policy` includes `compact`. */
export function compactionPolicyOf(configs: ReadonlyMap<string, string>): CompactionPolicy | undefined {
  const policy = configs.get('cleanup.policy') ?? TOPIC_CONFIG_DEFAULTS.get('cleanup.policy')!;
  if (!policy.split(',').includes('compact')) return undefined;
  return {
    minCleanableDirtyRatio: numberOf(configs, 'min.cleanable.dirty.ratio'),
    minCompactionLagMs: numberOf(configs, 'min.compaction.lag.ms'),
    deleteRetentionMs: numberOf(configs, 'delete.retention.ms'),
  };
}

/** The topic's retention; undefined unless its `cleanup.policy` includes `delete` (the default). */
export function retentionPolicyOf(configs: ReadonlyMap<string, string>): RetentionPolicy | undefined {
  const policy = configs.get('cleanup.policy') ?? TOPIC_CONFIG_DEFAULTS.get('cleanup.policy')!;
  if (!policy.split(',').includes('delete')) return undefined;
  return { retentionMs: numberOf(configs, 'retention.ms'), retentionBytes: numberOf(configs, 'retention.bytes') };
}

/** How the topic treats record timestamps. */
export function timestampPolicyOf(configs: ReadonlyMap<string, string>): TimestampPolicy {
  return {
    logAppendTime: (configs.get('message.timestamp.type') ?? 'CreateTime') === 'LogAppendTime',
    maxDifferenceMs: numberOf(configs, 'message.timestamp.difference.max.ms'),
  };
}
