/**
 * A node agent as its own OS process, for the re-adoption test: `node agent-main.js <dir>`.
 * Reads one JSON command per stdin line, answers one JSON line per reply on stdout
 * ({ reply } or { event }). Killing it with SIGKILL leaves its services running.
 */
import { createInterface } from 'node:readline'
import { NodeAgent } from '../../src/agent/index.js'

const agent = new NodeAgent({
  node: 'w1',
  dir: process.argv[2]!,
  stopGraceMs: 2000,
  onEvent: (event) => { process.stdout.write(JSON.stringify({ event }) + '\n') }
})
await agent.open()
process.stdout.write(JSON.stringify({ ready: true, status: agent.status() }) + '\n')
for await (const line of createInterface({ input: process.stdin })) {
  const reply = await agent.handle(JSON.parse(line))
  process.stdout.write(JSON.stringify({ reply, restarts: agent.status().map((s) => agent.restarts(s.instance)) }) + '\n')
}
