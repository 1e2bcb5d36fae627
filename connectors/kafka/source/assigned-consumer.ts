import { AssignerProtocol, type Batch, type Consumer, type Kafka, type PartitionAssigner } from 'kafkajs';

/** Partitions per topic. */
export type TopicAssignment = ReadonlyMap<string, readonly number[]>;

export interface AssignedConsumerOptions {
  readonly kafka: Kafka;
  /** A group id used by nothing else: see the class comment. */
  readonly groupId: string;
  readonly assignment: TopicAssignment;
  /** Where each assigned partition must continue; asked again after every (re)join of the group. */
  readonly nextOffset: (topic: string, partition: number) => number;
  /** Handles one fetched batch; resolving lets kafkajs fetch the partition's next batch. */
  readonly onBatch: (batch: Batch, heartbeat: () => Promise<void>) => Promise<void>;
  /** kafkajs gave up (its retries ran out); the consumer does not restart itself. */
  readonly onCrash: (error: Error) => void;
  readonly sessionTimeoutMs: number;
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly maxBytesPerPartition: number;
  readonly readUncommitted: boolean;
  readonly retry: { readonly retries: number; readonly initialRetryTime: number; readonly maxRetryTime: number };
}

const ASSIGNER_NAME = 'SluiceFixedAssignment';

/**
 * A kafkajs consumer that reads exactly the given partitions from exactly the given offsets — the `assign()` + `seek()`
 * kafkajs lacks, built from its public API:
 *
 * - It joins a consumer group that no other process uses (the reader makes a fresh id per subtask and consumer
 *   start), so it is the group's only member and leader, and its partition assigner hands it the fixed assignment.
 *   A fresh group never waits for members of an earlier, killed process: their groups are simply abandoned (and, holding
 *   no committed offsets, deleted by Kafka once their sessions expire).
 * - `autoCommit` is off, so nothing is committed to that group; positions live in the job's checkpoints.
 * - On every join (the first one, and any rejoin kafkajs does on its own after a rebalance error or a metadata
 *   change) it seeks every assigned partition to `nextOffset()`. kafkajs applies seeks before the next fetch
 *   (consumerGroup.fetch → seekOffsets; with autoCommit off, OffsetManager.seek only sets the resolved offset), so no
 *   fetch ever starts from the group's (empty) committed offsets.
 */
export class AssignedConsumer {
  readonly #options: AssignedConsumerOptions;
  #consumer: Consumer | undefined;

  constructor(options: AssignedConsumerOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    const o = this.#options;
    const consumer = o.kafka.consumer({
      groupId: o.groupId,
      partitionAssigners: [fixedAssigner(o.assignment)],
      sessionTimeout: o.sessionTimeoutMs,
      heartbeatInterval: Math.floor(o.sessionTimeoutMs / 10),
      maxWaitTimeInMs: o.maxWaitMs,
      minBytes: o.minBytes,
      maxBytes: o.maxBytes,
      maxBytesPerPartition: o.maxBytesPerPartition,
      readUncommitted: o.readUncommitted,
      allowAutoTopicCreation: false,
      // The job's restart strategy decides about restarts, not kafkajs.
      retry: { ...o.retry, restartOnFailure: async () => false },
    });
    this.#consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      // Runs synchronously inside kafkajs's joinAndSync, before the first fetch of the new generation.
      for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
        for (const partition of partitions) consumer.seek({ topic, partition, offset: String(o.nextOffset(topic, partition)) });
      }
    });
    consumer.on(consumer.events.CRASH, (event) => o.onCrash(event.payload.error));
    await consumer.connect();
    await consumer.subscribe({ topics: [...o.assignment.keys()], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: ({ batch, heartbeat }) => o.onBatch(batch, heartbeat),
    });
  }

  /** Stops fetching, leaves the group and closes the connections (waits for the fetch in flight: ≤ maxWaitMs). */
  async stop(): Promise<void> {
    const consumer = this.#consumer;
    this.#consumer = undefined;
    await consumer?.disconnect();
  }
}

/** kafkajs partition assigner that gives the whole fixed assignment to the group's first (only) member. */
function fixedAssigner(assignment: TopicAssignment): PartitionAssigner {
  const topics = Object.fromEntries([...assignment].map(([topic, partitions]) => [topic, [...partitions]]));
  return () => ({
    name: ASSIGNER_NAME,
    version: 1,
    protocol: ({ topics: subscribed }) => ({
      name: ASSIGNER_NAME,
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics: subscribed, userData: Buffer.alloc(0) }),
    }),
    assign: async ({ members }) =>
      members.map((member, i) => ({
        memberId: member.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment: i === 0 ? topics : {}, userData: Buffer.alloc(0) }),
      })),
  });
}
