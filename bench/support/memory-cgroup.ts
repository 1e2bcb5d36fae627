/**
 * A memory cgroup for one bench child process, so that a variant can be run the way a container runs it: with a hard
 * limit on everything the kernel charges to it (anonymous memory, and the page cache of the files it reads and
 * writes, which the kernel reclaims before it kills). Linux only, and only where this process may create cgroups
 * (root, or a delegated subtree); cgroup v1 (`memory.limit_in_bytes`) and v2 (`memory.max`) both work.
 *
 * Why a bench needs it: LevelDB memory-maps its table files, so an unconstrained process shows them in RSS as file
 * pages the kernel would take back under pressure. Under a limit, what the process needs and what it costs in
 * throughput are what is measured.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ownCgroup, type OwnCgroup } from './own-cgroup.ts';

export interface MemoryCgroup {
  /** The cgroup's folder. */
  readonly path: string;
  /**
   * The command that runs `command` with `args` inside the cgroup from its first instruction: a shell that moves
   * itself in, then execs the command (so everything the command allocates is charged to the cgroup).
   */
  wrap(command: string, args: readonly string[]): [string, string[]];
  /** Peak memory charged to the cgroup, in bytes (v1 `memory.max_usage_in_bytes`, v2 `memory.peak` where the kernel has it). */
  peakBytes(): number | undefined;
  /** How many times the kernel killed a process of the cgroup for lack of memory. */
  oomKills(): number;
  /** Removes the cgroup (it must be empty: its processes have exited). */
  remove(): void;
}

/**
 * Creates a memory cgroup limited to `limitBytes` under this process's own memory cgroup, or returns an explanation
 * of why it cannot (not Linux, no cgroup file system, no permission).
 */
export function createMemoryCgroup(name: string, limitBytes: number): MemoryCgroup | string {
  let own: OwnCgroup | undefined;
  try {
    own = ownCgroup(readFileSync('/proc/self/cgroup', 'utf8'), 'memory');
  } catch (err) {
    return `no /proc/self/cgroup (${(err as Error).message})`;
  }
  if (own === undefined) return 'this process is in no memory cgroup';
  const parent = own.version === 1 ? join('/sys/fs/cgroup/memory', own.path) : join('/sys/fs/cgroup', own.path);
  const path = join(parent, `${name}-${process.pid}`);
  try {
    mkdirSync(path);
    writeFileSync(join(path, own.version === 1 ? 'memory.limit_in_bytes' : 'memory.max'), String(limitBytes));
    if (own.version === 2 && existsSync(join(path, 'memory.swap.max'))) writeFileSync(join(path, 'memory.swap.max'), '0');
  } catch (err) {
    try {
      if (existsSync(path)) rmdirSync(path);
    } catch {
      // left behind: an empty cgroup, harmless
    }
    return `cannot create a memory cgroup under ${parent} (${(err as Error).message}); run as root or in a delegated cgroup`;
  }
  const read = (file: string): string | undefined => {
    try {
      return readFileSync(join(path, file), 'utf8');
    } catch {
      return undefined;
    }
  };
  return {
    path,
    wrap: (command, args) => ['/bin/sh', ['-c', 'echo $$ > "$0" && exec "$@"', join(path, 'cgroup.procs'), command, ...args]],
    peakBytes: () => {
      const text = own.version === 1 ? read('memory.max_usage_in_bytes') : read('memory.peak');
      return text === undefined ? undefined : Number(text.trim());
    },
    oomKills: () => {
      const text = own.version === 1 ? read('memory.oom_control') : read('memory.events');
      return Number(/oom_kill (\d+)/.exec(text ?? '')?.[1] ?? 0);
    },
    remove: () => rmdirSync(path),
  };
}
