/**
 * `sluice/testing`: what a job's tests need besides the job itself. Run a job in-process to its end with
 * {@link runJob}; give it real Kafka and Elasticsearch endpoints without external services with the devstack
 * (docs/devstack.md). For in-memory sources and sinks, see `sluice/dev` (`collection`, `collectSink`).
 *
 * @example
 * ```ts
 * import { startKafkaBroker } from 'sluice/testing';
 *
 * const broker = await startKafkaBroker({ numPartitions: 3 });
 * // ... run a job with kafkaSource({ brokers: broker.brokers, ... }) ...
 * await broker.close();
 * ```
 */
export { runJob } from './run-job.ts';
export type { RunJobOptions } from './run-job.ts';
export { startKafkaBroker } from '../../devstack/kafka/index.ts';
export type { KafkaBroker, KafkaBrokerOptions, KafkaBrokerFaults } from '../../devstack/kafka/index.ts';
export { startElasticsearch } from '../../devstack/elasticsearch/index.ts';
export type { ElasticsearchServer, ElasticsearchServerOptions, ElasticsearchFaults } from '../../devstack/elasticsearch/index.ts';
export { startJob, JobRun } from './job-run.ts';
export type { StartJobOptions, WaitOptions } from './job-run.ts';
export { FAULT_POINTS, planFaults } from './fault-injector.ts';
export type { FaultOptions, FaultPoint, FaultReport, FiredFault, PlannedFault } from './fault-injector.ts';
export { verifyJob, DEVSTACK_PARAMS } from './verify-job.ts';
export type { RunResult, TopicInput, VerifyOptions, VerifyResult } from './verify-job.ts';
export { diffOutputs, canonicalJson } from './output-diff.ts';
export type { Difference, DifferenceKind, OutputDiff, OutputRecord, Outputs } from './output-diff.ts';
export { readCommittedTopic, seedTopic, listTopics, topicEnds } from './kafka-topics.ts';
export type { TopicRecord } from './kafka-topics.ts';
export { readIndexDocuments, listIndices } from './elasticsearch-documents.ts';
export type { IndexDocument } from './elasticsearch-documents.ts';
export { readPartFiles } from '../../connectors/dev/index.ts';
export { ManualClock } from '../time/index.ts';
export type { KeyedStateEntry, ReadKeyedStateOptions } from '../inspect/keyed-state-reader.ts';
export type { OperatorStateEntry } from '../inspect/operator-state-reader.ts';
