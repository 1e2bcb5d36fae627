/**
 * Cluster mode's bad input: a job that its owner cannot load (failed once, with the error, never retried on member
 * after member), brokers unreachable at start, wrong flags, and two clusters of one name on different brokers.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { startClusterMember, type RunningClusterMember } from '../../../runtime/cluster/cluster-member.ts';
import { silentLogger } from '../../../runtime/logging/index.ts';
import { closedPort, ROOT, sluice } from '../../service/service-process.ts';
import { devstackOnly, kafkaCluster, type KafkaCluster } from '../../support/kafka-cluster.ts';
import { readCommitted } from '../../support/kafka-committed.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { clusterView } from './support/cluster-checks.ts';

const COUNTS = fileURLToPath(new URL('./fixtures/counts-to-kafka.ts', import.meta.url));

async function member(t: TestContext, kafka: KafkaCluster, cluster: string, name: string): Promise<RunningClusterMember> {
  const m = await startClusterMember({ cluster, brokers: kafka.brokers, dataDir: await tempDir(t, `sluice-${name}-`), name, port: 0, workers: 0, sessionTimeoutMs: 6_000, logger: silentLogger() });
  kafka.defer(() => m.close());
  return m;
}

async function submit(to: RunningClusterMember, file: string, params: Record<string, string>): Promise<Response> {
  return fetch(`${to.url}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ file, params }) });
}

test('a job its owner cannot load fails once with the loader\'s error and is not started again on another member', async (t) => {
  const kafka = await kafkaCluster(t);
  const dir = await tempDir(t, 'sluice-unloadable-');
  const cluster = kafka.uniqueName('c');
  // Loads the first time (the submitting member checks it), throws every later time: the owner's import.
  const file = join(dir, 'unloadable.ts');
  await writeFile(
    file,
    `import { defineJob } from '${join(ROOT, 'runtime/api/index.ts')}';
import { collection, collectSink } from '${join(ROOT, 'connectors/dev/index.ts')}';
const g = globalThis as { unloadableImports?: number };
g.unloadableImports = (g.unloadableImports ?? 0) + 1;
if (g.unloadableImports > 1) throw new Error('this job cannot be loaded here (import ' + g.unloadableImports + ')');
export default defineJob({ name: 'unloadable' }, (env) => { env.source(collection([1, 2, 3])).sink(collectSink()); });
`,
  );
  const a = await member(t, kafka, cluster, 'a');
  const b = await member(t, kafka, cluster, 'b');
  assert.equal((await submit(a, file, {})).status, 201);
  const failed = await waitFor(async () => (await clusterView(b.url)).jobs.find((j) => j.name === 'unloadable' && j.state === 'failed'), { timeoutMs: 60_000, intervalMs: 200, message: 'the job marked failed' });
  assert.match(failed.error ?? '', /this job cannot be loaded here \(import 2\)/);
  const imports = (globalThis as { unloadableImports?: number }).unloadableImports;
  assert.equal(imports, 2, 'checked once at submit, tried once by its owner');

  // A rebalance (a member joining) does not start it again anywhere.
  const generation = (await clusterView(a.url)).generation;
  await member(t, kafka, cluster, 'c');
  await waitFor(async () => (await clusterView(a.url)).generation > generation && (await clusterView(a.url)).members.length === 3, { timeoutMs: 60_000, intervalMs: 200, message: 'a new generation with the third member' });
  assert.equal((globalThis as { unloadableImports?: number }).unloadableImports, 2, 'not retried');
  assert.equal((await clusterView(a.url)).jobs.find((j) => j.name === 'unloadable')?.owner, null);
});

test('sluice start --cluster with unreachable brokers keeps retrying with a message that says what to check; Ctrl-C stops it', async () => {
  const port = await closedPort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli/main.ts', 'start', '--port', '0', '--cluster', 'nowhere', '--brokers', `127.0.0.1:${port}`, '--data-dir', join(await import('node:os').then((os) => os.tmpdir()), `sluice-nowhere-${process.pid}`)], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', SLUICE_TOKEN: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitFor(() => stderr.match(/cannot reach the Kafka brokers/g)?.length === 2, { timeoutMs: 60_000, intervalMs: 100, message: 'two retry warnings', describe: () => stderr.slice(-2000) });
    assert.match(stderr, new RegExp(`127\\.0\\.0\\.1:${port} of cluster \\\\?"nowhere\\\\?".*check --brokers and that Kafka is up`));
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.match(stdout, /stopped before it joined cluster "nowhere"/);
  } finally {
    child.kill('SIGKILL');
  }
});

test('cluster flags are checked: --brokers without --cluster, a cluster name that cannot name topics, --cluster without brokers', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['start', '--brokers', 'localhost:9092'], /--brokers needs --cluster <name>/],
    [['start', '--cluster', 'a b', '--brokers', 'localhost:9092'], /--cluster "a b" must be letters, digits/],
    [['start', '--cluster', 'prod'], /--cluster needs --brokers/],
    [['start', '--cluster', 'prod', '--brokers', 'localhost:9092', '--session-timeout', 'soon'], /--session-timeout expects a positive integer/],
    [['cluster', 'state'], /unknown subcommand "state": sluice cluster status/],
    [['start', '--cluster', 'prod', '--brokers', 'localhost:9092', '--advertise-url', 'member-1:8081'], /--advertise-url expects http\(s\):\/\/host:port/],
    [['start', '--advertise-url', 'http://member-1:8081'], /--advertise-url needs --cluster <name>/],
    [['start', '--kafka-sasl', 'plain'], /--kafka-sasl needs --cluster <name>/],
    [['start', '--cluster', 'prod', '--brokers', 'localhost:9092', '--kafka-sasl', 'plain', '--kafka-user', 'u'], /needs the password of "u" in \$SLUICE_KAFKA_PASSWORD/],
  ];
  for (const [args, message] of cases) {
    const outcome = await sluice(args);
    assert.equal(outcome.code, 2, `${args.join(' ')}: ${outcome.stderr}`);
    assert.match(outcome.stderr, message);
  }
});

test('a member tells the others the URL it is advertised at, and is named after it', async (t) => {
  const kafka = await kafkaCluster(t);
  const m = await startClusterMember({ cluster: kafka.uniqueName('c'), brokers: kafka.brokers, dataDir: await tempDir(t, 'sluice-advertised-'), port: 0, advertisedUrl: 'http://member-1.example:8081', workers: 0, sessionTimeoutMs: 6_000, logger: silentLogger() });
  kafka.defer(() => m.close());
  assert.equal(m.name, 'member-1.example:8081');
  const v = await waitFor(async () => (await clusterView(m.url)).members[0], { timeoutMs: 30_000, intervalMs: 100, message: 'the member in its own view' });
  assert.deepEqual({ name: v.name, url: v.url }, { name: 'member-1.example:8081', url: 'http://member-1.example:8081' });
});

test('two clusters of one name on different brokers stay apart', { skip: devstackOnly('two brokers') }, async (t) => {
  const runs = [];
  for (const side of ['east', 'west']) {
    const kafka = await kafkaCluster(t);
    const input = await kafka.createTopic({ partitions: 2 });
    const output = await kafka.createTopic({ partitions: 2 });
    const producer = await kafka.producer();
    const n = side === 'east' ? 300 : 500;
    await producer.send({ topic: input, messages: Array.from({ length: n }, (_, i) => ({ key: `k${i % 5}`, value: JSON.stringify({ key: `k${i % 5}`, i }) })) });
    const m = await member(t, kafka, 'same-name', side);
    assert.equal((await submit(m, COUNTS, { brokers: kafka.brokers.join(','), input, output, txnPrefix: kafka.uniqueName('txn') })).status, 201);
    runs.push({ kafka, output, n, m, side });
  }
  for (const { kafka, output, n, m, side } of runs) {
    const { committed } = await waitFor(async () => {
      const c = await readCommitted(kafka, output, 2);
      return c.committed.length >= n ? c : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500, message: `${side}: ${n} counts` });
    assert.equal(committed.length, n, `${side} counted its own input only`);
    const v = await clusterView(m.url);
    assert.deepEqual(v.members.map((x) => x.name), [side], `${side}'s cluster has only its member`);
  }
});
