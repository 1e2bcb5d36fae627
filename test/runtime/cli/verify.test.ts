import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runSluice as sluice } from '../../support/sluice-cli.ts';

const FIXTURES = fileURLToPath(new URL('../testing/fixtures/', import.meta.url));
const ORDERS_ENRICH = fileURLToPath(new URL('../../../jobs/orders-enrich.ts', import.meta.url));
const TOTALS = fileURLToPath(new URL('../../../jobs/totals.ts', import.meta.url));
const CLICKS_TO_ES = fileURLToPath(new URL('../../../jobs/clicks-to-es.ts', import.meta.url));


test('sluice verify: an exactly-once job is EXACT, an at-least-once one DIFFERENT with its duplicates, a bad flag a usage error', async () => {
  // Seed 3 plans before-store, sink-pre-commit, before-store: each fails a checkpoint, so the at-least-once sink's
  // writes since the last completed checkpoint are replayed.
  const [exact, wrong, usage] = await Promise.all([
    sluice(['verify', `${FIXTURES}exactly-once-job.ts`, '--faults', '3', '--seed', '3']),
    sluice(['verify', `${FIXTURES}at-least-once-job.ts`, '--faults', '3', '--seed', '3']),
    sluice(['verify', `${FIXTURES}exactly-once-job.ts`, '--faults', 'many']),
  ]);
  assert.equal(exact.code, 0, exact.stdout + exact.stderr);
  assert.match(exact.stdout, /^EXACT: with 3 crashes the job wrote exactly what the clean run wrote \(3,000 records in file:totals/m);
  assert.match(exact.stdout, /fault {2}3 {5}before-store/);

  assert.equal(wrong.code, 1, wrong.stdout + wrong.stderr);
  assert.match(wrong.stdout, /^DIFFERENT: 0 missing, [\d,]+ duplicated, 0 differing, 0 unexpected, 0 keys reordered/m);
  assert.match(wrong.stdout, /First differences:\n {2}file:numbers {2}duplicated {2}\{"n":\d+\}/);

  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--faults expects a non-negative integer, got "many"/);
});

test('sluice verify: a Kafka → Kafka exactly-once job with dead letters (jobs/orders-enrich.ts) is EXACT, per-key order included', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-verify-kafka-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const lines = Array.from({ length: 2_000 }, (_, i) =>
    i % 97 === 5 ? `{"orderId":"bad-${i}","customer":` : JSON.stringify({ orderId: `o-${i}`, customer: `c-${i % 40}`, amount: i % 300 }),
  );
  await writeFile(join(dir, 'orders.jsonl'), `${lines.join('\n')}\n`);
  const run = await sluice(['verify', ORDERS_ENRICH, '--input', `orders=${join(dir, 'orders.jsonl')}`, '--faults', '3', '--seed', '7']);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /^EXACT: with 3 crashes the job wrote exactly what the clean run wrote \(2,000 records in kafka:orders-dead-letters \(21\), kafka:orders-enriched \(1,979\)\)/m);
});

test('sluice verify refuses a job that would write outside its devstack (the README\'s totals job writes to ./out) or reads Kafka without --input before running it, and one whose clean run wrote nothing it can read', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'sluice-verify-cwd-'));
  t.after(() => rm(cwd, { recursive: true, force: true }));
  const [outside, nothing, noInput] = await Promise.all([
    sluice(['verify', TOTALS], { cwd }),
    sluice(['verify', `${FIXTURES}console-only-job.ts`], { cwd }),
    sluice(['verify', CLICKS_TO_ES], { cwd }),
  ]);

  assert.equal(outside.code, 1, outside.stdout + outside.stderr);
  assert.match(outside.stderr, /verify will not run job "totals", whose runs would reach outside verify's devstack: sink "sink-3" \(file\) writes to \S+out\/totals, outside the run's directory/);
  assert.match(outside.stderr, /SLUICE_VERIFY_OUTSIDE_DEVSTACK/);
  assert.deepEqual(await readdir(cwd), [], 'nothing was written into the working directory');

  assert.equal(nothing.code, 1, nothing.stdout + nothing.stderr);
  assert.doesNotMatch(nothing.stdout, /EXACT/);
  assert.match(nothing.stderr, /verify cannot check job "verify-console-only": its clean run wrote nothing verify can read \(sinks: sink "printed" \(console\)\)/);
  assert.match(nothing.stderr, /SLUICE_VERIFY_NOTHING_TO_COMPARE/);

  assert.equal(noInput.code, 1, noInput.stdout + noInput.stderr);
  assert.match(noInput.stderr, /verify needs the records job "clicks-to-es" reads from Kafka \(source "clicks" \(kafka\)\): pass each topic's records as a file of JSON lines, --input <topic>=<file\.jsonl>.*\[SLUICE_VERIFY_NO_INPUT\]/);
});
