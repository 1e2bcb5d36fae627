import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClusterCheckpointTools } from '../../../runtime/cluster/checkpoints/checkpoint-tools.ts';
import type { ClusterCoordination } from '../../../runtime/cluster/cluster-coordination.ts';
import { clusterCheckpointRoutes } from '../../../runtime/cluster/cluster-checkpoint-routes.ts';
import type { ClusterJobSpec } from '../../../runtime/cluster/jobs/cluster-job-spec.ts';
import type { JobsLog } from '../../../runtime/cluster/jobs/jobs-log.ts';

// The import of `checkpoint restore` and `submit --from` goes to the topic before the spec that names it (the owner
// must find it when it sees the spec). When that spec write fails, nothing names the import: it must not stay behind.

const SPEC = { name: 'orders', desired: 'running', version: 4 } as unknown as ClusterJobSpec;
const IMPORT_KEYS = ['chunk!orders!import!5!0', 'import!orders!5'];

function fakeCoordination(): ClusterCoordination {
  return { requestRebalance: () => {}, view: () => undefined } as unknown as ClusterCoordination;
}

function setup(writeFails: boolean) {
  const tombstoned: string[][] = [];
  const written: ClusterJobSpec[] = [];
  const tools = {
    publishImport: async () => IMPORT_KEYS,
    tombstone: async (_job: string, keys: readonly string[]) => void tombstoned.push([...keys]),
  } as unknown as ClusterCheckpointTools;
  const jobsLog = {
    readAll: async () => new Map([[SPEC.name, SPEC]]),
    write: async (spec: ClusterJobSpec) => {
      if (writeFails) throw new Error('the jobs topic is unreachable');
      written.push(spec);
    },
  } as unknown as JobsLog;
  return { routes: clusterCheckpointRoutes({ cluster: 'prod', coordination: fakeCoordination(), jobsLog, tools }), tombstoned, written };
}

const restoreRequest = { method: 'POST', path: '/v1/jobs/orders/checkpoints/restore', query: new URLSearchParams(), body: { format: 'sluice-checkpoint-backup', version: 1, data: Buffer.from('export').toString('base64') } };

test('checkpoint restore: a spec write that fails tombstones the import it published, and the error reaches the caller', async () => {
  const { routes, tombstoned } = setup(true);
  await assert.rejects(routes.handle(restoreRequest, 'orders', 'checkpoints/restore'), /jobs topic is unreachable/);
  assert.deepEqual(tombstoned, [IMPORT_KEYS]);
});

test('checkpoint restore: a spec write that succeeds keeps the import for the owner', async () => {
  const { routes, tombstoned, written } = setup(false);
  const answer = await routes.handle(restoreRequest, 'orders', 'checkpoints/restore');
  assert.equal(answer?.status, 201);
  assert.deepEqual(tombstoned, []);
  assert.deepEqual(written.map((s) => s.override), [{ serial: 5, kind: 'import' }]);
});

test('submit --from: a spec write that fails tombstones the import; one that succeeds carries its override', async () => {
  const failing = setup(true);
  await assert.rejects(failing.routes.fromImport('orders', 'missing-export.json', 5, async () => Promise.reject(new Error('jobs topic down'))), /does not exist/);
  assert.deepEqual(failing.tombstoned, [], 'a missing file publishes nothing, so there is nothing to drop');

  // --from a checkpoint id of the job: its export comes from the topic (faked here).
  const withExport = setupWithExport();
  await assert.rejects(withExport.routes.fromImport('orders', '7', 5, async () => Promise.reject(new Error('jobs topic down'))), /jobs topic down/);
  assert.deepEqual(withExport.tombstoned, [IMPORT_KEYS]);
  const written: unknown[] = [];
  const ok = setupWithExport();
  assert.deepEqual(await ok.routes.fromImport('orders', '7', 5, async (override) => void written.push(override)), { serial: 5, kind: 'import' });
  assert.deepEqual(written, [{ serial: 5, kind: 'import' }]);
  assert.deepEqual(ok.tombstoned, []);
});

function setupWithExport() {
  const tombstoned: string[][] = [];
  const tools = {
    exportFile: async () => ({ file: '/nonexistent/export.bin', release: async () => {} }),
    publishImport: async () => IMPORT_KEYS,
    tombstone: async (_job: string, keys: readonly string[]) => void tombstoned.push([...keys]),
  } as unknown as ClusterCheckpointTools;
  const jobsLog = { readAll: async () => new Map([[SPEC.name, SPEC]]), write: async () => {} } as unknown as JobsLog;
  return { routes: clusterCheckpointRoutes({ cluster: 'prod', coordination: fakeCoordination(), jobsLog, tools }), tombstoned };
}
