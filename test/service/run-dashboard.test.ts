/**
 * `sluice run --ui-port`: the web dashboard and the API of the job the process runs, on their own port — the page,
 * the job's status, a savepoint, a rescale and its keyed state from the API the page uses, pause refused with what to do instead,
 * and the flags' bad input.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait-for.ts';
import { browserPage, needsChromium } from '../browser/chromium.ts';
import { FIXTURES, runInForeground, show, sluice } from './service-process.ts';

interface Answer {
  readonly status: number;
  readonly body: Record<string, any>;
}

async function call(url: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${url}${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

test('sluice run --ui-port serves the dashboard and the API of its job: status, savepoint, rescale; pause is refused', { timeout: 180_000 }, async (t) => {
  const dir = await tempDir(t, 'sluice-run-ui-');
  const run = runInForeground(t, [join(FIXTURES, 'ticker-job.ts'), '--set', `output=${join(dir, 'out')}`, '--data-dir', join(dir, 'data'), '--workers', '0', '--ui-port', '0']);
  const url = await run.logged(/dashboard at (http:\/\/127\.0\.0\.1:\d+)\//, 'the dashboard URL in the log');

  const page = await fetch(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(await page.text(), /<script type="module" src="\/ui\/app\.js">/);
  assert.equal((await fetch(`${url}/ui/app.js`)).status, 200);

  const list = await call(url, 'GET', '/v1/jobs');
  assert.equal(list.status, 200);
  assert.deepEqual(list.body['jobs'].map((j: { name: string }) => j.name), ['svc-ticker']);
  await waitFor(async () => (await call(url, 'GET', '/v1/jobs/svc-ticker')).body['job'].operators[0]?.recordsIn > 0, { timeoutMs: 30_000, message: 'records read' });

  const savepoint = await call(url, 'POST', '/v1/jobs/svc-ticker/savepoints');
  assert.equal(savepoint.status, 201, JSON.stringify(savepoint.body));
  assert.equal(savepoint.body['savepoint'].kind, 'savepoint');

  const rescale = await call(url, 'POST', '/v1/jobs/svc-ticker/rescale', { parallelism: 3 });
  assert.equal(rescale.status, 200, JSON.stringify(rescale.body));
  assert.deepEqual([rescale.body['rescale'].from, rescale.body['rescale'].to], [2, 3]);
  assert.equal((await call(url, 'GET', '/v1/jobs/svc-ticker')).body['job'].parallelism, 3);

  // Keyed state, read from the run's own checkpoints (the savepoint above is one).
  const operators = await call(url, 'GET', '/v1/jobs/svc-ticker/state');
  assert.equal(operators.status, 200, JSON.stringify(operators.body));
  assert.deepEqual(operators.body['operators'].map((op: { uid: string }) => op.uid), ['counts']);
  const entries = await call(url, 'GET', '/v1/jobs/svc-ticker/state?operator=counts&limit=3');
  assert.equal(entries.status, 200, JSON.stringify(entries.body));
  assert.ok(entries.body['entries'].length > 0 && entries.body['entries'].length <= 3);
  assert.equal(entries.body['entries'][0].state, 'reduce');

  const badRescale = await call(url, 'POST', '/v1/jobs/svc-ticker/rescale', { parallelism: 0 });
  assert.equal(badRescale.status, 400);
  const pause = await call(url, 'POST', '/v1/jobs/svc-ticker/pause');
  assert.equal(pause.status, 409);
  assert.match(pause.body['error'].message, /needs a service .*sluice start, then sluice submit/);
  assert.equal((await call(url, 'GET', '/v1/jobs/other')).status, 404);

  if (needsChromium() === false) {
    const { page: browser, errors } = await browserPage(t);
    await browser.goto(`${url}/`);
    await browser.waitForSelector('#jobs tr[data-job="svc-ticker"] .badge.running', { timeout: 60_000 });
    assert.deepEqual(errors, []);
  } else {
    t.diagnostic(`the page was not opened in a browser: ${needsChromium()}`);
  }

  assert.equal(await run.interrupt(), 0, run.stderr());
});

test('bad dashboard flags: a clear usage error (exit 2), and a reachable host needs a token', async () => {
  const notAPort = await sluice(['run', join(FIXTURES, 'ticker-job.ts'), '--ui-port', '99999']);
  assert.equal(notAPort.code, 2, show(notAPort));
  assert.match(notAPort.stderr, /--ui-port expects a port from 0 to 65535, got "99999"/);
  const hostAlone = await sluice(['run', join(FIXTURES, 'ticker-job.ts'), '--ui-host', '0.0.0.0']);
  assert.equal(hostAlone.code, 2, show(hostAlone));
  assert.match(hostAlone.stderr, /--ui-host needs --ui-port/);
  const open = await sluice(['run', join(FIXTURES, 'ticker-job.ts'), '--set', 'output=/tmp/unused', '--ui-port', '0', '--ui-host', '0.0.0.0'], { SLUICE_TOKEN: '' });
  assert.notEqual(open.code, 0, show(open));
  assert.match(open.stderr, /refusing to serve the dashboard on 0\.0\.0\.0 without a token.*Set SLUICE_TOKEN/);
});
