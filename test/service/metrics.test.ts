/**
 * Prometheus metrics over HTTP (docs/observability.md): the service's `GET /metrics` with the API's token rules (and
 * `--metrics-auth none`), `sluice run --metrics-port`, and the flags' bad input.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { parsePrometheusText, sumOf } from '../support/prometheus-text.ts';
import { tempDir } from '../support/temp-dir.ts';
import { waitFor } from '../support/wait-for.ts';
import { FIXTURES, fixtureAs, ok, runInForeground, show, sluice, startService } from './service-process.ts';

const TOKEN = 'metrics-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

/** The records a job's ticks source read so far, as `/metrics` says. */
async function ticksRead(url: string, job: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(`${url}/metrics`, { headers });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return sumOf(parsePrometheusText(await response.text()), 'sluice_records_in_total', { job, operator: 'ticks' });
}

test('the service serves its jobs\' metrics at GET /metrics, with the token like the API', async (t) => {
  const dir = await tempDir(t, 'sluice-svc-metrics-');
  const service = await startService(t, ['--data-dir', join(dir, 'data'), '--token', TOKEN]);
  const env = { SLUICE_URL: service.url, SLUICE_TOKEN: TOKEN };
  await ok(['submit', await fixtureAs('ticker-job.ts', 'svc-ticker', 'svc-metrics', dir), '--set', `output=${join(dir, 'out')}`], env);

  const refused = await fetch(`${service.url}/metrics`);
  assert.equal(refused.status, 401);
  assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'SLUICE_UNAUTHORIZED');

  const first = await waitFor(async () => (await ticksRead(service.url, 'svc-metrics', auth)) || undefined, { timeoutMs: 30_000, message: 'ticks counted' });
  await waitFor(async () => (await ticksRead(service.url, 'svc-metrics', auth)) > first, { timeoutMs: 30_000, message: 'the count to grow' });
  const posted = await fetch(`${service.url}/metrics`, { method: 'POST', headers: auth });
  assert.equal(posted.status, 405);
  await ok(['cancel', 'svc-metrics'], env);
});

test('with --metrics-auth none, /metrics needs no token while the API still does', async (t) => {
  const dir = await tempDir(t, 'sluice-svc-metrics-open-');
  const service = await startService(t, ['--data-dir', join(dir, 'data'), '--token', TOKEN, '--metrics-auth', 'none']);
  const open = await fetch(`${service.url}/metrics`);
  assert.equal(open.status, 200);
  assert.match(await open.text(), /^# HELP sluice_/m);
  assert.equal((await fetch(`${service.url}/v1/jobs`)).status, 401);
});

test('sluice run --metrics-port serves GET /metrics alone while the job runs', async (t) => {
  const dir = await tempDir(t, 'sluice-run-metrics-');
  const run = runInForeground(t, [join(FIXTURES, 'ticker-job.ts'), '--set', `output=${join(dir, 'out')}`, '--data-dir', join(dir, 'data'), '--workers', '0', '--metrics-port', '0']);
  const url = await run.logged(/Prometheus metrics at (http:\/\/127\.0\.0\.1:\d+)\/metrics/, 'the metrics URL in the log');
  await waitFor(async () => (await ticksRead(url, 'svc-ticker')) > 0, { timeoutMs: 30_000, message: 'ticks counted' });
  const other = await fetch(`${url}/v1/jobs`);
  assert.equal(other.status, 404);
  assert.match(((await other.json()) as { error: { message: string } }).error.message, /serves GET \/metrics/);
  assert.equal(await run.interrupt(), 0, run.stderr());
});

test('bad metrics flags: a clear usage error (exit 2)', async () => {
  const notAPort = await sluice(['run', join(FIXTURES, 'ticker-job.ts'), '--metrics-port', 'nine']);
  assert.equal(notAPort.code, 2, show(notAPort));
  assert.match(notAPort.stderr, /--metrics-port expects a port from 0 to 65535, got "nine"/);
  const hostAlone = await sluice(['run', join(FIXTURES, 'ticker-job.ts'), '--metrics-host', '0.0.0.0']);
  assert.equal(hostAlone.code, 2, show(hostAlone));
  assert.match(hostAlone.stderr, /--metrics-host needs --metrics-port/);
  const auth = await sluice(['start', '--metrics-auth', 'open', '--data-dir', '/nonexistent/never-created']);
  assert.equal(auth.code, 2, show(auth));
  assert.match(auth.stderr, /--metrics-auth expects token or none, got "open"/);
});
