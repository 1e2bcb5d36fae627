/**
 * A closed API: with a token every call needs it (missing and wrong ones are refused), a non-loopback bind without a
 * token is refused, and secrets in job params never reach status, --json output or the service's log.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../support/temp-dir.ts';
import { fixtureAs, ok, show, sluice, startService } from './service-process.ts';

const TOKEN = 'correct-horse-battery-staple';

test('token enforcement and secret redaction', async (t) => {
  const dir = await tempDir(t, 'sluice-svc-sec-');
  const service = await startService(t, ['--data-dir', join(dir, 'data'), '--token', TOKEN]);

  await t.test('HTTP: missing and wrong tokens get 401 with the error shape; the right one gets through', async () => {
    const missing = await fetch(`${service.url}/v1/jobs`);
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="sluice"');
    const body = (await missing.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'SLUICE_UNAUTHORIZED');
    const wrong = await fetch(`${service.url}/v1/jobs`, { headers: { authorization: 'Bearer correct-horse-battery-stapler' } });
    assert.equal(wrong.status, 401);
    assert.match(((await wrong.json()) as { error: { message: string } }).error.message, /does not match/);
    const right = await fetch(`${service.url}/v1/jobs`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(right.status, 200);
    assert.deepEqual(await right.json(), { jobs: [] });
  });

  await t.test('CLI: no token and a wrong token fail with exit 1 and say what to do; --token and SLUICE_TOKEN work', async () => {
    const none = await sluice(['list', '--url', service.url]);
    assert.equal(none.code, 1, show(none));
    assert.match(none.stderr, /requires a token: pass --token <token> or set SLUICE_TOKEN.*\[SLUICE_UNAUTHORIZED\]/);
    const wrong = await sluice(['list', '--url', service.url, '--token', 'guess']);
    assert.equal(wrong.code, 1, show(wrong));
    assert.match(wrong.stderr, /token does not match/);
    assert.match(await ok(['list', '--url', service.url, '--token', TOKEN]), /no jobs registered/);
    assert.match(await ok(['list'], { SLUICE_URL: service.url, SLUICE_TOKEN: TOKEN }), /no jobs registered/);
  });

  await t.test('secrets in params are redacted in status, list --json, submit --json and the log', async () => {
    const env = { SLUICE_URL: service.url, SLUICE_TOKEN: TOKEN };
    const job = await fixtureAs('ticker-job.ts', 'svc-ticker', 'svc-secret', dir);
    const secrets = ['hunter2', 'k3y-v4lue', 'sasl-s3cret'];
    const submitted = await ok(['submit', job, '--json', '--set', `output=${join(dir, 'out')}`, '--set', 'dbPassword=hunter2', '--set', 'es.api_key=k3y-v4lue', '--set', 'SASL_JAAS=sasl-s3cret'], env);
    const status = await ok(['status', 'svc-secret', '--json'], env);
    const table = await ok(['status', 'svc-secret'], env);
    const list = await ok(['list', '--json'], env);
    for (const text of [submitted, status, table, list, service.stderr()]) {
      for (const secret of secrets) assert.ok(!text.includes(secret), `"${secret}" leaked into: ${text.slice(0, 500)}`);
    }
    const params = (JSON.parse(status) as { job: { params: Record<string, string> } }).job.params;
    assert.deepEqual(params, { output: join(dir, 'out'), dbPassword: '***', 'es.api_key': '***', SASL_JAAS: '***' });
    await ok(['cancel', 'svc-secret'], env);
  });
});

test('sluice start refuses a non-loopback address without a token (exit 2)', async () => {
  const o = await sluice(['start', '--host', '0.0.0.0', '--port', '0', '--data-dir', '/nonexistent/never-created']);
  assert.equal(o.code, 2, show(o));
  assert.match(o.stderr, /refusing to listen on 0\.0\.0\.0 without a token.*--token/);
});

test('sluice start refuses a --heap-growth outside 0..400 (exit 2) before listening', async () => {
  const o = await sluice(['start', '--heap-growth=-1', '--port', '0', '--data-dir', '/nonexistent/never-created']);
  assert.equal(o.code, 2, show(o));
  assert.match(o.stderr, /--heap-growth expects a percent from 0 to 400 \(0 = V8's default\), got "-1"/);
  assert.match(o.stderr, /Usage: sluice start \[options\]/);
});
