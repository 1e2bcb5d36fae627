import { ErrorCode } from '../protocol/error-codes.ts';
import { PartitionLog, type LogSink } from './partition-log.ts';
import { invalidTopicConfig, type TopicConfigs } from './topic-configs.ts';

export { TOPIC_CONFIG_DEFAULTS, type TopicConfigs } from './topic-configs.ts';

export interface Topic {
  readonly name: string;
  readonly partitions: PartitionLog[];
  readonly configs: TopicConfigs;
}

/** Storage hooks: the persistence layer opens a file per partition and records the topic list. */
export interface TopicStoreHooks {
  openPartition(topic: string, partition: number): LogSink | undefined;
  removeTopic(topic: string): void;
  topicsChanged(): void;
}

export interface TopicError {
  errorCode: number;
  message: string;
}

const LEGAL_NAME = /^[a-zA-Z0-9._-]+$/;
const MAX_NAME_LENGTH = 249;

/** Kafka's `Topic.validate`: 1-249 chars of [a-zA-Z0-9._-], not "." or "..". */
export function validateTopicName(name: string): TopicError | undefined {
  if (name.length === 0) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, message: 'Topic name is illegal, it can\'t be empty' };
  if (name === '.' || name === '..') {
    return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, message: 'Topic name cannot be "." or ".."' };
  }
  if (name.length > MAX_NAME_LENGTH) {
    return {
      errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION,
      message: `Topic name is illegal, it can't be longer than ${MAX_NAME_LENGTH} characters, topic name: ${name}`,
    };
  }
  if (!LEGAL_NAME.test(name)) {
    return {
      errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION,
      message: `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`,
    };
  }
  return undefined;
}


/** All topics of the broker. Single node: every partition is led here. */
export class TopicStore {
  readonly #topics = new Map<string, Topic>();
  readonly #hooks: TopicStoreHooks | undefined;

  constructor(hooks?: TopicStoreHooks) {
    this.#hooks = hooks;
  }

  get(name: string): Topic | undefined {
    return this.#topics.get(name);
  }

  partition(topic: string, partition: number): PartitionLog | undefined {
    return this.#topics.get(topic)?.partitions[partition];
  }

  names(): string[] {
    return [...this.#topics.keys()];
  }

  all(): IterableIterator<Topic> {
    return this.#topics.values();
  }

  /** Checks a creation request without creating anything. */
  validateCreate(name: string, numPartitions: number, configs: TopicConfigs): TopicError | undefined {
    const invalid = validateTopicName(name);
    if (invalid) return invalid;
    if (this.#topics.has(name)) {
      return { errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, message: `Topic '${name}' already exists.` };
    }
    if (numPartitions <= 0) {
      return { errorCode: ErrorCode.INVALID_PARTITIONS, message: 'Number of partitions must be larger than 0.' };
    }
    const message = invalidTopicConfig(configs);
    return message === undefined ? undefined : { errorCode: ErrorCode.INVALID_CONFIG, message };
  }

  create(name: string, numPartitions: number, configs: TopicConfigs = new Map()): Topic {
    const topic: Topic = { name, partitions: [], configs };
    for (let p = 0; p < numPartitions; p++) topic.partitions.push(this.#openPartition(name, p, configs));
    this.#topics.set(name, topic);
    this.#hooks?.topicsChanged();
    return topic;
  }

  /** Used by recovery: registers a topic whose partitions were loaded from disk. */
  restore(topic: Topic): void {
    this.#topics.set(topic.name, topic);
  }

  addPartitions(name: string, total: number): void {
    const topic = this.#topics.get(name);
    if (topic === undefined) return;
    for (let p = topic.partitions.length; p < total; p++) topic.partitions.push(this.#openPartition(name, p, topic.configs));
    this.#hooks?.topicsChanged();
  }

  /** Replaces a topic's dynamic configs (AlterConfigs, already validated); its partitions follow them from now on. */
  alterConfigs(name: string, configs: ReadonlyMap<string, string>): void {
    const topic = this.#topics.get(name);
    if (topic === undefined) return;
    topic.configs.clear();
    for (const [key, value] of configs) topic.configs.set(key, value);
    for (const p of topic.partitions) p.reconfigure(topic.configs);
    this.#hooks?.topicsChanged();
  }

  delete(name: string): boolean {
    const topic = this.#topics.get(name);
    if (topic === undefined) return false;
    this.#topics.delete(name);
    for (const p of topic.partitions) p.close();
    this.#hooks?.removeTopic(name);
    this.#hooks?.topicsChanged();
    return true;
  }

  close(): void {
    for (const t of this.#topics.values()) for (const p of t.partitions) p.close();
  }

  #openPartition(topic: string, partition: number, configs: TopicConfigs): PartitionLog {
    return new PartitionLog(topic, partition, this.#hooks?.openPartition(topic, partition), configs);
  }
}
