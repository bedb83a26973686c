// Agents talk to the tracking station through a transponder: signed events up, signed commands down.
import {
  AgentRelayClient, KeyRing, RelayedCommandChannel, SocketAgentLinks, TrackingStation, TransponderServer,
  createSigningKeys, openCommand, sealCommand, signer
} from 'quorate/transponder'

// Ed25519 keys per node: the public ones are the key ring every verifier holds.
const keys = createSigningKeys(['w1', 'w2', 'coordinator'])
const ring = new KeyRing(keys.publicKeys)

// The station end: verifies each relayed event and commits it (here: into an array; in a
// cluster, EventsQueue.emit) before the batch is acknowledged.
const stored = []
const station = new TrackingStation({ id: 'station', keys: ring, emit: async (event) => { stored.push(event.id) } })
await station.open()

// One transponder on loopback (plain TCP for the example; pass `tls` for mutual TLS).
const server = new TransponderServer({
  listen: { host: '127.0.0.1', port: 0 },
  insecure: true,
  transponder: { id: 't1', uplink: async (batch, { signal }) => { await station.receive(batch, { signal }) } }
})
await server.open()

// Two agents: heartbeats and events up through t1, commands down, each command id run once.
const agents = []
for (const id of ['w1', 'w2']) {
  const links = new SocketAgentLinks({ id, transponders: { t1: server.address() }, insecure: true })
  const agent = new AgentRelayClient({
    signer: signer(id, keys.privateKeys[id]),
    keys: ring,
    station: 'station',
    transponders: ['t1'],
    links,
    execute: async (command) => ({ id: command.id, ok: true, instances: [] })
  })
  links.serve((bytes) => agent.handleCommand(bytes))
  await agent.open()
  agents.push({ agent, links })
}

console.log('event:', await agents[0].agent.emit({ id: 'evt-1', payload: new TextEncoder().encode('{"type":"node-alive"}') }))
console.log('stored at the station:', stored.join(','))

// The coordinator fans a fenced command out through whichever transponder reaches each agent.
while (station.routeOf('w2') === undefined) await new Promise((resolve) => setTimeout(resolve, 20))
const channel = new RelayedCommandChannel({
  signer: signer('coordinator', keys.privateKeys.coordinator),
  keys: ring,
  route: (node) => station.routeOf(node),
  transponder: () => (commands, options) => server.transponder.deliver(commands, options)
})
const command = { kind: 'status', id: 'cmd-1', fence: { lease: 'quorate/coordinator', token: 1 } }
const replies = await channel.sendMany([{ node: 'w1', command }, { node: 'w2', command }])
console.log('replies:', replies.map((r) => r.ok).join(','))

// A relay cannot alter a command: one flipped byte and the agent refuses it.
const sealed = sealCommand(signer('coordinator', keys.privateKeys.coordinator), 'w1', command)
sealed[sealed.length - 10] ^= 1
try { openCommand(sealed, ring, 'w1') } catch (err) { console.log('altered command:', err.code) }

for (const { agent, links } of agents) { await agent.close(); links.close() }
await server.close()
await station.close()
