/**
 * The default worker count follows the cores a process may use, a container's CPU limit included: cgroup files laid
 * out as the kernel shows them (v2's unified hierarchy, v1's cpu controller), in a temporary folder.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { cgroupCpuLimit, usableCores } from '../../../runtime/workers/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

/** Writes `files` (path under the cgroup root → content) and returns the root. */
async function cgroupTree(t: TestContext, files: Record<string, string>): Promise<string> {
  const root = await tempDir(t, 'sluice-cgroup-');
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

const V2_ROOT_MEMBER = '0::/\n';

test('cgroup v2: a CPU limit of 2.5 on 32 cores gives 2 usable cores; "max" leaves the affinity', async (t) => {
  const limited = await cgroupTree(t, { 'cpu.max': '250000 100000\n' });
  assert.equal(cgroupCpuLimit({ procSelfCgroup: V2_ROOT_MEMBER, cgroupRoot: limited }), 2.5);
  assert.equal(usableCores({ affinity: 32, procSelfCgroup: V2_ROOT_MEMBER, cgroupRoot: limited }), 2);

  const unlimited = await cgroupTree(t, { 'cpu.max': 'max 100000\n' });
  assert.equal(cgroupCpuLimit({ procSelfCgroup: V2_ROOT_MEMBER, cgroupRoot: unlimited }), undefined);
  assert.equal(usableCores({ affinity: 32, procSelfCgroup: V2_ROOT_MEMBER, cgroupRoot: unlimited }), 32);
});

test('a limit below one CPU still gives one core, and a limit above the affinity leaves the affinity', async (t) => {
  const small = await cgroupTree(t, { 'cpu.max': '50000 100000' });
  assert.equal(usableCores({ affinity: 8, procSelfCgroup: V2_ROOT_MEMBER, cgroupRoot: small }), 1);
  const large = await cgroupTree(t, { 'cpu.max': '1600000 100000' });
  assert.equal(usableCores({ affinity: 4, procSelfCgroup: V2_ROOT_MEMBER, cgroupRoot: large }), 4);
});

test("cgroup v2: the smallest limit on the way up wins (a pod's limit above its container's)", async (t) => {
  const membership = '0::/kubepods/pod-a/container-1\n';
  const root = await cgroupTree(t, {
    'kubepods/cpu.max': 'max 100000',
    'kubepods/pod-a/cpu.max': '300000 100000',
    'kubepods/pod-a/container-1/cpu.max': 'max 100000',
  });
  assert.equal(usableCores({ affinity: 16, procSelfCgroup: membership, cgroupRoot: root }), 3);

  const tighterBelow = await cgroupTree(t, { 'kubepods/pod-a/cpu.max': '400000 100000', 'kubepods/pod-a/container-1/cpu.max': '200000 100000' });
  assert.equal(usableCores({ affinity: 16, procSelfCgroup: membership, cgroupRoot: tighterBelow }), 2);
});

test("cgroup v2 without a cgroup namespace: the host's path is absent, the mount's root (the container's cgroup) counts", async (t) => {
  const root = await cgroupTree(t, { 'cpu.max': '100000 100000' });
  assert.equal(usableCores({ affinity: 8, procSelfCgroup: '0::/docker/4f1c2e\n', cgroupRoot: root }), 1);
});

test('cgroup v1: the cpu controller under any of its mount names; a quota of -1 is no limit', async (t) => {
  const membership = '12:memory:/\n4:cpu,cpuacct:/\n1:name=systemd:/\n';
  const limited = await cgroupTree(t, { 'cpu,cpuacct/cpu.cfs_quota_us': '150000\n', 'cpu,cpuacct/cpu.cfs_period_us': '100000\n' });
  assert.equal(cgroupCpuLimit({ procSelfCgroup: membership, cgroupRoot: limited }), 1.5);
  assert.equal(usableCores({ affinity: 8, procSelfCgroup: membership, cgroupRoot: limited }), 1);

  const viaCpuLink = await cgroupTree(t, { 'cpu/cpu.cfs_quota_us': '400000', 'cpu/cpu.cfs_period_us': '100000' });
  assert.equal(usableCores({ affinity: 8, procSelfCgroup: membership, cgroupRoot: viaCpuLink }), 4);

  const unlimited = await cgroupTree(t, { 'cpu,cpuacct/cpu.cfs_quota_us': '-1', 'cpu,cpuacct/cpu.cfs_period_us': '100000' });
  assert.equal(usableCores({ affinity: 8, procSelfCgroup: membership, cgroupRoot: unlimited }), 8);
});

test('no cgroup file, malformed files or no /proc/self/cgroup at all (not Linux): the affinity, no error', async (t) => {
  const empty = await cgroupTree(t, {});
  assert.equal(usableCores({ affinity: 6, procSelfCgroup: V2_ROOT_MEMBER, cgroupRoot: empty }), 6);
  const malformed = await cgroupTree(t, { 'cpu.max': 'two cpus please' });
  assert.equal(usableCores({ affinity: 6, procSelfCgroup: V2_ROOT_MEMBER, cgroupRoot: malformed }), 6);
  const zeroPeriod = await cgroupTree(t, { 'cpu.max': '100000 0' });
  assert.equal(usableCores({ affinity: 6, procSelfCgroup: V2_ROOT_MEMBER, cgroupRoot: zeroPeriod }), 6);
  assert.equal(usableCores({ affinity: 6, procSelfCgroup: 'not a cgroup listing', cgroupRoot: empty }), 6);
  assert.equal(usableCores({ affinity: 6, procSelfCgroup: undefined, cgroupRoot: empty }), 6);
});

test('this process: at least one core and no more than its affinity', () => {
  const cores = usableCores();
  assert.ok(Number.isInteger(cores) && cores >= 1, String(cores));
  assert.ok(cores <= usableCores({ procSelfCgroup: undefined }), String(cores));
});
