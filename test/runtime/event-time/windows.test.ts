/**
 * Event-time windows (tumbling, sliding, session) against a brute-force oracle over out-of-order events from 4
 * splits: exactly once across seeded failures, in-process and on worker threads, and across a rescale 2 → 3 while
 * windows are open.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPartFiles } from '../../../connectors/dev/index.ts';
import { JobParams, type JobDefinition } from '../../../runtime/api/index.ts';
import { CheckpointStore } from '../../../runtime/checkpoint/index.ts';
import { JobRunner, type JobEvent } from '../../../runtime/runner/index.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { waitFor } from '../../support/wait-for.ts';
import { firedFailures } from './fixtures/seeded-failures.ts';
import windowKinds, { expectedWindows, type WindowResult } from './fixtures/window-kinds.ts';

const RECORDS = 12_000;
const FAIL_AT = [RECORDS / 4, (RECORDS * 3) / 5];

async function runWindows(t: import('node:test').TestContext, kind: string, workers: number, rescaleTo?: number) {
  const dir = await tempDir(t);
  const store = await CheckpointStore.open(join(dir, 'data'));
  t.after(() => store.close());
  const output = join(dir, 'out');
  const events: JobEvent[] = [];
  const params: Array<[string, string]> = [['output', output], ['kind', kind], ['records', String(RECORDS)], ['rate', '30000']];
  const gate = join(dir, 'end-of-input');
  // A rescale must not race the end of this bounded job: its source ends only once the rescale is done.
  if (rescaleTo === undefined) params.push(['failAt', FAIL_AT.join(',')]);
  else params.push(['holdEndUntil', gate]);
  const runner = new JobRunner({
    job: windowKinds as JobDefinition,
    params: new JobParams(params),
    store,
    workers,
    jobModule: new URL('./fixtures/window-kinds.ts', import.meta.url),
  });
  runner.events.subscribe((e) => events.push(e));
  const running = runner.run();
  if (rescaleTo !== undefined) {
    await waitFor(() => events.some((e) => e.type === 'checkpoint-completed'), { timeoutMs: 60_000, message: 'a first checkpoint' });
    const rescale = await runner.rescale(rescaleTo);
    assert.equal(rescale.to, rescaleTo);
    await writeFile(gate, '');
  }
  assert.equal(await running, 'finished');
  const rows = (await readPartFiles<WindowResult>(output)).map((r) => JSON.stringify({ key: r.key, start: r.start, end: r.end, count: r.count })).sort();
  return { rows, events, output };
}

for (const kind of ['tumbling', 'sliding', 'session']) {
  test(`${kind} event-time windows equal the brute-force oracle across two seeded failures (in-process)`, async (t) => {
    const { rows, events, output } = await runWindows(t, kind, 0);
    assert.deepEqual(rows, expectedWindows(kind, RECORDS));
    assert.equal(firedFailures(output, FAIL_AT), 2, 'both seeded failures fired');
    const restarts = events.filter((e) => e.type === 'attempt-started' && e.attempt > 0).length;
    assert.ok(restarts >= 1 && restarts <= 2, `the failures restarted the job (once if both landed in one attempt): ${restarts} restarts`);
  });
}

test('session windows on 2 worker threads equal the oracle across two seeded failures', async (t) => {
  const { rows } = await runWindows(t, 'session', 2);
  assert.deepEqual(rows, expectedWindows('session', RECORDS));
});

for (const workers of [0, 2]) {
  test(`sliding windows rescaled 2 → 3 while open equal the oracle (workers ${workers})`, async (t) => {
    const { rows, events } = await runWindows(t, 'sliding', workers, 3);
    assert.deepEqual(rows, expectedWindows('sliding', RECORDS));
    assert.ok(events.some((e) => e.type === 'rescaled' || (e.type === 'attempt-started' && e.attempt > 0)), 'the job was rescaled');
  });
}
