/**
 * What keeps this process alive: the sockets, servers, child processes and timers a test file left open, described
 * so a reader can find who opened them (`tcp socket 127.0.0.1:41022 → 127.0.0.1:9092`, `setInterval(poll, 100 ms)`).
 *
 * `leak-guard.ts` (preloaded by `npm test`) uses this after a file's last test; `trackTimers()` must run before the
 * code under test so timers can be named by their callback. Nothing here has side effects on import.
 *
 * @example
 * trackTimers()
 * // ... run things ...
 * const open = openHandles()
 * if (open.length > 0) throw new Error(open.map((h) => h.description).join('\n'))
 */
import { ChildProcess } from 'node:child_process'
import { Server, Socket } from 'node:net'

export interface OpenHandle {
  readonly kind: 'socket' | 'server' | 'child process' | 'timer' | 'other'
  readonly description: string
  /** Closes, destroys or unrefs the handle so it no longer holds the event loop; undefined when we cannot. */
  readonly release: (() => void) | undefined
}

/**
 * How long a test file's sockets and timers may take to close after its cleanup before they count as leaked
 * (`SLUICE_LEAK_GRACE_MS`, default 3 s): a bound for polling, not an expected duration.
 */
export const leakGraceMs = Number(process.env.SLUICE_LEAK_GRACE_MS ?? 3_000)

interface TrackedTimer {
  readonly timer: NodeJS.Timeout
  readonly kind: 'setTimeout' | 'setInterval'
  readonly delayMs: number
  readonly callback: string
  readonly stack: string | undefined
}

/**
 * `SLUICE_LEAK_STACKS=1` records where each timer and client socket was made, and prints it with a leak. Off by
 * default: a stack per timer costs microseconds that kafkajs (one timer per request) would pay constantly.
 */
const withStacks = process.env.SLUICE_LEAK_STACKS === '1'
const socketStacks = new WeakMap<Socket, string>()

function callerStack(): string | undefined {
  const stack = new Error().stack
  if (stack === undefined) return undefined
  const frames = stack.split('\n').slice(3, 11).map((l) => `      ${l.trim()}`)
  return frames.join('\n')
}

const timers = new Set<TrackedTimer>()
let tracking = false
let sinceSweep = 0

/** Timers that neither fired, were cleared nor were unref'd: they hold the event loop. */
function liveTimers(): TrackedTimer[] {
  return [...timers].filter((t) => isLive(t.timer))
}

function isLive(timer: NodeJS.Timeout): boolean {
  // `_destroyed` is set once a timeout fired or any timer was cleared; Node has no public accessor for it.
  return (timer as unknown as { _destroyed?: boolean })._destroyed !== true && timer.hasRef()
}

/**
 * Wraps the global `setTimeout`/`setInterval` to remember each timer with its delay and callback name. Timers made
 * through `node:timers` or `timers/promises` are not seen by name, only counted.
 */
export function trackTimers(): void {
  if (tracking) return
  tracking = true
  const wrap = <F extends typeof setTimeout | typeof setInterval>(original: F, kind: TrackedTimer['kind']): F => {
    const wrapped = function (this: unknown, callback: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) {
      const timer = (original as (...a: unknown[]) => NodeJS.Timeout).call(this, callback, delay, ...args)
      // Swept every 1,000 timers so the set stays as small as the number of live ones: kafkajs makes one per request.
      if (++sinceSweep >= 1_000) {
        sinceSweep = 0
        for (const t of timers) if (!isLive(t.timer)) timers.delete(t)
      }
      timers.add({
        timer,
        kind,
        delayMs: Number(delay ?? 0),
        callback: callback?.name || 'anonymous',
        stack: withStacks ? callerStack() : undefined,
      })
      return timer
    }
    // setTimeout[util.promisify.custom] and friends must survive, or util.promisify(setTimeout) changes meaning.
    Object.defineProperties(wrapped, Object.getOwnPropertyDescriptors(original))
    return wrapped as unknown as F
  }
  globalThis.setTimeout = wrap(globalThis.setTimeout, 'setTimeout')
  globalThis.setInterval = wrap(globalThis.setInterval, 'setInterval')
  if (withStacks) {
    const connect = Socket.prototype.connect
    Socket.prototype.connect = function (this: Socket, ...args: unknown[]) {
      const stack = callerStack()
      if (stack !== undefined) socketStacks.set(this, stack)
      return (connect as (...a: unknown[]) => Socket).apply(this, args)
    } as typeof connect
  }
}

