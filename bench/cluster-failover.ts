/**
 * Failover time of a cluster job holding KEYS (default 1,000,000) keys of keyed state: three in-process cluster
 * members (session timeout SESSION_MS, default 10 s) on the devstack broker (a child process), the job of
 * support/cluster-count-job.ts (Kafka source → keyed count → probe sink, p = 1, incremental checkpoints every 1 s).
 *
 * 1. The input topic is filled with KEYS records, one per key; the job is submitted and reads them all, so its state
 *    holds every key.
 * 2. A steady producer adds RATE records/s (default 20,000) over the same keys until the end; the bench waits for a
 *    replicated checkpoint taken after the fill, then WARM_S more seconds (default 10) of steady input.
 * 3. The member that owns the job crashes (test hook: as kill -9, no LeaveGroup, no savepoint).
 *
 * Failover time = from the crash to the first record written by the job's sink on the new owner (a sink writer
 * whose owner epoch is above the dead owner's): records are flowing again. Its parts come from the members' log
 * lines and two wrapped calls (ReplicatedJobView.read, CheckpointStore.adopt):
 *   detection   crash → a survivor's heartbeat hears that the group rebalances (the session timeout, less the time
 *               since the dead member's last heartbeat, plus up to one heartbeat interval of the survivors)
 *   rebalance   → the new owner joined the new generation
 *   assignment  → the new owner starts reading the job's replicated checkpoints (jobs topic read, …)
 *   read        ReplicatedJobView.read: the job's partition of the checkpoints topic, scanned from its start
 *   adopt       local checkpoints deleted, the replicated one written into the member's local store
 *   claim       → "cluster: starting job" (publisher connected, claim written)
 *   load        → "job starting from checkpoint": job bundle imported, checkpoint loaded from the local store
 *   restore     → first record at the sink: state rebuilt, source connected and fetching
 * Reported as well: caught up = from the crash until the sink processes records produced after the new owner
 * started writing (the backlog of the outage drained).
 *
 *   npx tsx bench/cluster-failover.ts                 (KEYS=50000 for a quick run; LOG_FILE=/tmp/x.log keeps logs)
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { CheckpointStore } from '../runtime/checkpoint/index.ts';
import type { CheckpointManifest } from '../runtime/checkpoint/index.ts';
import { ReplicatedJobView } from '../runtime/cluster/checkpoints/replicated-view.ts';
import { partitionOf } from '../runtime/cluster/checkpoints/replicated-records.ts';
import { clusterMemberTestHooks, startClusterMember, type RunningClusterMember } from '../runtime/cluster/cluster-member.ts';
import { clusterTopics } from '../runtime/cluster/kafka/cluster-topics.ts';
import { scanPartition } from '../runtime/cluster/kafka/partition-scan.ts';
import { emitFigure } from './support/figure.ts';
import { spawnBrokerProcess } from './support/spawn-broker.ts';
import { clusterProbe } from './support/cluster-count-job.ts';
import { callApi, clusterView, fillClusterTopic, LogTap, mib, secs, sleep, SteadyProducer, waitUntil, type ClusterView } from './support/cluster-bench.ts';

const KEYS = Number(process.env['KEYS'] ?? 1_000_000);
const RATE = Number(process.env['RATE'] ?? 20_000);
const SESSION_MS = Number(process.env['SESSION_MS'] ?? 10_000);
const WARM_S = Number(process.env['WARM_S'] ?? 10);
const MEMBERS = 3;
const PARTITIONS = 4;
const JOB = 'bench-cluster-count';
const JOB_FILE = fileURLToPath(new URL('./support/cluster-count-job.ts', import.meta.url));
const BAR_MS = 20_000;

const log = (text: string): void => void process.stderr.write(`[cluster-failover] ${text}\n`);

interface ReadCall {
  readonly job: string;
  readonly startedAt: number;
  endedAt: number;
  /** Bytes a restore of the newest candidate reads (manifest.totalBytes). */
  checkpointBytes: number;
  checkpointId: number | undefined;
  /** The checkpoints partition's high watermark when the read began (asked concurrently). */
  high: Promise<number | undefined>;
}

interface AdoptCall {
  readonly job: string;
  readonly startedAt: number;
  endedAt: number;
  readonly bytes: number;
}

