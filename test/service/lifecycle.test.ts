/**
 * A job's life through the service, driven by the CLI as child processes: submit, status, rescale, savepoint, stop,
 * resubmit from the savepoint at another parallelism, pause/resume, replace — with the output checked exactly.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { unpack } from '../../runtime/serde/msgpackr.ts';
import { readPartFiles } from '../../connectors/dev/index.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait-for.ts';
import { keyOf } from './fixtures/counting-job.ts';
import { FIXTURES, checkTickerCounts, committedParts, fixtureAs, jobStatus, ok, show, sluice, startService, waitForState } from './service-process.ts';

test('the service lifecycle', async (t) => {
  const dir = await tempDir(t, 'sluice-svc-life-');
  const service = await startService(t, ['--data-dir', join(dir, 'data')]);
  const env = { SLUICE_URL: service.url };

  await t.test('submit → status → rescale → savepoint → stop → resubmit from the savepoint at another parallelism: exact output', async () => {
    // 37 s of input at 4,000/s: the steps below (rescale, savepoint, stop) must find it running on a loaded machine.
    const RECORDS = 150_000;
    const output = join(dir, 'count-out');
    const job = join(FIXTURES, 'counting-job.ts');
    const submitted = await ok(['submit', job, '-p', '2', '--set', `output=${output}`, '--set', `records=${RECORDS}`, '--set', 'rate=4000'], env);
    assert.match(submitted, /job "svc-count" running at parallelism 2/);

    await waitFor(async () => (await committedParts(output)) > 0, { timeoutMs: 30_000, message: 'first committed output' });
    // Worker threads send their counters every 250 ms, so the first output can be committed before they do.
    await waitFor(async () => ((await jobStatus(service.url, 'svc-count'))['operators'] as Array<{ recordsIn: number }>)[0]!.recordsIn > 0, { timeoutMs: 30_000, message: 'the first counters from the workers' });
    const status = JSON.parse(await ok(['status', 'svc-count', '--json'], env)) as { job: { state: string; parallelism: number; attempt: number; operators: Array<{ recordsIn: number; backpressureRatio: number }>; checkpoints: unknown[] } };
    assert.equal(status.job.state, 'running');
    assert.equal(status.job.parallelism, 2);
    assert.equal(status.job.attempt, 1);
    assert.ok(status.job.operators.length >= 2 && status.job.operators[0]!.recordsIn > 0, JSON.stringify(status.job.operators));
    assert.ok(status.job.checkpoints.length > 0, 'checkpoint history');
    const table = await ok(['status', 'svc-count'], env);
    assert.match(table, /^state\s+running \(attempt 1, up /m);
    assert.match(table, /^STAGE\s+OPERATORS\s+P\s+IN\/S\s+OUT\/S/m);

    const rescaled = await ok(['rescale', 'svc-count', '-p', '3'], env);
    assert.match(rescaled, /job "svc-count" rescaled 2 → 3 in .* \(from checkpoint \d+\)/);
    assert.equal((await jobStatus(service.url, 'svc-count'))['parallelism'], 3);

    assert.match(await ok(['savepoint', 'svc-count'], env), /job "svc-count": savepoint \d+ \(\d+ bytes, took /);
    const stopped = await ok(['stop', 'svc-count', '--savepoint', '--json'], env);
    const { job: afterStop, savepoint } = JSON.parse(stopped) as { job: { state: string }; savepoint: { id: number; kind: string } };
    assert.equal(afterStop.state, 'stopped');
    assert.equal(savepoint.kind, 'savepoint');
    const committed = (await readPartFiles(output)).length;
    assert.ok(committed > 0 && committed < RECORDS, `stopped mid-job (${committed} of ${RECORDS} committed)`);

    const listing = await ok(['checkpoints', 'svc-count'], env);
    assert.match(listing, new RegExp(`^${savepoint.id}\\s+savepoint\\s+.*valid$`, 'm'));

    const resubmitted = await ok(['submit', job, '-p', '1', '--from', String(savepoint.id), '--set', `output=${output}`, '--set', `records=${RECORDS}`, '--set', 'rate=1000000'], env);
    assert.match(resubmitted, new RegExp(`job "svc-count" \\w+ from checkpoint ${savepoint.id} at parallelism 1`));
    await waitForState(service.url, 'svc-count', 'finished');

    const records = await readPartFiles<{ key: string; n: number }>(output);
    assert.equal(records.length, RECORDS, 'one committed update per input record: none lost, none duplicated');
    const expected = new Map<string, number>();
    for (let i = 0; i < RECORDS; i++) expected.set(keyOf(i), (expected.get(keyOf(i)) ?? 0) + 1);
    const last = new Map<string, number>();
    for (const r of records) last.set(r.key, Math.max(r.n, last.get(r.key) ?? 0));
    assert.deepEqual(last, expected);
    assert.match(await ok(['list'], env), /^svc-count\s+finished\s+1\s/m);
  });

  await t.test('a second submit of a running job is refused (409) unless --replace; pause stops consumption, resume restarts it; no record lost or repeated', async () => {
    const output = join(dir, 'ticker-out');
    const job = await fixtureAs('ticker-job.ts', 'svc-ticker', 'svc-life-ticker', dir);
    await ok(['submit', job, '--set', `output=${output}`], env);
    await waitFor(async () => (await committedParts(output)) > 0, { timeoutMs: 30_000, message: 'first committed output' });

    const again = await sluice(['submit', job, '--set', `output=${output}`], env);
    assert.equal(again.code, 1, show(again));
    assert.match(again.stderr, /job "svc-life-ticker" is already running .*--replace.*\[SLUICE_JOB_RUNNING\]/);
    const replaced = await ok(['submit', job, '--replace', '--set', `output=${output}`, '--set', 'rate=3000'], env);
    assert.match(replaced, /job "svc-life-ticker" \w+ from checkpoint \d+/);

    const paused = await ok(['pause', 'svc-life-ticker'], env);
    assert.match(paused, /job "svc-life-ticker" paused at savepoint \d+/);
    const status = await jobStatus(service.url, 'svc-life-ticker');
    assert.equal(status.state, 'paused');
    assert.equal(status['attempt'], null, 'no runner while paused');
    const atPause = await committedParts(output);
    // Nothing runs while paused: a few status polls later the output has not moved.
    for (let i = 0; i < 5; i++) {
      assert.equal((await jobStatus(service.url, 'svc-life-ticker')).state, 'paused');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(await committedParts(output), atPause, 'no output while paused');

    assert.match(await ok(['resume', 'svc-life-ticker'], env), /job "svc-life-ticker" running/);
    await waitFor(async () => (await committedParts(output)) > atPause + 2, { timeoutMs: 30_000, message: 'output after resume' });
    await ok(['stop', 'svc-life-ticker', '--savepoint'], env);
    const records = await checkTickerCounts(output);
    assert.ok(records > 0);
  });

  await t.test('checkpoint backup → clear → restore round trip brings state and positions back', async () => {
    const output = join(dir, 'roundtrip-out');
    const backup = join(dir, 'backup.sluice-export');
    const legacy = join(dir, 'backup.json');
    const job = await fixtureAs('ticker-job.ts', 'svc-ticker', 'svc-roundtrip', dir);
    await ok(['submit', job, '--set', `output=${output}`], env);
    await waitFor(async () => (await committedParts(output)) > 2, { timeoutMs: 30_000, message: 'committed output' });
    const { savepoint } = JSON.parse(await ok(['pause', 'svc-roundtrip', '--json'], env)) as { savepoint: { id: number } };

    const backedUp = await ok(['checkpoint', 'backup', 'svc-roundtrip', '--output', backup], env);
    assert.match(backedUp, new RegExp(`savepoint ${savepoint.id} \\(.*\\) backed up to ${backup.replaceAll('/', '\\/')}`));
    // The file is the checkpoint's export (docs/checkpoints.md, "Export files"), streamed from the service.
    const exported = unpack(await readFile(backup)) as { format: string; manifest: { id: number; kind: string } };
    assert.equal(exported.format, 'sluice-checkpoint-export');
    assert.deepEqual([exported.manifest.id, exported.manifest.kind], [savepoint.id, 'savepoint']);
    // A backup document (the JSON that `backup` wrote before it wrote exports) still restores.
    const answer = await fetch(`${service.url}/v1/jobs/svc-roundtrip/checkpoints/backup`);
    assert.equal(answer.status, 200);
    const { backup: document } = (await answer.json()) as { backup: { format: string; checkpoint: number } };
    assert.deepEqual([document.format, document.checkpoint], ['sluice-checkpoint-backup', savepoint.id]);
    await writeFile(legacy, JSON.stringify(document));

    assert.match(await ok(['checkpoint', 'clear', 'svc-roundtrip'], env), /checkpoint\(s\) deleted; its next start reprocesses/);
    assert.match(await ok(['checkpoints', 'svc-roundtrip'], env), /no checkpoints for job "svc-roundtrip"/);

    const restoredLegacy = await ok(['checkpoint', 'restore', 'svc-roundtrip', '--input', legacy], env);
    const importedLegacy = Number(/imported as savepoint (\d+)/.exec(restoredLegacy)?.[1]);
    assert.ok(importedLegacy > savepoint.id, restoredLegacy);
    const restored = await ok(['checkpoint', 'restore', 'svc-roundtrip', '--input', backup], env);
    const imported = Number(/imported as savepoint (\d+)/.exec(restored)?.[1]);
    assert.ok(imported > importedLegacy, restored);
    assert.match(await ok(['checkpoints', 'svc-roundtrip'], env), new RegExp(`^${importedLegacy}\\s+savepoint\\s+.*valid$`, 'm'));
    assert.match(await ok(['checkpoints', 'svc-roundtrip'], env), new RegExp(`^${imported}\\s+savepoint\\s+.*valid$`, 'm'));

    const before = await committedParts(output);
    await ok(['resume', 'svc-roundtrip'], env);
    await waitFor(async () => (await committedParts(output)) > before + 2, { timeoutMs: 30_000, message: 'output after the restore' });
    await ok(['cancel', 'svc-roundtrip'], env);
    // Had the restore not brought the state back, counts would start again at 1: repeats.
    await checkTickerCounts(output);
  });
});
