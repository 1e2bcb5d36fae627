/**
 * The web dashboard in a real browser (headless Chromium through puppeteer-core): a service with a token runs a
 * Kafka job fed without pause. Without the token the page shows nothing and its controls are refused; with it, the
 * job list and the job page show the job with moving rates, its graph, per-partition lag and checkpoints, state
 * looked up in the newest checkpoint (a user's count, the sink's operator state), and a rescale clicked on the page
 * changes the job's parallelism.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'puppeteer-core';
import { silentLogger } from '../../runtime/logging/index.ts';
import { startService } from '../../runtime/service/index.ts';
import { kafkaCluster } from '../support/kafka-cluster.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait-for.ts';
import { browserPage, needsChromium } from './chromium.ts';
import { startClickStream } from './click-stream.ts';

const JOB_FILE = fileURLToPath(new URL('./fixtures/kafka-count-job.ts', import.meta.url));
const JOB = 'dashboard-clicks';
const TOKEN = 'dashboard-test-token';
/** Generous: the page polls once a second, and CI machines are loaded. */
const PATIENCE_MS = 60_000;

/** The job as the API (not the page) sees it. */
async function apiStatus(url: string): Promise<{ parallelism: number; state: string }> {
  const response = await fetch(`${url}/v1/jobs/${JOB}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(response.status, 200);
  return ((await response.json()) as { job: { parallelism: number; state: string } }).job;
}

/** The text of the first element matching `selector`, or undefined. */
const textOf = (page: Page, selector: string): Promise<string | undefined> => page.$eval(selector, (el) => el.textContent ?? '').catch(() => undefined);
const count = (text: string | undefined): number => Number((text ?? '').replace(/[^\d]/g, '') || Number.NaN);

test('the dashboard shows a running job live, refuses its controls without the token, and rescales it from the page', { skip: needsChromium(), timeout: 240_000 }, async (t) => {
  const cluster = await kafkaCluster(t);
  // After the cluster: t.after hooks run in order, so the directory goes once the cluster's cleanups closed the
  // service that writes into it.
  const dir = await tempDir(t, 'sluice-dashboard-');
  const topic = await cluster.createTopic({ partitions: 3 });
  const producer = await cluster.producer();
  const stream = startClickStream(producer, topic);
  cluster.defer(() => stream.stop());
  const service = await startService({ dataDir: join(dir, 'data'), port: 0, token: TOKEN, workers: 0, logger: silentLogger() });
  cluster.defer(() => service.close());
  const submitted = await fetch(`${service.url}/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ file: JOB_FILE, params: { brokers: cluster.brokers.join(','), topic, group: cluster.uniqueName('dashboard'), output: join(dir, 'out') } }),
  });
  assert.equal(submitted.status, 201, await submitted.text());
  const { page, errors } = await browserPage(t, (cleanup) => cluster.defer(cleanup));
  page.setDefaultTimeout(PATIENCE_MS);

  // Without the token: the page loads (it holds no data) but shows no job, and says why.
  const home = await page.goto(`${service.url}/`);
  assert.equal(home?.status(), 200);
  assert.match(home?.headers()['content-security-policy'] ?? '', /default-src 'none'; script-src 'self'/);
  await page.waitForSelector('#auth-needed:not([hidden])');
  assert.equal(await page.$(`#jobs tr[data-job="${JOB}"]`), null);

  // A control clicked without the token is refused, and the job keeps its parallelism.
  await page.goto(`${service.url}/#/jobs/${JOB}`);
  await page.type('#rescale-to', '3');
  await page.click('#rescale');
  await page.waitForFunction(`/^Refused/.test(document.querySelector('#message')?.textContent ?? '')`);
  assert.equal((await apiStatus(service.url)).parallelism, 2);

  // With the token: the job list shows the job running.
  await page.goto(`${service.url}/`);
  await page.type('#token', TOKEN);
  await page.click('#token-save');
  await page.waitForSelector(`#jobs tr[data-job="${JOB}"] .badge.running`);
  assert.equal(await page.$eval('#auth', (el) => el.hasAttribute('hidden')), true);

  // The job page: a graph of two stages whose record counts move, lag per partition, checkpoints.
  await page.click(`#jobs tr[data-job="${JOB}"] a`);
  await page.waitForSelector('#graph .stage[data-stage="1"]');
  assert.deepEqual(await page.$$eval('#graph .stage .ops', (els) => els.map((el) => el.textContent)), ['0: clicks → parse', '1: clicks-per-user → files']);
  const first = await waitFor(async () => count(await textOf(page, '#graph .stage[data-stage="0"] [data-field="records-in"]')) || undefined, { timeoutMs: PATIENCE_MS, message: 'records counted on the page' });
  await waitFor(async () => count(await textOf(page, '#graph .stage[data-stage="0"] [data-field="records-in"]')) > first, { timeoutMs: PATIENCE_MS, message: 'the record count to move on the page' });
  await waitFor(async () => count(await textOf(page, '#graph .stage[data-stage="0"] [data-field="in-rate"]')) > 0, { timeoutMs: PATIENCE_MS, message: 'a rate above 0 on the page' });
  assert.match((await textOf(page, '#graph .stage[data-stage="1"] [data-field="backpressure"]')) ?? '', /^(OK|LOW|HIGH) \d+ %$/);
  // The keyed count's stage shows how many users it holds state for; the source stage has no keyed state.
  await waitFor(async () => count(await textOf(page, '#graph .stage[data-stage="1"] [data-field="state-keys"]')) > 0, { timeoutMs: PATIENCE_MS, message: 'keys with state on the page' });
  assert.equal(await page.$('#graph .stage[data-stage="0"] [data-field="state-keys"]'), null);
  await page.waitForFunction(`document.querySelectorAll('#lag tbody tr').length === 3 && document.querySelectorAll('#lag-chart polyline').length === 3`);
  await page.waitForSelector('#checkpoints tbody tr .badge.completed');

  // Keyed state: the counting operator is listed once a checkpoint exists, and a user's count is looked up in it.
  await page.waitForSelector('#state-operator option[value="clicks-per-user"]');
  await page.type('#state-key', 'user-3');
  await page.click('#state-lookup');
  await page.waitForFunction(`[...document.querySelectorAll('#state-entries tbody td')].some((td) => td.textContent === '"user-3"')`);
  assert.match((await textOf(page, '#state-entries tbody tr td:nth-child(4)')) ?? '', /^\{"user":"user-3","clicks":[1-9]\d*\}$/);
  assert.match((await textOf(page, '#state-note')) ?? '', /^Checkpoint \d+, /);
  // Operator state: the file sink's, what each of its two subtasks stored; the key field has nothing to select then.
  await page.select('#state-operator', 'operator-state:files');
  assert.equal(await page.$eval('#state-key', (el) => (el as unknown as { disabled: boolean }).disabled), true);
  await page.click('#state-lookup');
  await page.waitForFunction(`!document.querySelector('#operator-state-entries').hidden && document.querySelectorAll('#operator-state-entries tbody tr td:first-child').length === 2`);
  assert.deepEqual(await page.$$eval('#operator-state-entries tbody tr td:first-child', (tds) => tds.map((td) => td.textContent)), ['0', '1']);
  assert.equal(await page.$eval('#state-entries', (el) => (el as unknown as { hidden: boolean }).hidden), true);

  // Rescale from the page: the API then reports the new parallelism, and so does the page.
  await page.click('#rescale-to', { count: 3 });
  await page.type('#rescale-to', '3');
  await page.click('#rescale');
  await page.waitForFunction(`/^Rescaled from 2 to 3/.test(document.querySelector('#message')?.textContent ?? '')`, { timeout: 120_000 });
  assert.equal((await apiStatus(service.url)).parallelism, 3);
  await page.waitForFunction(`document.querySelector('#graph .stage[data-stage="1"] [data-field="parallelism"]')?.textContent === '3'`);
  await page.waitForFunction(`document.querySelectorAll('#rescales tbody tr').length === 1 && !document.querySelector('#rescales .empty')`);
  assert.deepEqual(errors, []);
});
