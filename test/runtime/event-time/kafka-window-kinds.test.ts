/**
 * Tumbling, sliding and session windows over 4 Kafka partitions of seeded, out-of-order events, run with `sluice run`
 * (worker threads by default): killed with -9 mid-stream, then run again at parallelism 3 while windows are open.
 * The committed results equal a brute-force computation over all events: every window once, with its exact count.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { kafkaCluster, type KafkaCluster } from '../../support/kafka-cluster.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { eventOf, expectedWindows, type Event, type WindowResult } from './fixtures/window-kinds.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const JOB = join(import.meta.dirname, 'fixtures', 'kafka-window-kinds.ts');
const EVENTS = 8_000;
const PARTITIONS = 4;

async function produce(cluster: KafkaCluster, topic: string, events: ReadonlyArray<{ partition: number; event: Event }>): Promise<void> {
  const producer = await cluster.producer();
  for (let start = 0; start < events.length; start += 1_000) {
    await producer.send({ topic, messages: events.slice(start, start + 1_000).map(({ partition, event }) => ({ partition, key: event.key, value: JSON.stringify(event) })) });
  }
}

function runJob(dataDir: string, args: readonly string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'runtime/cli/main.ts', 'run', JOB, '--data-dir', dataDir, '--log-level', 'warn', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-8_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, stderr: () => stderr };
}

async function results(output: string): Promise<string[]> {
  const rows = await readPartFiles<WindowResult>(output).catch(() => [] as WindowResult[]);
  return rows.map((r) => JSON.stringify({ key: r.key, start: r.start, end: r.end, count: r.count })).sort();
}

for (const kind of ['tumbling', 'sliding', 'session']) {
  test(`${kind} windows over 4 Kafka partitions: kill -9 mid-stream, rerun at parallelism 3, results equal the brute-force oracle`, { timeout: 180_000 }, async (t) => {
    const cluster = await kafkaCluster(t);
    const topic = await cluster.createTopic({ partitions: PARTITIONS, prefix: `windows-${kind}` });
    const dir = await tempDir(t);
    const output = join(dir, 'out');
    const params = ['--set', `brokers=${cluster.brokers.join(',')}`, '--set', `topic=${topic}`, '--set', `output=${output}`, '--set', `kind=${kind}`];
    const events = Array.from({ length: EVENTS }, (_, i) => ({ partition: i % PARTITIONS, event: eventOf(i) }));
    const last = Math.max(...events.map((e) => e.event.ts));
    // One event per partition far ahead, so the watermark (their minimum) passes every real window; its own windows never fire.
    const flush = Array.from({ length: PARTITIONS }, (_, partition) => ({ partition, event: { i: -1, key: 'flush', ts: last + 10_000 } }));
    const expected = expectedWindows(kind, EVENTS);

    await produce(cluster, topic, events.slice(0, EVENTS / 2));
    const first = runJob(join(dir, 'data'), params);
    t.after(() => first.child.kill('SIGKILL'));
    await waitFor(async () => (await results(output)).length >= 5, { timeoutMs: 90_000, intervalMs: 100, message: 'the first run to commit windows', describe: first.stderr });
    first.child.kill('SIGKILL');
    assert.equal((await first.exited).signal, 'SIGKILL');

    await produce(cluster, topic, [...events.slice(EVENTS / 2), ...flush]);
    const second = runJob(join(dir, 'data'), [...params, '-p', '3']);
    t.after(() => second.child.kill('SIGKILL'));
    let rows: string[] = [];
    await waitFor(async () => (rows = await results(output)).length >= expected.length, { timeoutMs: 120_000, intervalMs: 200, message: 'every window committed', describe: () => ({ rows: rows.length, expected: expected.length, log: second.stderr() }) });
    second.child.kill('SIGINT');
    assert.equal((await second.exited).code, 0, second.stderr());
    assert.deepEqual(await results(output), expected, 'every window once, with its exact count');
  });
}