async function main(): Promise<void> {
  const broker = await spawnBrokerProcess({ partitions: PARTITIONS });
  const kafka = new Kafka({ clientId: 'sluice-bench-cluster', brokers: broker.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const root = await mkdtemp(join(tmpdir(), 'sluice-bench-cluster-failover-'));
  const cluster = `bench-${randomUUID().slice(0, 8)}`;
  const topics = clusterTopics(cluster);
  const input = `bench-cluster-in-${randomUUID().slice(0, 8)}`;
  const logCopy = process.env['LOG_FILE'] === undefined ? undefined : createWriteStream(process.env['LOG_FILE']);
  const tap = new LogTap(logCopy);
  const members: RunningClusterMember[] = [];
  const closed = new Set<RunningClusterMember>();
  let steady: SteadyProducer | undefined;

  // Instrumentation: the two calls of a member taking the job over that no log line brackets.
  const reads: ReadCall[] = [];
  const adopts: AdoptCall[] = [];
  const originalRead = ReplicatedJobView.read.bind(ReplicatedJobView);
  (ReplicatedJobView as unknown as { read: typeof ReplicatedJobView.read }).read = async (options) => {
    const call: ReadCall = {
      job: options.job,
      startedAt: performance.now(),
      endedAt: 0,
      checkpointBytes: 0,
      checkpointId: undefined,
      high: admin.fetchTopicOffsets(options.topic).then((ps) => Number(ps.find((p) => p.partition === partitionOf(options.job, options.partitions))?.high), () => undefined),
    };
    reads.push(call);
    const view = await originalRead(options);
    call.endedAt = performance.now();
    const newest = view.candidates[0]?.manifest;
    call.checkpointBytes = newest?.totalBytes ?? 0;
    call.checkpointId = newest?.id;
    return view;
  };
  const originalAdopt = CheckpointStore.prototype.adopt;
  CheckpointStore.prototype.adopt = async function (this: CheckpointStore, manifest: CheckpointManifest, blobs: ReadonlyMap<string, Uint8Array>): Promise<void> {
    const call: AdoptCall = { job: manifest.job, startedAt: performance.now(), endedAt: 0, bytes: manifest.totalBytes };
    adopts.push(call);
    await originalAdopt.call(this, manifest, blobs);
    call.endedAt = performance.now();
  };

  try {
    await admin.createTopics({ topics: [{ topic: input, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
    let began = performance.now();
    await fillClusterTopic(kafka, input, KEYS);
    log(`${KEYS} records (one per key) in ${input} in ${secs(performance.now() - began)}`);

    for (let i = 0; i < MEMBERS; i++) {
      const name = `m${i}`;
      members.push(await startClusterMember({ cluster, brokers: broker.brokers, dataDir: join(root, name), name, port: 0, workers: 0, sessionTimeoutMs: SESSION_MS, logger: tap.logger(name) }));
    }
    log(`${MEMBERS} members of cluster ${cluster} up (session timeout ${SESSION_MS / 1000} s)`);

    const probe = clusterProbe();
    began = performance.now();
    await callApi(members[0]!.url, 'POST', '/v1/jobs', { file: JOB_FILE, params: { brokers: broker.brokers.join(','), input } });
    await waitUntil(() => probe.records >= KEYS, `the job to count the ${KEYS} records of the fill`, 300_000, 50);
    const filledWall = Date.now();
    log(`the job read the fill (${KEYS} keys of state) in ${secs(performance.now() - began)} from submit`);

    steady = await SteadyProducer.start(kafka, input, RATE, KEYS);
    const afterFill = await waitUntil(
      async () => {
        const job = (await clusterView(members[0]!.url)).jobs.find((j) => j.name === JOB);
        return job?.lastCheckpoint !== null && job?.lastCheckpoint !== undefined && job.lastCheckpoint.at > filledWall ? job.lastCheckpoint : undefined;
      },
      'a replicated checkpoint taken after the fill',
      120_000,
      200,
    );
    log(`replicated checkpoint ${afterFill.id} (after the fill) holds ${mib(afterFill.bytes)}; ${WARM_S} s more of steady input (${RATE} records/s)`);
    await sleep(WARM_S * 1000);

    const before: ClusterView = await clusterView(members[0]!.url);
    const ownerName = before.members.find((m) => m.jobs.includes(JOB))?.name;
    const victim = members.find((m) => m.name === ownerName);
    if (victim === undefined) throw new Error(`no member owns ${JOB}: ${JSON.stringify(before.members)}`);
    const lastBefore = before.jobs.find((j) => j.name === JOB)?.lastCheckpoint;
    const oldEpoch = Math.max(...probe.writers.map((w) => w.epoch ?? -1));
    const recordsBefore = probe.records;
    log(`owner ${victim.name} (epoch ${oldEpoch}, leader ${before.leader}); last replicated checkpoint ${lastBefore?.id} (${mib(lastBefore?.bytes ?? 0)}); ${recordsBefore} records so far; crashing it`);

    const crashAt = performance.now();
    await clusterMemberTestHooks(victim).crash();
    closed.add(victim);
    const crashDoneAt = performance.now();
    const survivors = members.filter((m) => m !== victim);

    const newWriter = await waitUntil(() => probe.writers.find((w) => (w.epoch ?? -1) > oldEpoch && w.firstWriteAt > 0), 'records on the new owner', 180_000, 5);
    const flowingAt = newWriter.firstWriteAt;
    const flowingWall = performance.timeOrigin + flowingAt;
    const caughtUpAt = await waitUntil(() => (probe.lastEventT >= flowingWall ? performance.now() : undefined), 'the backlog of the outage to drain', 180_000, 5);
    const after = await clusterView(survivors[0]!.url);
    const newOwner = after.members.find((m) => m.jobs.includes(JOB))?.name ?? '?';
    await steady.stop();
    steady = undefined;

    // Parts, from log lines and the wrapped calls.
    const rebalancing = tap.lines.filter((l) => l.at >= crashAt && l.member !== victim.name && l.msg.includes('is rebalancing'));
    const detectedAt = rebalancing[0]?.at;
    const joined = tap.first('joined group', detectedAt ?? crashAt, newOwner);
    const read = reads.find((r) => r.job === JOB && r.startedAt >= crashAt);
    const adopt = adopts.find((a) => a.job === JOB && a.startedAt >= crashAt);
    const starting = tap.first('cluster: starting job', crashAt, newOwner);
    const loaded = tap.first('job starting', crashAt, newOwner);
    const high = read === undefined ? undefined : await read.high;
    let scanned = 0;
    let scannedRecords = 0;
    if (high !== undefined) {
      const scanStart = performance.now();
      await scanPartition(kafka, topics.checkpoints, partitionOf(JOB, 1), (r) => {
        if (r.offset >= high) return;
        scanned += r.key.length + (r.value?.length ?? 0);
        scannedRecords++;
      });
      log(`(the bench's own scan of the checkpoints partition took ${secs(performance.now() - scanStart)})`);
    }
    const d = (from: number | undefined, to: number | undefined): number | undefined => (from === undefined || to === undefined ? undefined : to - from);
    const part = (label: string, ms: number | undefined, extra = ''): string => `${label} ${ms === undefined ? '?' : secs(ms)}${extra}`;
    const failoverMs = flowingAt - crashAt;
    const parts = [
      part('detection', d(crashAt, detectedAt), ` (session timeout ${SESSION_MS / 1000} s)`),
      part('rebalance', d(detectedAt, joined?.at)),
      part('assignment', d(joined?.at, read?.startedAt)),
      part('read replicated checkpoint', d(read?.startedAt, read?.endedAt), read === undefined ? '' : ` (checkpoint ${read.checkpointId}: ${mib(read.checkpointBytes)}; scanned ${mib(scanned)} in ${scannedRecords} records from offset 0)`),
      part('adopt', d(adopt?.startedAt, adopt?.endedAt)),
      part('claim', d(adopt?.endedAt ?? read?.endedAt, starting?.at)),
      part('load', d(starting?.at, loaded?.at)),
      part('restore', d(loaded?.at, flowingAt)),
    ];
    process.stdout.write(
      `failover: ${secs(failoverMs)} (crash of ${victim.name} → first record on ${newOwner}; ${parts.join('; ')})\n` +
        `caught up: ${secs(caughtUpAt - crashAt)} after the crash (backlog of the outage drained at ${RATE} records/s input)\n` +
        `crash() itself took ${secs(crashDoneAt - crashAt)}; ${KEYS} keys of state; records before the crash ${recordsBefore}\n`,
    );
    const keysLabel = KEYS === 1_000_000 ? '1M' : String(KEYS);
    emitFigure({
      name: `cluster/failover-${keysLabel}-keys`,
      value: failoverMs,
      unit: 'ms',
      baseline: BAR_MS,
      note: `crash of the owner (test hook) → first record at the sink on the new owner; 3 in-process members, session timeout ${SESSION_MS / 1000} s, ${RATE} records/s input; ${parts.join('; ')}; bar < 20 s (ratio < 1)`,
    });
    emitFigure({
      name: `cluster/failover-to-caught-up-${keysLabel}-keys`,
      value: caughtUpAt - crashAt,
      unit: 'ms',
      baseline: BAR_MS,
      note: 'crash → the sink processes records produced after the new owner started (the outage\'s backlog drained); reported',
    });
  } finally {
    await steady?.stop().catch(() => undefined);
    // Survivors hand the job over with savepoints as they leave; the last one just stops it.
    const closing = performance.now();
    await Promise.all(members.filter((m) => !closed.has(m)).map((m) => m.close().catch((err: unknown) => log(`closing ${m.name}: ${(err as Error).message}`))));
    log(`members closed in ${secs(performance.now() - closing)}`);
    await admin.disconnect().catch(() => undefined);
    await broker.stop();
    logCopy?.end();
    await rm(root, { recursive: true, force: true });
    (ReplicatedJobView as unknown as { read: typeof ReplicatedJobView.read }).read = originalRead;
    CheckpointStore.prototype.adopt = originalAdopt;
  }
}

await main();
