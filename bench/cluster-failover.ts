/**
 * Failover time of a cluster job holding KEYS (default 1,000,000) keys of keyed state: three in-process cluster
 * members (session timeout SESSION_MS, default 10 s) on the devstack broker (a child process), the job of
 * support/cluster-count-job.ts (Kafka source → keyed count → probe sink, p = 1, incremental checkpoints every 1 s).
 *
 * 1. The input topic is filled with KEYS records, one per key; the job is submitted and reads them all, so its state
 *    holds every key.
 * 2. A steady producer adds RATE records/s (default 20,000) over the same keys until the end; the bench waits for a
 *    replicated checkpoint taken after the fill, then WARM_S more seconds (default 10) of steady input.
 * 3. The member that owns the job crashes (test hook: as kill -9, no LeaveGroup, no savepoint). ROUNDS times
 *    (default 3): after each failover a replacement member joins (three members again), WARM_S more seconds pass,
 *    and the new owner crashes in turn. The heartbeat phase at the crash moves detection anywhere within
 *    session timeout ± one heartbeat interval (the members' heartbeat period), so one crash says little: the median is
 *    reported.
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
 * In-process caveat: a crashed member's metrics registry stays reachable (prom-client's GC observer), and with it
 * every runner the member tracked, state included; the bench untracks runners that ended after each crash, as a
 * killed process would free them (see forgetEndedRunners). The devstack broker compacts the checkpoints topic as Kafka
 * does (its cleaner every 15 s, never the active 64 MiB segment), so the read part grows with how long the job ran
 * before the crash (WARM_S) only up to about the live checkpoints plus that segment.
 *
 *   npx tsx bench/cluster-failover.ts     (KEYS=50000 for a quick run; LOG_FILE=/tmp/x.log keeps the members' logs;
 *                                          TRACE=1 prints rate, lag and heap every 2 s; HEAP_SNAPSHOT=file at the end)
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
import { JobMetrics } from '../runtime/metrics/index.ts';
import type { JobRunner } from '../runtime/runner/index.ts';
import { emitFigure, median } from './support/figure.ts';
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
const ROUNDS = Number(process.env['ROUNDS'] ?? 3);

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

interface RoundResult {
  readonly round: number;
  readonly victim: string;
  readonly newOwner: string;
  readonly crashAt: number;
  readonly detectedAt: number | undefined;
  readonly joinedAt: number | undefined;
  readonly readStartedAt: number | undefined;
  readonly readEndedAt: number | undefined;
  readonly checkpointId: number | undefined;
  readonly checkpointBytes: number;
  readonly adoptEndedAt: number | undefined;
  readonly startingAt: number | undefined;
  readonly loadedAt: number | undefined;
  readonly flowingAt: number;
  readonly caughtUpAt: number;
  /** The checkpoints partition's high watermark when the new owner began reading it. */
  readonly high: number | undefined;
}

const span = (from: number | undefined, to: number | undefined): number | undefined => (from === undefined || to === undefined ? undefined : to - from);
const part = (label: string, ms: number | undefined, extra = ''): string => `${label} ${ms === undefined ? '?' : secs(ms)}${extra}`;

