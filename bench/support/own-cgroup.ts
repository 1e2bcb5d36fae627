import { existsSync } from 'node:fs';

/** Where this process sits for one cgroup controller: v1's `controllers` name its mount under /sys/fs/cgroup. */
export interface OwnCgroup {
  readonly version: 1 | 2;
  /** The cgroup's path inside its hierarchy. */
  readonly path: string;
  /** v1: the controllers the hierarchy is mounted with (`memory`, `cpu,cpuacct`); v2: ''. */
  readonly controllers: string;
}

/**
 * This process's cgroup for `controller` from the text of `/proc/self/cgroup`: the v1 line of that controller, else
 * the v2 line where the unified hierarchy is mounted.
 */
export function ownCgroup(text: string, controller: 'memory' | 'cpu'): OwnCgroup | undefined {
  let v2: string | undefined;
  for (const line of text.split('\n')) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (path === undefined) continue;
    if (controllers!.split(',').includes(controller)) return { version: 1, path, controllers: controllers! };
    if (controllers === '') v2 = path;
  }
  return v2 === undefined || !existsSync('/sys/fs/cgroup/cgroup.controllers') ? undefined : { version: 2, path: v2, controllers: '' };
}
