// The leak guard preloaded by `npm test`: a test file that leaves a socket or a timer open fails, naming it, and its
// process still exits; a file that closes everything passes. Each case runs a tiny test file the way `npm test` does.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { tempDir } from './temp-dir.ts'

const GUARD = fileURLToPath(new URL('./leak-guard.ts', import.meta.url))
const ROOT = fileURLToPath(new URL('../../', import.meta.url))

interface Run {
  code: number | null
  output: string
}

/** Runs `source` as a test file under the guard (short grace), killed if it does not exit within a minute. */
async function runUnderGuard(t: TestContext, source: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const dir = await tempDir(t, 'sluice-leak-guard-')
  const file = join(dir, 'fixture.test.mjs')
  await writeFile(file, source)
  // Without NODE_TEST_CONTEXT, which marks this process as a test file: the child must be a test runner of its own.
  const { NODE_TEST_CONTEXT: _, ...inherited } = process.env
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', GUARD, '--test', file], {
    cwd: ROOT,
    env: { ...inherited, SLUICE_LEAK_GRACE_MS: '300', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d))
  // Not a speed assertion: a generous bound so that a guard that fails to end the process fails this test instead
  // of hanging the suite.
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
  clearTimeout(killer)
  return { code, output }
}

/** A server in this process for fixtures to connect to; it and whatever connected are closed when the test ends. */
async function listener(t: TestContext): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return (server.address() as { port: number }).port
}

test('a file that leaves a client socket open fails, naming the socket and its peer, and exits', async (t) => {
  const port = await listener(t)
  const run = await runUnderGuard(
    t,
    `import { test } from 'node:test'
import net from 'node:net'
test('connects and forgets', async () => {
  await new Promise((resolve) => net.connect(${port}, '127.0.0.1', resolve))
})
`,
  )
  assert.equal(run.code, 1, run.output)
  assert.match(run.output, /# pass 1/, run.output)
  assert.match(run.output, /1 handle still open 300 ms after the last test of this file/, run.output)
  assert.match(run.output, new RegExp(`socket: tcp socket 127\\.0\\.0\\.1:\\d+ → 127\\.0\\.0\\.1:${port}`), run.output)
})

test('a file that leaves a timer running fails, naming its callback and delay, and exits', async (t) => {
  const run = await runUnderGuard(
    t,
    `import { test } from 'node:test'
test('starts polling and never stops', () => {
  setInterval(function pollForever() {}, 1_000)
})
`,
  )
  assert.equal(run.code, 1, run.output)
  assert.match(run.output, /timer: setInterval\(pollForever, 1000 ms\)/, run.output)
})

test('a file that leaves a server listening fails and exits', async (t) => {
  const run = await runUnderGuard(
    t,
    `import { test } from 'node:test'
import net from 'node:net'
test('listens', async () => {
  await new Promise((resolve) => net.createServer().listen(0, '127.0.0.1', resolve))
})
`,
  )
  assert.equal(run.code, 1, run.output)
  assert.match(run.output, /server: server listening on 127\.0\.0\.1:\d+/, run.output)
})

test('with SLUICE_LEAK_STACKS=1 a leaked timer names where it was made', async (t) => {
  const run = await runUnderGuard(
    t,
    `import { test } from 'node:test'
function startHeartbeat() { setInterval(() => {}, 1_000) }
test('heartbeat', () => startHeartbeat())
`,
    { SLUICE_LEAK_STACKS: '1' },
  )
  assert.equal(run.code, 1, run.output)
  assert.match(run.output, /setInterval\(anonymous, 1000 ms\), made at[\s\S]*startHeartbeat/, run.output)
})

test('a file that closes its sockets and timers passes, also when tests start after its first one ended', async (t) => {
  const port = await listener(t)
  // The first test is synchronous and the last one is registered after a top-level await: node:test may run the
  // root after() hook in between, while the later tests still hold sockets and timers of their own.
  const run = await runUnderGuard(
    t,
    `import { test } from 'node:test'
import net from 'node:net'
test('sync', () => {})
test('socket closed in t.after', async (t) => {
  const socket = await new Promise((resolve) => { const s = net.connect(${port}, '127.0.0.1', () => resolve(s)) })
  t.after(() => new Promise((resolve) => { socket.once('close', resolve); socket.end() }))
  await new Promise((resolve) => setTimeout(resolve, 200))
})
await new Promise((resolve) => setTimeout(resolve, 100))
test('timer cleared', async () => {
  const timer = setInterval(() => {}, 10)
  await new Promise((resolve) => setTimeout(resolve, 500))
  clearInterval(timer)
})
`,
  )
  assert.equal(run.code, 0, run.output)
  assert.match(run.output, /# pass 3/, run.output)
  assert.doesNotMatch(run.output, /leak-guard/, run.output)
})
