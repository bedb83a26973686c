/**
 * Real relay processes (`quorate-transponder`), mutual TLS on both hops, a station with a
 * real events queue in this process, nine agents: a relay SIGKILLed while its agents emit and
 * a fan-out is in flight — its agents re-home (rendezvous) within the bound, every event
 * acknowledged to an agent is committed in the queue, no command id runs twice; then an agent
 * that dies becomes one node-dead event in the queue within 5 s. Plus the bin's usage errors.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, execFile } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { createDevCertificates } from '../../src/transport/index.js'
import { EventsQueue, GraphStateMachine } from '../../src/graph/index.js'
import { decodeHaEvent } from '../../src/agent/index.js'
import type { AgentCommand, HaEvent } from '../../src/agent/index.js'
import { QuorateError } from '../../src/errors.js'
import {
  AgentRelayClient, KeyRing, LivenessEvents, RelayedCommandChannel, SocketAgentLinks, StationServer, TrackingStation, createSigningKeys, signer
} from '../../src/transponder/index.js'
import { TRANSPONDER_READY_PREFIX } from '../../src/transponder/relay-process.js'
import { schema } from '../graph/helpers.js'

const BIN = fileURLToPath(new URL('../../src/transponder/relay-process.js', import.meta.url))
const RELAYS = ['t1', 't2', 't3']
const AGENTS = Array.from({ length: 9 }, (_, i) => `w${i + 1}`)
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const until = async (what: () => boolean, ms: number): Promise<boolean> => {
  const end = Date.now() + ms
  while (!what()) { if (Date.now() > end) return false; await sleep(20) }
  return true
}

test('the bin: --help exits 0, an unknown option or a misspelt config key exits 2 with the reason', async () => {
  const run = async (args: string[]): Promise<{ code: number, out: string }> => await promisify(execFile)(process.execPath, [BIN, ...args]).then(
    ({ stdout }) => ({ code: 0, out: stdout }), (e: { code: number, stderr: string }) => ({ code: e.code, out: e.stderr }))
  const help = await run(['--help'])
  assert.equal([help.code, help.out.includes('Usage: quorate-transponder')], [0, true])
  assert.is((await run(['--config'])).code, 2)
  assert.is((await run(['--bogus'])).code, 2)
  const dir = await mkdtemp(join(tmpdir(), 'quorate-relay-cfg-'))
  const file = join(dir, 'bad.json')
  await writeFile(file, JSON.stringify({ id: 't1', listen: { host: '127.0.0.1', port: 0 }, station: { host: '127.0.0.1', port: 1 }, insecure: true, relay: { windowMS: 5 } }))
  const bad = await run(['--config', file])
  assert.equal([bad.code, /windowMs/.test(bad.out)], [2, true], bad.out)
  await rm(dir, { recursive: true, force: true })
})

test('a relay process SIGKILLed: its agents re-home within the bound, nothing acknowledged is lost, no command runs twice; a dead agent is in the graph within 5 s', async () => {
  const certs = await createDevCertificates({ nodeIds: ['station', ...RELAYS, ...AGENTS] })
  const tlsOf = (id: string): { key: string, cert: string, ca: string } => ({ ...certs.nodes[id]!, ca: certs.ca })
  const keys = createSigningKeys([...AGENTS, 'coord'])
  const ring = new KeyRing(keys.publicKeys)
  const dir = await mkdtemp(join(tmpdir(), 'quorate-relays-'))
  const machine = new GraphStateMachine(schema, { events: { maxQueuedEvents: 100_000 } })
  const queue = new EventsQueue({ machine, submit: async (command) => machine.apply(command, machine.appliedIndex + 1) })
  const liveness = new LivenessEvents({ observer: 'station', events: queue, failoverGraceMs: 0 })
  await liveness.open()
  const station = new TrackingStation({ id: 'station', keys: ring, emit: async (e, o) => await queue.emit(e, o), onLiveness: liveness.onLiveness, transponderTimeoutMs: 1500, rehomeGraceMs: 1500 })
  await station.open()
  const server = new StationServer({ listen: { host: '127.0.0.1', port: 0 }, station, tls: tlsOf('station') })
  await server.open()
  const procs = new Map<string, ChildProcess>()
  const addresses: Record<string, { host: string, port: number }> = {}
  const agents: AgentRelayClient[] = []
  const links: SocketAgentLinks[] = []
  try {
    await writeFile(join(dir, 'ca.crt'), certs.ca)
    for (const id of RELAYS) {
      await writeFile(join(dir, `${id}.key`), certs.nodes[id]!.key)
      await writeFile(join(dir, `${id}.crt`), certs.nodes[id]!.cert)
      const config = {
        id, listen: { host: '127.0.0.1', port: 0 }, station: { host: '127.0.0.1', port: server.address().port },
        tls: { keyFile: join(dir, `${id}.key`), certFile: join(dir, `${id}.crt`), caFile: join(dir, 'ca.crt') },
        relay: { windowMs: 5, reportIntervalMs: 250, agentTimeoutMs: 1500 }
      }
      await writeFile(join(dir, `${id}.json`), JSON.stringify(config))
      const child = spawn(process.execPath, [BIN, '--config', join(dir, `${id}.json`), '--exit-with-stdin'], { stdio: ['pipe', 'pipe', 'inherit'] })
      procs.set(id, child)
      const ready = await new Promise<{ listen: { host: string, port: number } }>((resolve, reject) => {
        const lines = createInterface({ input: child.stdout! })
        lines.on('line', (line) => { if (line.startsWith(TRANSPONDER_READY_PREFIX)) resolve(JSON.parse(line.slice(TRANSPONDER_READY_PREFIX.length))) })
        child.once('exit', (code) => { reject(new Error(`relay ${id} exited ${code}`)) })
      })
      addresses[id] = ready.listen
    }
    const runs = new Map<string, number>()
    for (const id of AGENTS) {
      const l = new SocketAgentLinks({ id, transponders: addresses, tls: tlsOf(id), staleAfterMs: 1000 })
      const agent = new AgentRelayClient({
        signer: signer(id, keys.privateKeys[id]!), keys: ring, station: 'station', transponders: RELAYS, links: l, heartbeatMs: 200, ackTimeoutMs: 1000,
        execute: async (c) => { runs.set(`${id} ${c.id}`, (runs.get(`${id} ${c.id}`) ?? 0) + 1); return { id: c.id, ok: true, instances: [] } }
      })
      l.serve(async (bytes) => await agent.handleCommand(bytes))
      await agent.open()
      agents.push(agent); links.push(l)
    }
    assert.ok(await until(() => AGENTS.every((a) => station.routeOf(a) !== undefined) && RELAYS.every((t) => server.deliverVia(t) !== undefined), 10_000), 'every agent routed')

    // Agents emit events back to back while the victim dies.
    const acknowledged: string[] = []
    let emitting = true
    const emitters = agents.map(async (agent, i) => {
      for (let n = 0; emitting; n++) {
        const id = `ev-${AGENTS[i]}-${n}`
        await agent.emit({ id, payload: Uint8Array.of(1) }).then(() => { acknowledged.push(id) }, () => {})
      }
    })
    await sleep(300)
    const homes = AGENTS.map((a) => station.routeOf(a))
    const victim = RELAYS.reduce((best, t) => homes.filter((h) => h === t).length > homes.filter((h) => h === best).length ? t : best)
    const orphans = AGENTS.filter((_, i) => homes[i] === victim)
    const channel = new RelayedCommandChannel({ signer: signer('coord', keys.privateKeys.coord!), keys: ring, route: (a) => station.routeOf(a), transponder: server.deliverVia, timeoutMs: 2000 })
    const command: AgentCommand = { kind: 'status', id: 'cmd-1', fence: { lease: 'quorate/coordinator', token: 1 } }
    const fanout = (async () => {
      let targets = [...AGENTS]
      for (let attempt = 0; attempt < 20 && targets.length > 0; attempt++) {
        if (attempt > 0) await sleep(250)
        const results = await channel.sendMany(targets.map((node) => ({ node, command })))
        targets = targets.filter((_, i) => results[i] instanceof QuorateError)
      }
      return targets
    })()
    const killedAt = Date.now()
    procs.get(victim)!.kill('SIGKILL')
    assert.ok(await until(() => orphans.every((a) => { const r = station.routeOf(a); return r !== undefined && r !== victim }), 5000), `agents of ${victim} re-homed within 5 s`)
    const rehomeMs = Date.now() - killedAt
    assert.equal(await fanout, [], 'every agent answered the fan-out')
    emitting = false
    await Promise.all(emitters)
    const committed = new Set(machine.events.list(0).map((e) => e.id))
    assert.ok(acknowledged.length > 20, `events acknowledged: ${acknowledged.length}`)
    assert.equal(acknowledged.filter((id) => !committed.has(id)), [], 'every acknowledged event is committed')
    assert.equal([...runs].filter(([, n]) => n !== 1), [], 'no command ran twice')
    assert.is(runs.size, AGENTS.length)

    // An agent dies: one node-dead event in the graph's queue within 5 s.
    const dying = AGENTS.findIndex((a) => !orphans.includes(a))
    const diedAt = Date.now()
    await agents[dying]!.close(); links[dying]!.close()
    const deaths = (): HaEvent[] => machine.events.list(0).map((e) => decodeHaEvent(e.payload)).filter((e): e is HaEvent => !(e instanceof QuorateError) && e.type === 'node-dead')
    assert.ok(await until(() => deaths().some((e) => e.type === 'node-dead' && e.node === AGENTS[dying]), 5000), 'node-dead in the queue within 5 s')
    const deathMs = Date.now() - diedAt
    await sleep(500)
    assert.equal(deaths().map((e) => e.type === 'node-dead' ? e.node : ''), [AGENTS[dying]], 'one death, only the dead agent')
    console.log(`relay-process: ${orphans.length} agents re-homed from ${victim} in ${rehomeMs} ms; ${acknowledged.length} events acknowledged, all committed; node-dead after ${deathMs} ms`)
  } finally {
    for (const a of agents) await a.close()
    for (const l of links) l.close()
    for (const p of procs.values()) p.kill('SIGKILL')
    await server.close(); await station.close(); await liveness.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
