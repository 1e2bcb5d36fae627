/**
 * The job of bench/cluster-failover.ts and bench/cluster-replication.ts: Kafka source (JSON `{ key, t, pad }`, see
 * cluster-bench.ts) → keyBy(key) → running count per key `{ key, n, t }` → a probe sink that counts records and notes,
 * per sink writer (one per attempt), its owner epoch and when it wrote first. p = 1, in-process (workers 0),
 * checkpoints every BENCH_CHECKPOINT_MS (default 1000), incremental unless BENCH_INCREMENTAL=0.
 *
 * Submitted to a cluster this file is bundled and imported by the member as a module of its own, so the probe lives
 * on `globalThis` (members run in the bench's process): the bench and every copy of the job see one probe.
 * Params: `brokers` (comma-separated), `input`.
 */
import { kafkaSource, type KafkaRecord } from '../../connectors/kafka/index.ts';
import { defineJob, type Sink } from '../../runtime/api/index.ts';

export interface ClusterEvent {
  key: string;
  /** When the bench produced it (Date.now()). */
  t: number;
  pad: string;
}

export interface CountOut {
  key: string;
  n: number;
  t: number;
}

/** One sink writer: one per attempt of the job, on whichever member runs it. */
export interface ProbeWriter {
  readonly epoch: number | undefined;
  readonly attempt: number;
  readonly createdAt: number;
  /** performance.now() of its first `write`, 0 before. */
  firstWriteAt: number;
  records: number;
}

export interface ClusterProbe {
  /** Records written by every writer so far. */
  records: number;
  /** `t` of the last record of the latest write: how old the input is that the job is processing now. */
  lastEventT: number;
  writers: ProbeWriter[];
  /** Checkpoints completed (sink `commit` calls: in cluster mode after the checkpoint was replicated). */
  commits: number;
  /** Called (if set) on every write after the counters are updated; keep it cheap. */
  onWrite: ((records: number) => void) | undefined;
}

const PROBE = Symbol.for('sluice.bench.cluster-probe');

/** The probe of this process (created on first use). */
export function clusterProbe(): ClusterProbe {
  const holder = globalThis as unknown as Record<symbol, ClusterProbe | undefined>;
  return (holder[PROBE] ??= { records: 0, lastEventT: 0, writers: [], commits: 0, onWrite: undefined });
}

function probeSink(): Sink<CountOut> {
  return {
    name: 'cluster-probe',
    createWriter: (context) => {
      const probe = clusterProbe();
      const mine: ProbeWriter = { epoch: context.ownerEpoch, attempt: context.attempt, createdAt: performance.now(), firstWriteAt: 0, records: 0 };
      probe.writers.push(mine);
      return {
        start: async () => {},
        write(records) {
          if (mine.firstWriteAt === 0) mine.firstWriteAt = performance.now();
          mine.records += records.length;
          probe.records += records.length;
          const last = records[records.length - 1];
          if (last !== undefined) probe.lastEventT = last.t;
          probe.onWrite?.(records.length);
        },
        preCommit: async () => undefined,
        commit: async () => {
          probe.commits++;
        },
        finish: async () => {},
        close: async () => {},
      };
    },
  };
}

export default defineJob(
  {
    name: 'bench-cluster-count',
    parallelism: 1,
    workers: 0,
    checkpoints: { intervalMs: Number(process.env['BENCH_CHECKPOINT_MS'] ?? 1_000), incremental: process.env['BENCH_INCREMENTAL'] !== '0' },
  },
  (env, params) => {
    env
      .source(kafkaSource<ClusterEvent>({ brokers: params.string('brokers').split(','), topics: [params.string('input')], format: 'json', startFrom: 'earliest' }))
      .uid('in')
      .map((r: KafkaRecord<ClusterEvent>) => ({ key: r.value.key, n: 1, t: r.value.t }))
      .keyBy((c) => c.key)
      .reduce((a, b) => ({ key: a.key, n: a.n + b.n, t: b.t }))
      .uid('count')
      .sink(probeSink())
      .uid('probe');
  },
);