/** One line per crash, in the format, with every part. */
function describe(r: RoundResult, scanned: { bytes: number; records: number } | undefined): string {
  const parts = [
    part('detection', span(r.crashAt, r.detectedAt), ` (session timeout ${SESSION_MS / 1000} s)`),
    part('rebalance', span(r.detectedAt, r.joinedAt)),
    part('assignment', span(r.joinedAt, r.readStartedAt)),
    `replicated checkpoint ${r.checkpointId ?? '?'} ${mib(r.checkpointBytes)} read in ${secs(span(r.readStartedAt, r.readEndedAt) ?? NaN)}` +
      (scanned === undefined ? '' : ` (scanned ${mib(scanned.bytes)}, ${scanned.records} records, from offset 0)`),
    part('adopt', span(r.readEndedAt, r.adoptEndedAt), ' (local store cleared, replicated blobs written)'),
    part('claim', span(r.adoptEndedAt, r.startingAt)),
    part('load', span(r.startingAt, r.loadedAt), ' (bundle imported, checkpoint read back from the local store)'),
    part('restore', span(r.loadedAt, r.flowingAt), ' (state rebuilt, source fetching, first record)'),
  ];
  return `failover ${r.round}: ${secs(r.flowingAt - r.crashAt)} (${r.victim} crashed → first record on ${r.newOwner}; ${parts.join('; ')})`;
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
  let memberCount = 0;
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

  // Workaround, in-process only: a member's metrics keep every runner it tracked (cluster-member.ts drops the
  // untrack function), and prom-client's GC observer keeps every member's registry alive, so a crashed member's job
  // — runner, attempt, 1M keys of state — would stay in this heap for good and slow every later round with GC. A
  // killed process frees all of it: the bench untracks runners that ended once their member crashed.
  const tracked: Array<{ runner: JobRunner; untrack: () => void }> = [];
  const originalTrack = JobMetrics.prototype.track;
  JobMetrics.prototype.track = function (this: JobMetrics, job: string, runner: JobRunner): () => void {
    const untrack = originalTrack.call(this, job, runner);
    tracked.push({ runner, untrack });
    return untrack;
  };
  const forgetEndedRunners = (): void => {
    for (const t of tracked.splice(0)) {
      if (t.runner.state === 'cancelled' || t.runner.state === 'finished' || t.runner.state === 'failed') t.untrack();
      else tracked.push(t);
    }
  };

  try {
    await admin.createTopics({ topics: [{ topic: input, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
    let began = performance.now();
    await fillClusterTopic(kafka, input, KEYS);
    log(`${KEYS} records (one per key) in ${input} in ${secs(performance.now() - began)}`);

    for (let i = 0; i < MEMBERS; i++) {
      const name = `m${memberCount++}`;
      members.push(await startClusterMember({ cluster, brokers: broker.brokers, dataDir: join(root, name), name, port: 0, workers: 0, sessionTimeoutMs: SESSION_MS, logger: tap.logger(name) }));
    }
    log(`${MEMBERS} members of cluster ${cluster} up (session timeout ${SESSION_MS / 1000} s)`);

    const probe = clusterProbe();
    if (process.env['TRACE'] === '1') {
      // Every 2 s: records/s at the sink, how old the input it processes is, the heap.
      let last = probe.records;
      const gc = (globalThis as { gc?: () => void }).gc;
      const timer = setInterval(() => {
        gc?.();
        const rate = (probe.records - last) / 2;
        last = probe.records;
        log(`trace: ${Math.round(rate)} records/s, behind ${secs(probe.lastEventT === 0 ? 0 : Date.now() - probe.lastEventT)}, heap ${mib(process.memoryUsage().heapUsed)}${gc === undefined ? '' : ' (after gc)'}, rss ${mib(process.memoryUsage().rss)}`);
      }, 2_000);
      timer.unref();
    }
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

    /**
     * Bytes and records of the checkpoints partition below each offset in `highs`: what each new owner scanned. Read
     * right after each failover: the broker's log cleaner compacts the topic meanwhile, so a read at the end would
     * undercount.
     */
    const scannedBelow = async (highs: ReadonlyArray<number | undefined>): Promise<Array<{ bytes: number; records: number } | undefined>> => {
      const out = highs.map((h) => (h === undefined ? undefined : { bytes: 0, records: 0 }));
      await scanPartition(kafka, topics.checkpoints, partitionOf(JOB, 1), (r) => {
        const size = r.key.length + (r.value?.length ?? 0);
        highs.forEach((h, i) => {
          if (h !== undefined && r.offset < h) {
            out[i]!.bytes += size;
            out[i]!.records++;
          }
        });
      });
      return out;
    };
    const results: RoundResult[] = [];
    const tally: Array<{ bytes: number; records: number } | undefined> = [];
    for (let round = 1; round <= ROUNDS; round++) {
      if (round > 1) {
        // A replacement joins (three members again: the next crash has two survivors, like the first); the job stays.
        const name = `m${memberCount++}`;
        members.push(await startClusterMember({ cluster, brokers: broker.brokers, dataDir: join(root, name), name, port: 0, workers: 0, sessionTimeoutMs: SESSION_MS, logger: tap.logger(name) }));
        const live = members;
        const seen = (await clusterView(live[0]!.url)).jobs.find((j) => j.name === JOB)?.lastCheckpoint?.id ?? 0;
        await waitUntil(
          async () => {
            const view = await clusterView(live[0]!.url);
            const job = view.jobs.find((j) => j.name === JOB);
            return view.members.length === MEMBERS && view.members.some((m) => m.jobs.includes(JOB)) && (job?.lastCheckpoint?.id ?? 0) > seen;
          },
          `${name} to join and the job to checkpoint again`,
          120_000,
          200,
        );
        log(`round ${round}: ${name} joined; ${WARM_S} s of steady input`);
        await sleep(WARM_S * 1000);
      }
      const result = await failover(round);
      results.push(result);
      tally.push((await scannedBelow([result.high]))[0]);
    }

    await steady.stop();
    steady = undefined;
    if (process.env['HEAP_SNAPSHOT'] !== undefined) {
      // Diagnostics: what the process holds after the failovers (the dead members' jobs should be gone).
      (globalThis as { gc?: () => void }).gc?.();
      const { writeHeapSnapshot } = await import('node:v8');
      log(`heap snapshot: ${writeHeapSnapshot(process.env['HEAP_SNAPSHOT'])}`);
    }
    const lines = results.map((r, i) => describe(r, tally[i]));
    for (const line of lines) process.stdout.write(`${line}\n`);
    const failovers = results.map((r) => r.flowingAt - r.crashAt);
    const caughtUp = results.map((r) => r.caughtUpAt - r.crashAt);
    const detections = results.map((r) => (r.detectedAt ?? NaN) - r.crashAt);
    const summary =
      `failover: ${secs(median(failovers))} median of ${results.length} (${failovers.map(secs).join(', ')}; ` +
      `detection ${detections.map(secs).join(', ')}, session timeout ${SESSION_MS / 1000} s); ` +
      `caught up ${secs(median(caughtUp))} median (${caughtUp.map(secs).join(', ')})`;
    process.stdout.write(`${summary}\n`);
    const keysLabel = KEYS === 1_000_000 ? '1M' : String(KEYS);
    emitFigure({
      name: `cluster/failover-${keysLabel}-keys`,
      value: median(failovers),
      unit: 'ms',
      baseline: BAR_MS,
      note: `crash of the owner (test hook) → first record at the sink on the new owner; median of ${results.length} crashes (${failovers.map(secs).join(', ')}); 3 in-process members, session timeout ${SESSION_MS / 1000} s, ${RATE} records/s input; round 1: ${lines[0]!.replace(/^failover 1: /, '')}; bar < 20 s (ratio < 1)`,
    });
    emitFigure({
      name: `cluster/failover-to-caught-up-${keysLabel}-keys`,
      value: median(caughtUp),
      unit: 'ms',
      baseline: BAR_MS,
      note: `crash → the sink processes records produced after the new owner started (the outage's backlog drained at ${RATE} records/s input); median of ${results.length}; reported`,
    });

    /** One crash of the job's owner, measured. */
    async function failover(round: number): Promise<RoundResult> {
      const live = members;
      const before: ClusterView = await clusterView(live[0]!.url);
      const ownerName = before.members.find((m) => m.jobs.includes(JOB))?.name;
      const victim = live.find((m) => m.name === ownerName);
      if (victim === undefined) throw new Error(`no member owns ${JOB}: ${JSON.stringify(before.members)}`);
      const lastBefore = before.jobs.find((j) => j.name === JOB)?.lastCheckpoint;
      const oldEpoch = Math.max(...probe.writers.map((w) => w.epoch ?? -1));
      log(`round ${round}: owner ${victim.name} (epoch ${oldEpoch}, leader ${before.leader}); last replicated checkpoint ${lastBefore?.id} (${mib(lastBefore?.bytes ?? 0)}); ${probe.records} records so far; crashing it`);

      const crashAt = performance.now();
      await clusterMemberTestHooks(victim).crash();
      // Forget the dead member: in-process, anything the bench keeps would keep its heap (and its job's state) alive.
      members.splice(members.indexOf(victim), 1);
      forgetEndedRunners();
      const survivors = live.filter((m) => m !== victim);

      const newWriter = await waitUntil(() => probe.writers.find((w) => (w.epoch ?? -1) > oldEpoch && w.firstWriteAt > 0), 'records on the new owner', 180_000, 5);
      const flowingAt = newWriter.firstWriteAt;
      const flowingWall = performance.timeOrigin + flowingAt;
      const caughtUpAt = await waitUntil(() => (probe.lastEventT >= flowingWall ? performance.now() : undefined), 'the backlog of the outage to drain', 180_000, 5);
      const after = await clusterView(survivors[0]!.url);
      const newOwner = after.members.find((m) => m.jobs.includes(JOB))?.name ?? '?';

      const detectedAt = tap.lines.find((l) => l.at >= crashAt && l.member !== victim.name && l.msg.includes('is rebalancing'))?.at;
      const read = reads.find((r) => r.job === JOB && r.startedAt >= crashAt);
      const adopt = adopts.find((a) => a.job === JOB && a.startedAt >= crashAt);
      const result: RoundResult = {
        round,
        victim: victim.name,
        newOwner,
        crashAt,
        detectedAt,
        joinedAt: tap.first('joined group', detectedAt ?? crashAt, newOwner)?.at,
        readStartedAt: read?.startedAt,
        readEndedAt: read?.endedAt,
        checkpointId: read?.checkpointId,
        checkpointBytes: read?.checkpointBytes ?? 0,
        adoptEndedAt: adopt?.endedAt,
        startingAt: tap.first('cluster: starting job', crashAt, newOwner)?.at,
        loadedAt: tap.first('job starting', crashAt, newOwner)?.at,
        flowingAt,
        caughtUpAt,
        high: read === undefined ? undefined : await read.high,
      };
      log(`round ${round}: records flowing on ${newOwner} ${secs(flowingAt - crashAt)} after the crash, caught up after ${secs(caughtUpAt - crashAt)}`);
      return result;
    }
  } finally {
    await steady?.stop().catch(() => undefined);
    // Survivors hand the job over with savepoints as they leave; the last one just stops it.
    const closing = performance.now();
    await Promise.all(members.map((m) => m.close().catch((err: unknown) => log(`closing ${m.name}: ${(err as Error).message}`))));
    log(`members closed in ${secs(performance.now() - closing)}`);
    await admin.disconnect().catch(() => undefined);
    await broker.stop();
    logCopy?.end();
    await rm(root, { recursive: true, force: true });
    (ReplicatedJobView as unknown as { read: typeof ReplicatedJobView.read }).read = originalRead;
    CheckpointStore.prototype.adopt = originalAdopt;
    JobMetrics.prototype.track = originalTrack;
  }
}

await main();
