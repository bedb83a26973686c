// The node agent supervising a small real service: started with its parameters, ready when
// its HTTP port answers, restarted after a SIGKILL, and obeying only the newest coordinator.
import { NodeAgent, InProcessChannel } from 'quorate/agent'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const dir = await mkdtemp(join(tmpdir(), 'quorate-agent-example-'))
const events = []
const agent = new NodeAgent({ node: 'w1', dir, onEvent: (e) => events.push(e) })
await agent.open()
/** The first event matching `match` after the `after`-th (polls the list; bounded). */
async function next (match, after = 0) {
  for (let i = 0; i < 500; i++) {
    const e = events.slice(after).find(match)
    if (e !== undefined) return e
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error('no such event')
}

// The coordinator's side: commands travel over a channel (AgentClient for another machine).
const channel = new InProcessChannel()
channel.register('w1', agent)
const fence = { lease: 'quorate/coordinator', token: 1 }

// The service: an HTTP server on the port it gets as a parameter (QUORATE_PARAM_PORT).
const port = await new Promise((resolve) => { const s = createServer().listen(0, () => { const p = s.address().port; s.close(() => resolve(p)) }) })
const service = {
  command: process.execPath,
  args: ['-e', "require('node:http').createServer((q, s) => s.end('hello from ' + process.pid)).listen(Number(process.env.QUORATE_PARAM_PORT))"],
  readiness: { kind: 'http', url: `http://127.0.0.1:${port}/`, intervalMs: 50 },
  stopGraceMs: 2000
}
const started = await channel.send('w1', { kind: 'start', id: 'start-web-1', fence, instance: 'web-1', service, parameters: { port: String(port) } })
await next((e) => e.type === 'instance-ready')
console.log('ready:', (await (await fetch(`http://127.0.0.1:${port}/`)).text()).startsWith('hello from'))

// Kill it: the agent reports the exit and restarts it (after 100 ms by default).
const before = events.length
process.kill(started.instances[0].pid, 'SIGKILL')
const exited = await next((e) => e.type === 'instance-exited', before)
const restarted = await next((e) => e.type === 'instance-started', before)
console.log('exit signal:', exited.signal, '| restarted with a new pid:', restarted.pid !== started.instances[0].pid)

// A newer coordinator (token 2) is obeyed; the old one (token 1) is refused from then on.
const stopped = await channel.send('w1', { kind: 'stop', id: 'stop-web-1', fence: { ...fence, token: 2 }, instance: 'web-1' })
console.log('stopped:', stopped.instances[0].state)
const stale = await channel.send('w1', { kind: 'start', id: 'start-again', fence, instance: 'web-1', service, parameters: { port: String(port) } })
console.log('stale coordinator:', stale.ok ? 'obeyed' : stale.code)

await agent.close()
await rm(dir, { recursive: true, force: true })
