/**
 * End to end, with real processes: a 3-node tracking station (RaftNodes on a memory network,
 * the lease table and the graph on one router), a Supervisor on each running the Coordinator
 * with the built-in rules, three NodeAgents managing real child processes over an
 * InProcessChannel, and node liveness from a FailureDetector on each station node (fed by
 * the workers' heartbeats, in its failover grace at each new coordinator epoch through
 * graceOnFailover) reporting node-dead events into the graph's events queue.
 *
 * A worker node crashes (its agent closed abruptly, its service processes SIGKILLed, its
 * heartbeats stopped): it is declared dead, the coordinator moves its services, and they run
 * on a surviving agent. Then the coordinator's host dies: a new coordinator takes over under a
 * higher token, and a command of the old epoch is refused by the agents (LEASE_FENCED).
 * Throughout, no instance runs twice at once (checked on live pids); at the end every instance
 * runs exactly once, where the graph places it, and every acknowledged event was decided.
 * Real processes force real time: waits are bounded eventually() loops, no timing asserted.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryLevel } from 'memory-level'
import { RaftNode } from '../../src/node/node.js'
import { LevelStorage } from '../../src/storage/level-storage.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { StateMachineRouter } from '../../src/sm/router.js'
import { LeaseTable } from '../../src/lease/table.js'
import { LeaseManager } from '../../src/lease/manager.js'
import { GraphStateMachine } from '../../src/graph/state-machine.js'
import { Graph } from '../../src/graph/client.js'
import { EventsQueue } from '../../src/graph/events-client.js'
import type { GraphEvent } from '../../src/graph/events-client.js'
import { FailureDetector, InProcessChannel, NodeAgent, encodeHaEvent } from '../../src/agent/index.js'
import type { ServiceSpec } from '../../src/agent/index.js'
import { BUILTIN_RULES, Coordinator, Supervisor, SUPERVISOR_DEFAULTS, coordinatorSchema, graceOnFailover, readDecision, ref } from './imports.js'
import type { HaSpec } from './imports.js'

const schema = coordinatorSchema()
const LEASE = SUPERVISOR_DEFAULTS.lease
const WORKERS = ['w1', 'w2', 'w3']
const INSTANCES: Array<[string, string]> = [['svc-a', 'w1'], ['svc-b', 'w1'], ['svc-c', 'w2']]
/** A tiny real service: a node process that stays up until killed. */
const SERVICE: ServiceSpec = { command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'], stopGraceMs: 2000 }
const DETECTOR = { heartbeatIntervalMs: 100, tickMs: 100, confirmations: 1, deadAfterSilenceMs: 2000, failoverGraceMs: 1000, startupGraceMs: 1000 }

async function eventually (what: string, ok: () => boolean | Promise<boolean>, limitMs = 40_000): Promise<void> {
  const end = Date.now() + limitMs
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`not within ${limitMs} ms: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

function alive (pid: number | undefined): boolean {
  if (pid === undefined) return false
  try { process.kill(pid, 0); return true } catch { return false }
}

interface Station {
  readonly id: string
  readonly node: RaftNode
  readonly leases: LeaseManager
  readonly supervisor: Supervisor
  readonly machine: GraphStateMachine
  readonly events: EventsQueue
  readonly graph: Graph<HaSpec>
  readonly detector: FailureDetector
  readonly stopGrace: () => void
  up: boolean
}

test('a worker crash moves its services to a surviving agent; a new coordinator continues under a higher token and the old epoch is refused', async () => {
  const network = new MemoryNetwork()
  const channel = new InProcessChannel()
  const voters = ['s1', 's2', 's3']
  const acknowledged = new Set<string>()
  const stations: Station[] = []
  /** The events sink every reporter uses: any live station node, retried until one commits. */
  const sink = {
    async emit (event: GraphEvent): Promise<unknown> {
      for (let attempt = 0; ; attempt++) {
        const s = stations.filter((x) => x.up)[attempt % Math.max(1, stations.filter((x) => x.up).length)]
        try {
          if (s === undefined) throw new Error('no station node up')
          const r = await s.events.emit(event, { signal: AbortSignal.timeout(3000) })
          acknowledged.add(event.id)
          return r
        } catch (err) {
          if (attempt > 50) throw err
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }
    }
  }
  for (const id of voters) {
    const router = new StateMachineRouter()
    const leaseRoute = router.mount('lease', new LeaseTable())
    const graphRoute = router.mount('graph', new GraphStateMachine(schema))
    const node = new RaftNode({ id, voters, transport: network.transport(id), stateMachine: router, forwardProposals: true, tickMs: 20, storage: new LevelStorage({ db: new MemoryLevel() }) })
    await node.open()
    const leases = new LeaseManager({ node: leaseRoute.bind(node), table: leaseRoute.machine, maxLeaseDurationMs: 2000 })
    const routed = graphRoute.bind(node)
    const client = { machine: graphRoute.machine, submit: async (c: Uint8Array, o?: { signal?: AbortSignal }) => await routed.propose(c, o), barrier: async (o?: { signal?: AbortSignal }) => { await routed.read(o) } }
    const supervisor = new Supervisor({
      leases,
      durationMs: 1000,
      create: ({ fence, isLive }) => new Coordinator({ ...client, schema, channel, fence, isLive, holder: id, rules: BUILTIN_RULES, commandTimeoutMs: 3000 })
    }).open()
    const detector = new FailureDetector({ ...DETECTOR, self: id, peers: WORKERS }, Date.now())
    const stopGrace = graceOnFailover(graphRoute.machine, { failover: () => { detector.failover(Date.now()) } })
    stations.push({ id, node, leases, supervisor, machine: graphRoute.machine, events: new EventsQueue(client), graph: new Graph(schema as never, client), detector, stopGrace, up: true })
  }

  // Each station node's detector ticks; a death is reported under the id every observer uses, so the queue holds one per death.
  const timers: NodeJS.Timeout[] = []
  timers.push(setInterval(() => {
    const now = Date.now()
    for (const s of stations) {
      if (!s.up) continue
      for (const t of s.detector.tick(now)) {
        if (t.status !== 'dead') continue
        void sink.emit({ id: `node-dead:${t.node}:${t.incarnation}`, payload: encodeHaEvent({ type: 'node-dead', node: t.node, observer: s.id, at: now }) }).catch(() => {})
      }
    }
  }, DETECTOR.tickMs))
  // Workers' heartbeats, to every station node, while the worker is up.
  const workerUp = new Map(WORKERS.map((w) => [w, true]))
  timers.push(setInterval(() => {
    const now = Date.now()
    for (const [w, up] of workerUp) if (up) for (const s of stations) if (s.up) s.detector.receive({ from: w, incarnation: 0, suspects: [], refused: [] }, now)
  }, DETECTOR.heartbeatIntervalMs))

  const dirs: string[] = []
  const agents = new Map<string, NodeAgent>()
  for (const w of WORKERS) {
    const dir = await mkdtemp(join(tmpdir(), `quorate-e2e-${w}-`))
    dirs.push(dir)
    const agent = new NodeAgent({ node: w, dir, events: sink, stopGraceMs: 2000 })
    await agent.open()
    agents.set(w, agent)
    channel.register(w, agent)
  }

  /** Live processes per instance, over the agents still running (and the crashed node's pids, until they are gone). */
  const crashedPids: Array<{ instance: string, pid: number }> = []
  const running = (): Map<string, number> => {
    const count = new Map<string, number>()
    for (const agent of agents.values()) {
      if (!agent.isOpen) continue
      for (const st of agent.status()) if ((st.state === 'running' || st.state === 'starting') && alive(st.pid)) count.set(st.instance, (count.get(st.instance) ?? 0) + 1)
    }
    for (const p of crashedPids) if (alive(p.pid)) count.set(p.instance, (count.get(p.instance) ?? 0) + 1)
    return count
  }
  const doubles: string[] = []
  timers.push(setInterval(() => { for (const [i, n] of running()) if (n > 1) doubles.push(`${i} x${n} at ${Date.now()}`) }, 50))

  try {
    await eventually('a coordinator acts', () => stations.some((s) => s.supervisor.token !== null))
    const first = stations.find((s) => s.supervisor.token !== null)!
    const firstToken = first.supervisor.token!
    const tx = first.graph.transaction()
    for (const w of WORKERS) tx.put(ref('ha.node', w), { kind: 'worker', labels: '', state: 'up', since: 0 })
    for (const [id, on] of INSTANCES) {
      tx.put(ref('ha.instance', id), { service: JSON.stringify(SERVICE), parameters: '{}', state: 'starting', failures: 0, failuresSince: 0, attempt: 1, avoid: '{}' })
      tx.connect('ha.runs', ref('ha.node', on), ref('ha.instance', id))
    }
    await tx.commit()
    // Each worker reports itself alive: the rules start what is placed on it.
    for (const w of WORKERS) await sink.emit({ id: `alive:${w}`, payload: encodeHaEvent({ type: 'node-alive', node: w, observer: w, at: Date.now() }) })
    await eventually('the three services run where placed', () => {
      const r = running()
      return INSTANCES.every(([i, on]) => r.get(i) === 1 && agents.get(on)!.status().some((s) => s.instance === i && alive(s.pid)))
    })

    // w1 crashes: its agent goes away abruptly, its processes are SIGKILLed, its heartbeats stop.
    const w1 = agents.get('w1')!
    for (const st of w1.status()) if (st.pid !== undefined) crashedPids.push({ instance: st.instance, pid: st.pid })
    channel.unregister('w1')
    workerUp.set('w1', false)
    await w1.close()
    for (const p of crashedPids) process.kill(p.pid, 'SIGKILL')
    await eventually('the crashed node\'s processes are gone', () => crashedPids.every((p) => !alive(p.pid)))
    agents.delete('w1')

    await eventually('w1 declared dead in the graph', () => stations.some((s) => s.up && s.machine.graph.get('w1')?.fields.state === 'dead'))
    await eventually('svc-a and svc-b run on a surviving agent', () => {
      const r = running()
      return ['svc-a', 'svc-b'].every((i) => r.get(i) === 1 && [...agents.values()].some((a) => a.status().some((s) => s.instance === i && alive(s.pid))))
    })

    // The coordinator's host dies.
    const holder = stations.find((s) => s.supervisor.token !== null)!
    const oldToken = holder.supervisor.token!
    assert.ok(oldToken >= firstToken)
    holder.up = false
    await holder.supervisor.close()
    await holder.leases.close()
    await holder.node.close()
    holder.stopGrace()
    const rest = stations.filter((s) => s.up)
    await eventually('a new coordinator takes over elsewhere under a higher token', () => rest.some((s) => (s.supervisor.token ?? 0) > oldToken))
    const newToken = rest.find((s) => s.supervisor.token !== null)!.supervisor.token!
    // Its takeover raises every reachable agent's fence: a command of the old epoch is refused.
    await eventually('the agents saw the new token', () => [...agents.values()].every((a) => a.highestToken(LEASE) >= newToken))
    for (const [node, agent] of agents) {
      const reply = await agent.handle({ kind: 'start', id: `old-epoch-${node}`, fence: { lease: LEASE, token: oldToken }, instance: 'svc-old', service: SERVICE, parameters: {} })
      assert.ok(!reply.ok && reply.code === 'LEASE_FENCED', `${node} refused the old epoch: ${JSON.stringify(reply)}`)
    }
    // Under the new coordinator a service process dies: it runs again (the agent's local restart, reported and decided on).
    const c = [...agents.entries()].find(([, a]) => a.status().some((s) => s.instance === 'svc-c'))!
    const cPid = c[1].status().find((s) => s.instance === 'svc-c')!.pid!
    process.kill(cPid, 'SIGKILL')
    await eventually('svc-c runs again (a new process)', () => {
      const st = [...agents.values()].flatMap((a) => a.status()).find((s) => s.instance === 'svc-c')
      return st !== undefined && st.pid !== cPid && alive(st.pid) && running().get('svc-c') === 1
    })

    // The end: every instance runs exactly once, on the node the graph places it on; every acknowledged event was decided.
    const survivor = rest[0]!
    await eventually('the queue is drained', () => survivor.machine.events.list().length === 0)
    const r = running()
    const survivorView = survivor.graph.local()
    for (const [i] of INSTANCES) {
      assert.is(r.get(i), 1, `${i} runs once`)
      const on = survivorView.neighbours(i, 'ha.runs', 'in')[0]?.id
      assert.ok(on !== undefined && on !== 'w1' && agents.get(on)!.status().some((s) => s.instance === i && alive(s.pid)), `${i} runs where the graph places it (${String(on)})`)
    }
    const decided = new Set<string>()
    for (let seq = 1; ; seq++) {
      const d = readDecision(survivorView, seq)
      if (d === undefined) break
      if (d.input.kind === 'event') decided.add(d.input.id)
    }
    const lost = [...acknowledged].filter((id) => !decided.has(id))
    assert.equal(lost, [], 'every acknowledged event has a decision')
    assert.ok(acknowledged.has('node-dead:w1:0'), 'the death was reported')
    const byNew = []
    for (let seq = 1; ; seq++) { const d = readDecision(survivorView, seq); if (d === undefined) break; if (d.token === newToken) byNew.push(d) }
    assert.ok(byNew.length > 0, 'the new coordinator decided under its token')
    const moved = [...decided].includes('node-dead:w1:0')
    assert.ok(moved, 'the death was decided')
    assert.equal(doubles, [], 'no instance ran twice at once')
  } finally {
    for (const t of timers) clearInterval(t)
    for (const agent of agents.values()) { try { await agent.stopAll() } catch {} await agent.close() }
    for (const p of crashedPids) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL')
    for (const s of stations) {
      if (!s.up) continue
      s.stopGrace()
      await s.supervisor.close(); await s.leases.close(); await s.node.close()
    }
    await network.close()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  }
})

test.run()
