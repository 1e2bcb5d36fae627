import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { accelerated, Packr, Unpackr } from '../../../runtime/serde/msgpackr.ts';

const root = new URL('../../../', import.meta.url);

// In a process of its own: whether the extractor is installed depends on every module the process ever imported, and
// this test runner's process imports what other test files in it import.
test('a Sluice process decodes state without msgpackr\'s native string extractor, and record batches with it when it loads (on first use)', () => {
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(new URL('runtime/cli/main.ts', root).href)});
    await import(${JSON.stringify(new URL('runtime/runner/index.ts', root).href)});
    await import(${JSON.stringify(new URL('runtime/workers/start-worker.ts', root).href)});
    const { accelerated, ACCELERATED_URL } = await import(${JSON.stringify(new URL('runtime/serde/msgpackr.ts', root).href)});
    const require = createRequire(${JSON.stringify(new URL('runtime/serde/msgpackr.ts', root).href)});
    const loadedAtStart = require.cache[new URL(ACCELERATED_URL).pathname] !== undefined;
    const pure = await import('msgpackr/pack');
    let extract = false;
    try { require('msgpackr-extract'); extract = true; } catch {}
    process.stdout.write(JSON.stringify({ pure: pure.isNativeAccelerationEnabled, accelerated: accelerated().isNativeAccelerationEnabled, extract, loadedAtStart }));
  `;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const seen = JSON.parse(run.stdout) as { pure: boolean; accelerated: boolean; extract: boolean; loadedAtStart: boolean };
  assert.equal(seen.loadedAtStart, false, 'the exchange\'s instance loads on first use, not with the CLI and the runner');
  assert.equal(seen.pure, false, 'state, checkpoints and manifests decode in plain JavaScript: some runtime module imports \'msgpackr\' instead of runtime/serde/msgpackr.ts');
  assert.equal(seen.accelerated, seen.extract, 'the exchange\'s instance uses the extractor exactly when msgpackr-extract loads');
});

test('the two instances write and read the same msgpack: records, Maps, binary and strings of every length', () => {
  const value = {
    short: 'k1',
    long: 'x'.repeat(70_000),
    unicode: 'grüße, 東京',
    map: new Map<unknown, unknown>([['a', 1], [2, { nested: ['b', null] }]]),
    bytes: Buffer.from([1, 2, 3]),
    list: Array.from({ length: 600 }, (_, i) => ({ key: `k${i}`, n: i })),
  };
  const options = { useRecords: true, mapsAsObjects: false, moreTypes: true };
  const fromPure = new Packr(options).pack(value);
  const fromAccelerated = new (accelerated().Packr)(options).pack(value);
  assert.deepEqual(new (accelerated().Unpackr)(options).unpack(fromPure), value);
  assert.deepEqual(new Unpackr(options).unpack(fromAccelerated), value);
});
