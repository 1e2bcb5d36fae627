/**
 * `GET /v1/jobs/:name/state` and `sluice state <job>` without --data-dir: a service answers what a job's keyed state
 * holds in its newest checkpoint, read from its own store while it runs.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/temp-dir.ts';
import { keyOf } from './fixtures/counting-job.ts';
import { FIXTURES, ok, sluice, startService, waitForState } from './service-process.ts';

const RECORDS = 3_000;

test('a service answers a job\'s keyed state from its newest checkpoint: every key\'s count exactly, one key, a bounded page, and clear errors', async (t) => {
  const dir = await tempDir(t, 'sluice-svc-state-');
  const service = await startService(t, ['--data-dir', join(dir, 'data')]);
  const env = { SLUICE_URL: service.url };
  await ok(['submit', join(FIXTURES, 'counting-job.ts'), '--set', `output=${join(dir, 'out')}`, '--set', `records=${RECORDS}`, '--set', 'rate=6000'], env);
  await waitForState(service.url, 'svc-count', 'finished');

  const expected = new Map<string, number>();
  for (let i = 0; i < RECORDS; i++) expected.set(keyOf(i), (expected.get(keyOf(i)) ?? 0) + 1);

  const printed = await ok(['state', 'svc-count', '--operator', 'counts', '--limit', '100000'], env);
  const got = new Map<string, number>();
  for (const line of printed.trim().split('\n')) {
    const entry = JSON.parse(line) as { state: string; kind: string; key: string; value: { key: string; n: number } };
    assert.equal(entry.kind, 'value');
    assert.ok(!got.has(entry.key), `${entry.key} printed once`);
    got.set(entry.key, entry.value.n);
  }
  assert.deepEqual(got, expected, 'the final checkpoint holds every key\'s count, as the output does');

  const one = JSON.parse(await ok(['state', 'svc-count', '--operator', 'counts', '--key', 'k7'], env)) as { key: string; value: { n: number } };
  assert.deepEqual([one.key, one.value.n], ['k7', expected.get('k7')]);

  const listed = await ok(['state', 'svc-count'], env);
  assert.match(listed, /^checkpoint \d+ of job "svc-count"/);
  assert.match(listed, /\ncounts +reduce +\d+ +\d/);

  const page = (await (await fetch(`${service.url}/v1/jobs/svc-count/state?operator=counts&limit=10`)).json()) as { entries: unknown[]; truncated: boolean };
  assert.equal(page.entries.length, 10);
  assert.equal(page.truncated, true);
  const limited = await ok(['state', 'svc-count', '--operator', 'counts', '--limit', '7'], env);
  assert.equal(limited.trim().split('\n').length, 7);

  const unknownOperator = await fetch(`${service.url}/v1/jobs/svc-count/state?operator=numbers`);
  assert.equal(unknownOperator.status, 400);
  assert.match(((await unknownOperator.json()) as { error: { message: string } }).error.message, /operator "numbers" has no keyed state .*operators with keyed state: counts/);
  const noTimers = (await (await fetch(`${service.url}/v1/jobs/svc-count/state?operator=counts&timers=true`)).json()) as { entries: unknown[] };
  assert.deepEqual(noTimers.entries, [], 'a reduce registers no timers');
  assert.equal((await fetch(`${service.url}/v1/jobs/svc-count/state?operator=counts&timers=maybe`)).status, 400);
  const strayKey = await fetch(`${service.url}/v1/jobs/svc-count/state?key=k7`);
  assert.equal(strayKey.status, 400);
  assert.equal((await fetch(`${service.url}/v1/jobs/nobody/state`)).status, 404);

  // Operator state: the file sink's, one entry per subtask (what it had pending at the final checkpoint).
  const holders = ((await (await fetch(`${service.url}/v1/jobs/svc-count/state`)).json()) as { operatorState: Array<{ uid: string; name: string; subtasks: number }> }).operatorState;
  const sink = holders.find((op) => op.name === 'file');
  assert.ok(sink !== undefined, JSON.stringify(holders));
  assert.equal(sink.subtasks, 2);
  const stored = (await (await fetch(`${service.url}/v1/jobs/svc-count/state?operator=${sink.uid}&operatorState=true`)).json()) as { entries: Array<{ subtask: number; state: unknown }> };
  assert.deepEqual(stored.entries.map((e) => e.subtask), [0, 1]);
  for (const entry of stored.entries) assert.ok(typeof entry.state === 'object' && entry.state !== null, JSON.stringify(entry));
  const cliStored = await ok(['state', 'svc-count', '--operator', sink.uid, '--operator-state'], env);
  assert.deepEqual(cliStored.trim().split('\n').map((line) => JSON.parse(line) as unknown), stored.entries);
  const reduceHasNone = await fetch(`${service.url}/v1/jobs/svc-count/state?operator=counts&operatorState=true`);
  assert.equal(reduceHasNone.status, 400);
  assert.match(((await reduceHasNone.json()) as { error: { message: string } }).error.message, /operator "counts" has no operator state .*operators with operator state: /);
  assert.equal((await fetch(`${service.url}/v1/jobs/svc-count/state?operator=counts&operatorState=maybe`)).status, 400);
  assert.equal((await fetch(`${service.url}/v1/jobs/svc-count/state?operator=counts&operatorState=true&key=k7`)).status, 400);

  const cliUnknown = await sluice(['state', 'svc-count', '--operator', 'numbers'], env);
  assert.equal(cliUnknown.code, 2, cliUnknown.stdout + cliUnknown.stderr);
  assert.match(cliUnknown.stderr, /SLUICE_STATE_NO_KEYED_STATE/);
});
