/**
 * A CPU-limited cgroup for one bench child process, as a container's `--cpus` makes one: a CFS quota of `cpus` CPUs'
 * time per period. Linux only, and only where this process may create cgroups (root, or a delegated subtree);
 * cgroup v1 (`cpu.cfs_quota_us`) and v2 (`cpu.max`) both work.
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ownCgroup, type OwnCgroup } from './own-cgroup.ts';

export interface CpuCgroup {
  /** The command that runs `command` with `args` inside the cgroup from its first instruction (a shell moves itself in, then execs). */
  wrap(command: string, args: readonly string[]): [string, string[]];
  /** Removes the cgroup (its processes must have exited). */
  remove(): void;
}

const PERIOD_US = 100_000;

/** Creates a cgroup limited to `cpus` CPUs under this process's own, or returns why it cannot. */
export function createCpuCgroup(name: string, cpus: number): CpuCgroup | string {
  let own: OwnCgroup | undefined;
  try {
    own = ownCgroup(readFileSync('/proc/self/cgroup', 'utf8'), 'cpu');
  } catch (err) {
    return `no /proc/self/cgroup (${(err as Error).message})`;
  }
  if (own === undefined) return 'this process is in no cpu cgroup';
  const parent = join('/sys/fs/cgroup', own.controllers, own.path);
  const path = join(parent, `${name}-${process.pid}`);
  const quota = String(Math.round(cpus * PERIOD_US));
  try {
    mkdirSync(path);
    if (own.version === 1) {
      writeFileSync(join(path, 'cpu.cfs_period_us'), String(PERIOD_US));
      writeFileSync(join(path, 'cpu.cfs_quota_us'), quota);
    } else {
      writeFileSync(join(path, 'cpu.max'), `${quota} ${PERIOD_US}`);
    }
  } catch (err) {
    try {
      rmdirSync(path);
    } catch {
      // left behind: an empty cgroup, harmless
    }
    return `cannot create a cpu cgroup under ${parent} (${(err as Error).message}); run as root or in a delegated cgroup`;
  }
  return {
    wrap: (command, args) => ['/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', join(path, own.version === 1 ? 'tasks' : 'cgroup.procs'), command, ...args]],
    remove: () => rmdirSync(path),
  };
}
