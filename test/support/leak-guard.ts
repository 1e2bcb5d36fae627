/**
 * Fails a test file that leaves sockets, servers, child processes or timers open after its last test, and lets
 * its process exit anyway.
 *
 * Why: a test that passes and then never exits hides a leak that a long-running `sluice start` pays for on every
 * attempt (a kafkajs connection per restart), and hangs `npm test`. Against the in-process devstack broker many such
 * leaks are invisible, because closing the broker closes the clients' sockets too; see also the broker check in
 * `kafka-cluster.ts`.
 *
 * Preloaded into every test process by `npm test` (`node --import tsx --import ./test/support/leak-guard.ts --test`).
 * It registers a root-level `after()` hook, which node:test runs in the test file's process once every top-level test
 * (and its `t.after` cleanups) has finished. The hook polls, for at most `SLUICE_LEAK_leakGraceMs` (default 3 s), until
 * nothing but stdio holds the event loop — sockets and timers often close a few ticks after the cleanup that closed
 * them resolved. What is still open then fails the file with one line per handle, and is destroyed, closed or unref'd
 * so the process can exit. If the process is still alive a few seconds later (e.g. a client reconnecting after its
 * socket was destroyed), it exits with code 1.
 *
 * node:test in Node 20 runs the root `after()` hook as soon as no test is running or queued, which can happen early
 * (a synchronous first test, or tests registered after a top-level `await`); the hook therefore waits while tests run
 * and restarts its grace period when one starts.
 */
import { after, afterEach, beforeEach } from 'node:test'
import { leakGraceMs, openHandles, trackTimers, type OpenHandle } from './open-handles.ts'

const POLL_MS = 20
/** After releasing what leaked, how long the process may take to exit on its own before it is made to. */
const EXIT_leakGraceMs = 5_000

// In the `--test` parent process this module is loaded too (--import applies to it), where it must do nothing: the
// parent's handles are the child processes it runs. node:test marks its children with NODE_TEST_CONTEXT.
const inTestParent = process.execArgv.includes('--test') && process.env.NODE_TEST_CONTEXT === undefined

if (!inTestParent) {
  trackTimers()

  const running = new Set<unknown>()
  let starts = 0
  beforeEach((t) => {
    starts++
    running.add(t)
  })
  afterEach((t) => {
    running.delete(t)
  })

  const ownTimers = new Set<NodeJS.Timeout>()
  const sleep = (ms: number): Promise<NodeJS.Timeout> =>
    new Promise((resolve) => {
      const timer: NodeJS.Timeout = setTimeout(() => resolve(timer), ms)
      ownTimers.add(timer)
    })

  const settle = async (): Promise<OpenHandle[]> => {
    for (;;) {
      while (running.size > 0) ownTimers.delete(await sleep(POLL_MS))
      const startsBefore = starts
      const deadline = Date.now() + leakGraceMs
      let open = openHandles(ownTimers)
      while (open.length > 0 && Date.now() < deadline && starts === startsBefore) {
        ownTimers.delete(await sleep(POLL_MS))
        open = openHandles(ownTimers)
      }
      if (starts === startsBefore && running.size === 0) return open
    }
  }

  after(async () => {
    const open = await settle()
    if (open.length === 0) return
    const lines = open.map((h) => `  ${h.kind}: ${h.description}`)
    const message =
      `${open.length} handle${open.length === 1 ? '' : 's'} still open ${leakGraceMs} ms after the last test of this file ` +
      `(close them in t.after / cluster.defer, or in the product code that opened them):\n${lines.join('\n')}`
    for (const h of open) h.release?.()
    // Also on stderr: if the process has to be ended below, the reporter may never print the failure.
    process.stderr.write(`leak-guard: ${message}\n`)
    const last = setTimeout(() => {
      process.stderr.write('leak-guard: the process did not exit after releasing the handles above; exiting with code 1\n')
      process.exit(1)
    }, EXIT_leakGraceMs)
    last.unref()
    throw new Error(message)
  })
}
