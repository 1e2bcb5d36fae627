import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, posix } from 'node:path';

/** Where to read a process's CPU limits; defaults are the running process's own. Tests point them at fixtures. */
export interface CpuLimitSources {
  /** The process's cores by its CPU affinity; default `os.availableParallelism()`. */
  readonly affinity?: number;
  /** The text of `/proc/self/cgroup`, or `undefined` where there is none (not Linux). Default: read it. */
  readonly procSelfCgroup?: string | undefined;
  /** The cgroup file system's mount point; default `/sys/fs/cgroup`. */
  readonly cgroupRoot?: string;
}

/**
 * The cores this process may use: its CPU affinity (`os.availableParallelism()`), lowered to a cgroup CPU limit
 * (a container's `--cpus`, a Kubernetes CPU limit) rounded down, and at least 1.
 *
 * Why not `os.availableParallelism()` alone: on Node 20 (libuv 1.46) it counts the CPUs the process may be scheduled
 * on, not the CPU time its cgroup may take, so a container limited to 2 CPUs on a 32-core host reads 32 — and a
 * job at parallelism 8 would start 8 worker threads that the kernel then throttles to 2 CPUs' worth. libuv 1.49 and
 * later (newer Node versions) read the quota too and round it down the same way, so a job places its workers alike
 * on every Node version.
 *
 * Both cgroup versions are read: v2's `cpu.max` and v1's `cpu.cfs_quota_us` / `cpu.cfs_period_us`, in the
 * process's own cgroup and each parent up to the mount's root (the smallest limit wins: a pod's limit sits one level
 * above its container's). Unreadable or malformed files count as no limit: the affinity is the answer then.
 *
 * @example
 * ```ts
 * usableCores(); // 2 in a container started with --cpus=2.5 on a 32-core host
 * ```
 */
export function usableCores(sources: CpuLimitSources = {}): number {
  const affinity = sources.affinity ?? availableParallelism();
  const limit = cgroupCpuLimit(sources);
  return limit === undefined ? affinity : Math.max(1, Math.min(affinity, Math.floor(limit)));
}

/** The process's cgroup CPU limit in CPUs (fractional), or `undefined` when it has none or it cannot be read. */
export function cgroupCpuLimit(sources: CpuLimitSources = {}): number | undefined {
  const membership = 'procSelfCgroup' in sources ? sources.procSelfCgroup : readText('/proc/self/cgroup');
  if (membership === undefined) return undefined;
  const root = sources.cgroupRoot ?? '/sys/fs/cgroup';
  let unified: string | undefined;
  for (const line of membership.split('\n')) {
    // "hierarchy-id:controllers:path"; the path may itself contain ':'.
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (controllers.split(',').includes('cpu')) return v1Limit(root, controllers, path);
    if (line.slice(0, first) === '0' && controllers === '') unified = path;
  }
  return unified === undefined ? undefined : v2Limit(root, unified);
}

/** cgroup v2: `cpu.max` is "<quota> <period>" or "max <period>". */
function v2Limit(root: string, path: string): number | undefined {
  return smallestUpTheTree(root, path, (dir) => {
    const [quota, period] = (readText(join(dir, 'cpu.max')) ?? '').trim().split(/\s+/);
    return ratio(quota, period);
  });
}

/** cgroup v1: the cpu controller is mounted as `cpu`, `cpu,cpuacct` or `cpuacct,cpu`; a quota of -1 is no limit. */
function v1Limit(root: string, controllers: string, path: string): number | undefined {
  for (const mount of new Set([controllers, 'cpu', 'cpu,cpuacct', 'cpuacct,cpu'])) {
    const limit = smallestUpTheTree(join(root, mount), path, (dir) => ratio(readText(join(dir, 'cpu.cfs_quota_us'))?.trim(), readText(join(dir, 'cpu.cfs_period_us'))?.trim()));
    if (limit !== undefined) return limit;
  }
  return undefined;
}

/**
 * The smallest limit in `path` and its parents under `root`. Inside a container without its own cgroup namespace
 * the path names the host's hierarchy while the mount holds only the container's cgroup: those directories do not
 * exist, and the walk reaches the mount's root, which is the container's cgroup.
 */
function smallestUpTheTree(root: string, path: string, limitIn: (dir: string) => number | undefined): number | undefined {
  let smallest: number | undefined;
  for (let dir = posix.normalize(`/${path}`); ; dir = posix.dirname(dir)) {
    const limit = limitIn(join(root, dir));
    if (limit !== undefined && (smallest === undefined || limit < smallest)) smallest = limit;
    if (dir === '/') return smallest;
  }
}

function ratio(quota: string | undefined, period: string | undefined): number | undefined {
  if (quota === undefined || period === undefined || !/^\d+$/.test(quota) || !/^\d+$/.test(period)) return undefined; // "max", "-1", malformed
  const q = Number(quota);
  const p = Number(period);
  return q > 0 && p > 0 ? q / p : undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
