/**
 * The process-level transponder benchmark's own parts: the flags it refuses before starting
 * anything, and the station front it measures with (bench/transponder-station.ts) — in relay
 * mode the core counts one message per uplink batch (heartbeats are coalesced by the relay),
 * direct it counts every heartbeat its agents' sockets deliver; in both an event is committed
 * through the cluster client, a fan-out reaches every agent, and a silent agent becomes a
 * committed node-dead. The cluster is a stub client here (the bench uses real node processes).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import type { QuorateClient } from '../../src/cluster/quorate-client.js'
import { QuorateError } from '../../src/errors.js'
import { AgentRelayClient, KeyRing, SocketAgentLinks, createSigningKeys, signer } from '../../src/transponder/index.js'
import { relayFromConfig } from '../../src/transponder/relay-process.js'
import type { TcpAddress } from '../../src/transport/tcp.js'
import { openStationFront } from '../../bench/transponder-station.js'
import type { FrontMode, StationFront } from '../../bench/transponder-station.js'

const BENCH = fileURLToPath(new URL('../../bench/transponder.js', import.meta.url))
const AGENTS = ['a0', 'a1', 'a2']
const keys = createSigningKeys([...AGENTS, 'coord'])
const ring = new KeyRing(keys.publicKeys)
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const until = async (what: () => boolean, ms: number): Promise<boolean> => {
  const end = Date.now() + ms
  while (!what()) { if (Date.now() > end) return false; await sleep(20) }
  return true
}

/** What the front uses of a QuorateClient: graph(schema).emit, answered 'stored' at once. */
const stubClient = { graph: () => ({ emit: async () => 'stored' as const }) } as unknown as QuorateClient

test('the bench refuses an unknown flag, a ramp that does not increase and zero relays, exit 2 before starting anything', async () => {
  const run = async (args: string[]): Promise<{ code: number, err: string }> => await promisify(execFile)(process.execPath, [BENCH, ...args]).then(
    () => ({ code: 0, err: '' }), (e: { code: number, stderr: string }) => ({ code: e.code, err: e.stderr }))
  const unknown = await run(['--processes', '--rmap', '10'])
  assert.equal([unknown.code, unknown.err.includes('--rmap')], [2, true], unknown.err)
  const ramp = await run(['--processes', '--ramp', '10,5'])
  assert.equal([ramp.code, ramp.err.includes('--ramp')], [2, true], ramp.err)
  const relays = await run(['--processes', '--relays', '0'])
  assert.equal([relays.code, relays.err.includes('relays')], [2, true], relays.err)
})

async function withFront (mode: FrontMode, check: (front: StationFront, agents: AgentRelayClient[], links: SocketAgentLinks[]) => Promise<void>): Promise<void> {
  const front = await openStationFront({ mode, client: stubClient, keys: ring, coordinator: signer('coord', keys.privateKeys.coord!) })
  let relay: Awaited<ReturnType<typeof relayFromConfig>> | undefined
  const agents: AgentRelayClient[] = []
  const links: SocketAgentLinks[] = []
  try {
    let transponders: Record<string, TcpAddress>
    if (mode === 'relay') {
      relay = await relayFromConfig({
        id: 't0', listen: { host: '127.0.0.1', port: 0 }, station: { host: '127.0.0.1', port: front.uplinkAddress!.port }, insecure: true,
        relay: { reportIntervalMs: 200, agentTimeoutMs: 600 }
      })
      await relay.uplink.open(); await relay.server.open()
      transponders = { t0: relay.server.address() }
    } else transponders = { ...front.coreAddress! }
    for (const id of AGENTS) {
      const l = new SocketAgentLinks({ id, transponders, insecure: true })
      const agent = new AgentRelayClient({
        signer: signer(id, keys.privateKeys[id]!), keys: ring, station: 'station', transponders: Object.keys(transponders), links: l, heartbeatMs: 100,
        execute: async (c) => ({ id: c.id, ok: true, instances: [] })
      })
      l.serve(async (bytes) => await agent.handleCommand(bytes))
      await agent.open()
      agents.push(agent); links.push(l)
    }
    assert.ok(await until(() => front.station.stats().aliveAgents === AGENTS.length, 5000), 'every agent alive at the station')
    await check(front, agents, links)
  } finally {
    for (const a of agents) await a.close()
    for (const l of links) l.close()
    await relay?.server.close(); await relay?.uplink.close()
    await front.close()
  }
}

/** Messages counted at the core during `ms`, by sender. */
async function countDuring (front: StationFront, ms: number): Promise<Map<string, number>> {
  const before = new Map(front.inbound())
  await sleep(ms)
  return new Map([...front.inbound()].map(([k, v]) => [k, v - (before.get(k) ?? 0)]))
}

async function eventFanoutAndDeath (front: StationFront, agents: AgentRelayClient[], links: SocketAgentLinks[]): Promise<void> {
  assert.is(await agents[0]!.emit({ id: 'ev-a0', payload: Uint8Array.of(1) }), 'acknowledged')
  assert.ok(front.committed.has('ev-a0'), 'the acknowledged event went through the cluster client')
  const results = await front.channel.sendMany(AGENTS.map((node) => ({ node, command: { kind: 'status' as const, id: 'c1', fence: { lease: 'quorate/coordinator', token: 1 } } })))
  assert.equal(results.filter((r) => r instanceof QuorateError), [], 'every agent answered the fan-out')
  await agents[2]!.close(); links[2]!.close()
  // LivenessEvents declares no death for 5 s after it opened (the failure detector's grace).
  assert.ok(await until(() => front.deaths.has('a2'), 12_000), 'the silent agent is a committed node-dead')
  assert.equal([...front.deaths.keys()], ['a2'])
}

test('relay mode: the core counts one message per uplink batch, not the heartbeats; events, fan-out and a death go through', async () => {
  await withFront('relay', async (front, agents, links) => {
    const counted = await countDuring(front, 1000)
    assert.equal([...counted.keys()], ['t0'], 'only the relay sends to the core')
    // 3 agents heartbeat 10 times a second (30 messages); the relay reports every 200 ms.
    assert.ok(counted.get('t0')! >= 2 && counted.get('t0')! <= 12, `uplink batches in 1 s: ${counted.get('t0')}`)
    await eventFanoutAndDeath(front, agents, links)
  })
})

test('direct mode: the core counts every heartbeat of its agents; events, fan-out and a death go through', async () => {
  await withFront('direct', async (front, agents, links) => {
    const counted = await countDuring(front, 1000)
    // 3 agents heartbeating every 100 ms: about 30, fewer on a loaded machine.
    assert.ok(counted.get('agents')! >= 15, `heartbeats in 1 s: ${counted.get('agents')}`)
    await eventFanoutAndDeath(front, agents, links)
  })
})

test.run()
