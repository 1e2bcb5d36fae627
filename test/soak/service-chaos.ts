/**
 * `npm run soak:service`: one `sluice start` service runs two exactly-once jobs writing part files (a bounded keyed
 * count and an unbounded ticker) while a seeded schedule of actions plays out: kill -9 of the service and its restart
 * on the same data directory, pause and resume, savepoints, and rescales to p = 1…4. At the end the bounded job's
 * output must hold exactly one update per input record with each key's final count, and the ticker's counts per key
 * must read 1, 2, 3, … with no gap and no repeat. Not part of `npm test` (~2 min for 15–20 rounds).
 *
 * `SEED` (default 1) picks the schedule, `ROUNDS` (default 15) its length. Seeds 1–3 passed when it was written (15–20
 * rounds, 1–7 kills of the service each, ~2 min per run).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { readPartFiles } from '../../connectors/dev/index.ts';
import { keyOf } from '../service/fixtures/counting-job.ts';
import { FIXTURES, checkTickerCounts, sluice, startService, waitForState, type ServiceProcess } from '../service/service-process.ts';
import { seededRandom } from '../support/seeded-random.ts';
import { tempDir } from '../support/temp-dir.ts';

const SEED = Number(process.env['SEED'] ?? 1);
const ROUNDS = Number(process.env['ROUNDS'] ?? 15);
const RECORDS = 300_000;
const JOBS = ['svc-count', 'svc-ticker'];

function log(line: string): void {
  process.stderr.write(`[soak seed ${SEED}] ${line}\n`);
}

test(`service soak, seed ${SEED}, ${ROUNDS} rounds: both jobs' output stays exact`, { timeout: 3_600_000 }, async (t) => {
  const random = seededRandom(SEED);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const dir = await tempDir(t, 'sluice-soak-service-');
  const dataDir = join(dir, 'data');
  const counts = join(dir, 'counts');
  const ticks = join(dir, 'ticks');
  let service: ServiceProcess = await startService(t, ['--data-dir', dataDir]);
  const run = async (args: string[]): Promise<string> => {
    const o = await sluice(args, { SLUICE_URL: service.url });
    return `exit ${o.code}${o.code === 0 ? '' : `: ${o.stderr.trim().split('\n').at(-1)}`}`;
  };
  log(`submit count: ${await run(['submit', join(FIXTURES, 'counting-job.ts'), '--set', `output=${counts}`, '--set', `records=${RECORDS}`, '--set', 'rate=3000'])}`);
  log(`submit ticker: ${await run(['submit', join(FIXTURES, 'ticker-job.ts'), '--set', `output=${ticks}`, '--set', 'rate=1000'])}`);

  for (let round = 0; round < ROUNDS; round++) {
    await sleep(2_000 + random() * 5_000);
    const action = random();
    const job = pick(JOBS);
    if (action < 0.35) {
      log(`round ${round}: kill -9 of the service`);
      service.child.kill('SIGKILL');
      await service.exited;
      await sleep(random() * 2_000);
      service = await startService(t, ['--data-dir', dataDir]);
    } else if (action < 0.6) {
      log(`round ${round}: pause ${job}: ${await run(['pause', job])}`);
      await sleep(random() * 3_000);
      log(`round ${round}: resume ${job}: ${await run(['resume', job])}`);
    } else if (action < 0.75) {
      log(`round ${round}: savepoint ${job}: ${await run(['savepoint', job])}`);
    } else {
      const parallelism = 1 + Math.floor(random() * 4);
      log(`round ${round}: rescale ${job} to ${parallelism}: ${await run(['rescale', job, '-p', String(parallelism)])}`);
    }
  }
  // A pause left in place by the schedule would keep the bounded job from finishing.
  for (const job of JOBS) log(`resume ${job}: ${await run(['resume', job])}`);
  await waitForState(service.url, 'svc-count', 'finished', 600_000);
  log(`pause the ticker: ${await run(['pause', 'svc-ticker'])}`);

  const records = await readPartFiles<{ key: string; n: number }>(counts);
  assert.equal(records.length, RECORDS, 'one committed update per input record: none lost, none duplicated');
  await checkTickerCounts(counts); // and per key the counts 1, 2, 3, …: no repeat hidden by a gap
  const expected = new Map<string, number>();
  for (let i = 0; i < RECORDS; i++) expected.set(keyOf(i), (expected.get(keyOf(i)) ?? 0) + 1);
  const last = new Map<string, number>();
  for (const r of records) last.set(r.key, Math.max(r.n, last.get(r.key) ?? 0));
  assert.deepEqual(last, expected);
  log(`the ticker's ${await checkTickerCounts(ticks)} counts read 1, 2, 3, … per key; the count's ${RECORDS} updates are exact`);
});