/** Handles of this process's own stdio: the test runner reads the child's stdout, they are never a leak. */
function isStdio(handle: unknown): boolean {
  if (handle === process.stdin || handle === process.stdout || handle === process.stderr) return true
  const fd = (handle as { _handle?: { fd?: number } })._handle?.fd
  return typeof fd === 'number' && fd >= 0 && fd <= 2
}

function describeSocket(socket: Socket): string {
  const local = `${socket.localAddress ?? '?'}:${socket.localPort ?? '?'}`
  if (socket.remoteAddress === undefined || socket.remotePort === undefined) {
    return `socket ${local} (not connected${socket.connecting ? ', connecting' : ''})`
  }
  const stack = socketStacks.get(socket)
  return `tcp socket ${local} → ${socket.remoteAddress}:${socket.remotePort}${stack === undefined ? '' : `, connected at\n${stack}`}`
}

function describeServer(server: Server): string {
  const address = server.address()
  const where = address === null ? 'not listening' : typeof address === 'string' ? address : `${address.address}:${address.port}`
  return `server listening on ${where}`
}

/**
 * Everything that currently holds the event loop, except stdio and `except` (the caller's own timer). Counted
 * from `process.getActiveResourcesInfo()`, so kinds we cannot describe still show (e.g. `2× FSReqCallback`).
 */
export function openHandles(except: ReadonlySet<NodeJS.Timeout> = new Set()): OpenHandle[] {
  const resources = new Map<string, number>()
  for (const type of process.getActiveResourcesInfo()) resources.set(type, (resources.get(type) ?? 0) + 1)
  const account = (type: string): void => {
    resources.set(type, (resources.get(type) ?? 0) - 1)
  }
  const out: OpenHandle[] = []

  // process._getActiveHandles() is undocumented but the only way to reach the handle objects; it lists ref'd
  // sockets, servers and child processes (not timers) in Node 20.
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles()
  for (const handle of handles) {
    if (isStdio(handle)) {
      const type = (handle as { _handle?: object })._handle?.constructor.name
      account(type === 'TTY' ? 'TTYWrap' : type === 'Pipe' ? 'PipeWrap' : `${type}Wrap`)
      continue
    }
    if (handle instanceof Socket) {
      account('TCPSocketWrap')
      out.push({ kind: 'socket', description: describeSocket(handle), release: () => handle.destroy() })
    } else if (handle instanceof Server) {
      account('TCPServerWrap')
      out.push({
        kind: 'server',
        description: describeServer(handle),
        release: () => {
          handle.close()
          handle.unref()
        },
      })
    } else if (handle instanceof ChildProcess) {
      account('ProcessWrap')
      out.push({
        kind: 'child process',
        description: `child process ${handle.pid ?? '?'} (${handle.spawnfile} ${handle.spawnargs.slice(1).join(' ')})`.slice(0, 300),
        release: () => handle.unref(),
      })
    }
  }

  for (const t of liveTimers()) {
    if (except.has(t.timer)) {
      account('Timeout')
      continue
    }
    account('Timeout')
    out.push({
      kind: 'timer',
      description: `${t.kind}(${t.callback}, ${t.delayMs} ms)${t.stack === undefined ? '' : `, made at\n${t.stack}`}`,
      release: () => clearTimeout(t.timer),
    })
  }

  for (const [type, count] of resources) {
    if (count <= 0) continue
    out.push({ kind: type === 'Timeout' ? 'timer' : 'other', description: `${count}× ${type}`, release: undefined })
  }
  return out
}
