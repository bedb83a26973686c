/**
 * The transponder simulator: thousands of agents heartbeating through a few transponders to
 * one tracking station, in virtual time, one seed reproducing a run exactly. It runs a fixed
 * scenario and checks the properties quorate/transponder promises:
 *
 *   0 .. 1 s    agents start at seeded offsets; heartbeat every second
 *   5 .. 15 s   steady state: core (station) inbound messages counted
 *   15 s        `killAgents` agents die: each must be reported dead within `deathBoundMs`
 *   20 s        a status command fanned out to every live agent: 99% must run it within 2 s
 *   26 s        a failure storm: every agent of one transponder emits an event, and 5 ms later
 *               that transponder dies: its agents must re-home within `rehomeBoundMs`, and
 *               every event acknowledged to an agent must be in the events store
 *   32 s        a second fan-out, and a transponder dies while its commands are in flight:
 *               the coordinator resends unanswered commands with the same id until answered;
 *               no agent may run a command id twice, every live agent must run it once
 *
 * The same workload runs `direct` (agents talk to the core with no transponders) so that
 * the gain is a ratio of the two runs' core message rates.
 *
 * The uplink is the real wire's codec (every batch is encoded and decoded as a BATCH frame),
 * and it fails the way a network and a Raft leader do: each transponder's first batch that
 * carries events has its first append refused (a leader change: the station must not
 * acknowledge it) and its second attempt's acknowledgement lost after the commit (a dropped
 * connection: the retry must not be appended again); beyond that, 2% of attempts (seeded)
 * lose their acknowledgement. Deaths count when their node-dead event is committed in the
 * events store (LivenessEvents), i.e. visible in the graph.
 *
 * Mutants show the checks can fail: 'ack-before-uplink' (the relay acknowledges an agent
 * before the uplink did: the storm's events are lost), 'no-dedupe' (agents run a command
 * again on every delivery: the resent fan-out runs twice), 'station-ack-early' (the station
 * acknowledges a batch before its appends committed: the refused append is lost) and
 * 'no-batch-dedupe' (the station ignores batch ids: a retried batch is appended again).
 */
import { ManualClock } from '../manual-clock.js'
import { SeededRandom } from '../../util/random.js'
import { QuorateError } from '../../errors.js'
import type { AgentCommand, AgentReply } from '../../agent/protocol.js'
import {
  AgentRelayClient, CommandInbox, KeyRing, RelayedCommandChannel, TrackingStation, Transponder, openEvent, sealCommand, signer
} from '../../transponder/index.js'
import type { Signer } from '../../transponder/index.js'
import { generateKeyPairSync } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { ackBeforeUplink } from '../../transponder/relay.js'
import type { UplinkBatch } from '../../transponder/relay.js'
import { stationAckBeforeCommit } from '../../transponder/station.js'
import { LivenessEvents } from '../../transponder/liveness-events.js'
import { decodeUplinkFrame, encodeUplinkFrame } from '../../transponder/uplink-wire.js'
import { decodeHaEvent } from '../../agent/protocol.js'
import { SimNetwork } from './network.js'

/**
 * Deliberately broken variants, one per check: 'ack-before-uplink' (relay acknowledges early:
 * lost events), 'no-dedupe' (agent without its inbox: a command runs twice), 'late-death'
 * (agents expire after 6 s: deaths seen late), 'hanging-sockets' (a dead transponder's
 * connections hang instead of being reset, so heartbeats to it "succeed" and idle agents never
 * re-home: the agent would need a heartbeat acknowledgement to notice), 'serial-fanout' (the coordinator sends one command at a time: the fan-out
 * misses 99% within 2 s).
 */
export type TransponderMutant = 'none' | 'ack-before-uplink' | 'no-dedupe' | 'late-death' | 'hanging-sockets' | 'serial-fanout' | 'station-ack-early' | 'no-batch-dedupe'
export const TRANSPONDER_MUTANTS: readonly TransponderMutant[] = ['ack-before-uplink', 'no-dedupe', 'late-death', 'hanging-sockets', 'serial-fanout', 'station-ack-early', 'no-batch-dedupe']

export interface TransponderSimOptions {
  seed: number
  /** @default 5000 */
  agents?: number
  /** @default 50 */
  transponders?: number
  /** Agents talk straight to the core (the baseline). @default false */
  direct?: boolean
  /** @default 'none' */
  mutant?: TransponderMutant
  /** Agents killed at 15 s. @default 20 */
  killAgents?: number
  /** One-way hop latency bounds, ms. @default { minMs: 1, maxMs: 5 } */
  latency?: { minMs: number, maxMs: number }
  /** @default 5000 */
  deathBoundMs?: number
  /** @default 2000 */
  rehomeBoundMs?: number
}

export interface TransponderSimQuantiles { readonly count: number, readonly p50: number, readonly p99: number, readonly max: number }

export interface TransponderSimReport {
  readonly seed: number
  readonly mode: 'transponders' | 'direct'
  readonly mutant: TransponderMutant
  readonly agents: number
  readonly transponders: number
  /** Messages the core received per second in the steady window (5 .. 15 s). */
  readonly coreInboundPerSecond: number
  /** ... divided by the number of transponders (relay mode). */
  readonly coreInboundPerSecondPerTransponder: number | null
  /** Time from an agent's death to the core's view of it, ms. */
  readonly deathDetectionMs: TransponderSimQuantiles
  /** The first fan-out: time from send to the agent running it, ms, and the share within 2 s. */
  readonly fanoutReachMs: TransponderSimQuantiles
  readonly fanoutWithin2s: number
  /** Agents of the two killed transponders (the storm's and the fan-out's): time from the death to the station seeing them via another, ms. */
  readonly rehomeMs: TransponderSimQuantiles | null
  readonly eventsAcknowledged: number
  readonly eventsStored: number
  readonly commandRuns: number
  readonly violations: readonly string[]
}

const keyCache = new Map<number, { ring: KeyRing, signers: Signer[], coordinator: Signer }>()

/** Keys for n agents and a coordinator, made once per size per process (Ed25519 signatures are deterministic, so caching changes nothing). */
function keysFor (n: number): { ring: KeyRing, signers: Signer[], coordinator: Signer } {
  let k = keyCache.get(n)
  if (k === undefined) {
    const publicKeys = new Map<string, KeyObject>()
    const make = (id: string): Signer => {
      const pair = generateKeyPairSync('ed25519')
      publicKeys.set(id, pair.publicKey)
      return signer(id, pair.privateKey)
    }
    const signers = agentIds(n).map(make)
    const coordinator = make('coordinator')
    k = { ring: new KeyRing(publicKeys), signers, coordinator }
    keyCache.set(n, k)
  }
  return k
}

function agentIds (n: number): string[] {
  return Array.from({ length: n }, (_, i) => `node-${String(i).padStart(5, '0')}`)
}

function quantiles (values: number[]): TransponderSimQuantiles {
  const s = [...values].sort((a, b) => a - b)
  const at = (q: number): number => s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!
  return { count: s.length, p50: at(0.5), p99: at(0.99), max: s.length === 0 ? NaN : s[s.length - 1]! }
}

const STEADY_FROM = 5000
const STEADY_TO = 15_000
const KILL_AGENTS_AT = 15_000
const FANOUT_AT = 20_000
const STORM_AT = 26_000
const FANOUT2_AT = 32_000
const END_AT = 45_000
const FENCE = { lease: 'quorate/coordinator', token: 1 }

export async function runTransponderSim (options: TransponderSimOptions): Promise<TransponderSimReport> {
  const n = options.agents ?? 5000
  const tCount = options.direct === true ? 0 : options.transponders ?? 50
  const mutant = options.mutant ?? 'none'
  const deathBound = options.deathBoundMs ?? 5000
  const rehomeBound = options.rehomeBoundMs ?? 2000
  const random = new SeededRandom(options.seed)
  const clock = new ManualClock()
  const net = new SimNetwork(clock, random.fork(), options.latency ?? { minMs: 1, maxMs: 5 })
  const { ring, signers, coordinator } = keysFor(n)
  const ids = agentIds(n)
  const violations: string[] = []

  // The events store: commits after a delay, keeps each id once.
  const stored = new Set<string>()
  const commit = (event: { id: string }, then: () => void = () => {}): Promise<void> => new Promise((resolve) => {
    clock.setTimeout(() => { stored.add(event.id); then(); resolve() }, 2 + Math.floor(random.next() * 8))
  })
  // The station's appends, with the uplink faults: the batch being received, and whether its append is refused.
  let receiving = ''
  let refuseAppend = false
  const acknowledgedBatches = new Set<string>()
  const emit = (event: { id: string }): Promise<void> => {
    if (acknowledgedBatches.has(receiving)) violations.push(`batch ${receiving} was acknowledged and then appended again (event ${event.id})`)
    if (refuseAppend) { refuseAppend = false; return Promise.reject(new QuorateError('RAFT_NOT_LEADER', 'the append was refused (leader change)')) }
    return commit(event)
  }

  let coreInbound = 0
  const countInbound = (k = 1): void => { const now = clock.now(); if (now >= STEADY_FROM && now < STEADY_TO) coreInbound += k }
  const deadAt = new Map<string, number>()
  const reportedDead = new Map<string, number>()
  const joinedVia = new Map<string, Array<{ via: string, at: number }>>()
  const reportDead = (agent: string, at: number): void => {
    if (reportedDead.has(agent)) return
    reportedDead.set(agent, at)
    if (!deadAt.has(agent)) violations.push(`${agent} reported dead at ${at} but it is alive`)
  }
  // Relay mode: a death counts once its node-dead event is committed (visible in the graph).
  const liveness = options.direct === true
    ? undefined
    : new LivenessEvents({
      observer: 'station',
      clock,
      now: () => clock.now(),
      events: {
        emit: async (e: { id: string, payload: Uint8Array }) => {
          await commit(e, () => {
            const event = decodeHaEvent(e.payload)
            if (!(event instanceof QuorateError) && event.type === 'node-dead') reportDead(event.node, clock.now())
          })
        }
      }
    })
  const onLiveness = (c: { agent: string, alive: boolean, via: string, at: number }): void => {
    if (c.alive) {
      let l = joinedVia.get(c.agent)
      if (l === undefined) { l = []; joinedVia.set(c.agent, l) }
      l.push({ via: c.via, at: c.at })
    } else if (liveness === undefined) reportDead(c.agent, c.at)
    liveness?.onLiveness(c)
  }

  // Command execution bookkeeping (the agent's executor).
  const runs = new Map<string, number>()
  const firstRunAt = new Map<string, number>()
  let commandRuns = 0
  const executor = (agent: string) => async (command: AgentCommand): Promise<AgentReply> => {
    const key = `${agent}\0${command.id}`
    runs.set(key, (runs.get(key) ?? 0) + 1)
    if (!firstRunAt.has(key)) firstRunAt.set(key, clock.now())
    commandRuns++
    await new Promise<void>((resolve) => { clock.setTimeout(resolve, 1 + Math.floor(random.next() * 5)) })
    return { id: command.id, ok: true, instances: [] }
  }

  const transponderIds = Array.from({ length: tCount }, (_, i) => `t${String(i).padStart(3, '0')}`)
  const transponders = new Map<string, Transponder>()
  const agents = new Map<string, AgentRelayClient>()
  /** Rejecters of agents' submits in flight per transponder: a dead transponder resets its connections. */
  const openSubmits = new Map<string, Set<(err: unknown) => void>>()
  let station: TrackingStation | undefined
  // Direct mode's core liveness: last heartbeat per agent, expired every 250 ms.
  const lastHeard = new Map<string, number>()

  if (options.direct !== true) {
    const stationOptions = {
      id: 'station', keys: ring, emit, clock, onLiveness,
      onRoute: (c: { agent: string, via: string, at: number }) => { onLiveness({ agent: c.agent, alive: true, via: c.via, at: c.at }) }
    }
    station = new TrackingStation(mutant === 'station-ack-early' ? stationAckBeforeCommit.with(stationOptions, { on: true }) : stationOptions)
    await station.open()
    await liveness!.open()
    const faultStage = new Map<string, number>()
    /** One uplink attempt at the station: through the wire's codec, with the faults above. */
    const receive = async (t: string, sent: UplinkBatch): Promise<void> => {
      const frame = decodeUplinkFrame(encodeUplinkFrame({ kind: 'batch', request: 1, batch: sent }).subarray(4))
      if (frame.kind !== 'batch') throw new QuorateError('WIRE_MALFORMED', 'the codec changed the frame kind')
      const { producer, ...anonymous } = frame.batch
      const batch = mutant === 'no-batch-dedupe' ? anonymous : frame.batch
      const stage = sent.envelopes.length > 0 ? faultStage.get(t) ?? 0 : 2
      if (stage < 2) faultStage.set(t, stage + 1)
      const key = `${producer ?? ''}/${sent.seq}`
      receiving = key
      refuseAppend = stage === 0
      const received = station!.receive(batch)
      receiving = ''; refuseAppend = false
      await received
      acknowledgedBatches.add(key)
      if (stage === 1 || random.next() < 0.02) throw new QuorateError('TRANSPONDER_UPLINK_UNAVAILABLE', 'the connection dropped before the acknowledgement')
    }
    for (const id of transponderIds) {
      const base = {
        id,
        clock,
        random: random.fork(),
        uplink: async (batch: Parameters<TrackingStation['receive']>[0]) => {
          await net.call(id, 'station', async () => { countInbound(); await receive(id, batch) })
        },
        downlink: async (agent: string, bytes: Uint8Array) => {
          const a = agents.get(agent)
          if (a === undefined || a.home !== id) throw new QuorateError('TRANSPONDER_UNDELIVERABLE', `${agent} is not connected to ${id}`)
          return await net.call(id, agent, async () => await a.handleCommand(bytes))
        }
      }
      const configured = mutant === 'late-death' ? { ...base, agentTimeoutMs: 6000 } : base
      const t = new Transponder(mutant === 'ack-before-uplink' ? ackBeforeUplink.with(configured, { on: true }) : configured)
      transponders.set(id, t)
      openSubmits.set(id, new Set())
      await t.open()
    }
  } else {
    const expire = (): void => {
      const now = clock.now()
      for (const [agent, at] of lastHeard) {
        if (now - at > 3000) { lastHeard.delete(agent); onLiveness({ agent, alive: false, via: 'core', at: now }) }
      }
      clock.setTimeout(expire, 250)
    }
    clock.setTimeout(expire, 250)
  }

  const links = (agent: string): ConstructorParameters<typeof AgentRelayClient>[0]['links'] => options.direct === true
    ? {
        heartbeat: () => { net.hop(agent, 'core', () => { countInbound(); lastHeard.set(agent, clock.now()) }); return true },
        submit: async (_t, envelope) => await net.call(agent, 'core', async () => {
          countInbound()
          await emit(openEvent(envelope, ring, 'station').event)
          return 'acknowledged' as const
        })
      }
    : {
        heartbeat: (t) => {
          if (net.dead.has(t)) return mutant === 'hanging-sockets'
          net.hop(agent, t, () => { transponders.get(t)!.heartbeat(agent) })
          return true
        },
        submit: async (t, envelope) => {
          if (net.dead.has(t)) {
            if (mutant === 'hanging-sockets') return await new Promise<never>(() => {})
            throw new QuorateError('TRANSPONDER_UNDELIVERABLE', `connection to ${t} refused`)
          }
          const resets = openSubmits.get(t)!
          let reset!: (err: unknown) => void
          const gone = new Promise<never>((_resolve, reject) => { reset = reject })
          resets.add(reset)
          try {
            return await Promise.race([net.call(agent, t, async () => await transponders.get(t)!.submit(agent, envelope)), gone])
          } finally { resets.delete(reset) }
        }
      }

  for (let i = 0; i < n; i++) {
    const id = ids[i]!
    const inbox = new CommandInbox()
    const client = new AgentRelayClient({
      signer: signers[i]!,
      keys: ring,
      station: 'station',
      transponders: options.direct === true ? ['core'] : transponderIds,
      links: links(id),
      execute: executor(id),
      clock,
      inbox
    })
    if (mutant === 'no-dedupe') {
      // The mutant agent skips its inbox: every delivery runs the command again.
      const run = executor(id)
      inbox.execute = (command) => run(command)
    }
    agents.set(id, client)
    clock.setTimeout(() => { void client.open() }, Math.floor(random.next() * 1000))
  }

  const killAgent = (id: string): void => {
    deadAt.set(id, clock.now())
    net.dead.add(id)
    void agents.get(id)!.close()
  }
  const killTransponder = (id: string): void => {
    net.dead.add(id)
    void transponders.get(id)!.close()
    const reset = new QuorateError('TRANSPONDER_UNDELIVERABLE', `connection to ${id} reset`)
    if (mutant !== 'hanging-sockets') for (const r of openSubmits.get(id)!) r(reset)
  }

  const coordinatorChannel = options.direct === true
    ? undefined
    : new RelayedCommandChannel({
      signer: coordinator,
      keys: ring,
      clock,
      timeoutMs: 2000,
      route: (a) => station!.routeOf(a),
      transponder: (t) => async (commands) => await net.call('coordinator', t, async () => await transponders.get(t)!.deliver(commands))
    })
  /** Sends one command id to every live agent, resending the unanswered ones (same id) until all answered. */
  const fanout = async (id: string): Promise<void> => {
    let targets = ids.filter((a) => !deadAt.has(a))
    for (let attempt = 0; attempt < 8 && targets.length > 0; attempt++) {
      if (attempt > 0) await new Promise<void>((resolve) => { clock.setTimeout(resolve, 1000) })
      const command: AgentCommand = { kind: 'status', id, fence: FENCE }
      if (coordinatorChannel !== undefined && mutant === 'serial-fanout') {
        const failed: string[] = []
        for (const node of targets) await coordinatorChannel.send(node, command).catch(() => { failed.push(node) })
        targets = failed
      } else if (coordinatorChannel !== undefined) {
        const results = await coordinatorChannel.sendMany(targets.map((node) => ({ node, command })))
        targets = targets.filter((_, i) => results[i] instanceof QuorateError)
      } else {
        const results = await Promise.all(targets.map(async (node) => await net.call('core', node, async () => {
          const reply = await agents.get(node)!.handleCommand(sealCommand(coordinator, node, command))
          countInbound()
          return reply
        }).then(() => true, () => false)))
        targets = targets.filter((_, i) => !results[i])
      }
    }
    for (const a of targets) violations.push(`${a} never answered command ${id}`)
  }

  // The scenario.
  const acknowledged = new Set<string>()
  /** Transponders killed, when, and the live agents that were homed on each then. */
  const kills: Array<{ transponder: string, at: number, orphans: string[] }> = []
  const killHome = (t: string): void => {
    kills.push({ transponder: t, at: clock.now(), orphans: ids.filter((a) => !deadAt.has(a) && agents.get(a)!.home === t) })
    killTransponder(t)
  }
  const tasks: Array<Promise<void>> = []
  clock.setTimeout(() => {
    const victims = new Set<string>()
    const k = Math.min(options.killAgents ?? 20, n)
    while (victims.size < k) victims.add(ids[Math.floor(random.next() * n)]!)
    for (const v of victims) killAgent(v)
  }, KILL_AGENTS_AT)
  let fanoutStart = 0
  clock.setTimeout(() => { fanoutStart = clock.now(); tasks.push(fanout('fanout-1')) }, FANOUT_AT)
  clock.setTimeout(() => {
    const live = ids.filter((a) => !deadAt.has(a))
    const home = options.direct === true ? undefined : agents.get(live[Math.floor(random.next() * live.length)]!)!.home
    const storming = home === undefined ? live.slice(0, 100) : live.filter((a) => agents.get(a)!.home === home)
    for (const a of storming) {
      const eventId = `storm-${a}`
      tasks.push(agents.get(a)!.emit({ id: eventId, payload: new TextEncoder().encode('{"type":"storm"}') }).then(() => { acknowledged.add(eventId) }, () => {}))
    }
    if (home !== undefined) {
      clock.setTimeout(() => { killHome(home) }, 5)
    }
  }, STORM_AT)
  clock.setTimeout(() => {
    tasks.push(fanout('fanout-2'))
    if (options.direct !== true) {
      const alive = transponderIds.filter((t) => !net.dead.has(t))
      const victim = alive[Math.floor(random.next() * alive.length)]!
      clock.setTimeout(() => { killHome(victim) }, 9)
    }
  }, FANOUT2_AT)

  // Drive virtual time: fire everything due at the next instant, then let promise chains run.
  for (;;) {
    const due = clock.nextDue()
    if (due === undefined || due > END_AT) break
    clock.advance(due - clock.now())
    await new Promise<void>((resolve) => { setImmediate(resolve) })
  }
  await Promise.race([Promise.all(tasks), new Promise((resolve) => { setImmediate(resolve) })])

  // Checks.
  const detection: number[] = []
  for (const [a, at] of deadAt) {
    const seen = reportedDead.get(a)
    if (seen === undefined) { violations.push(`${a} died at ${at} and was never reported dead`); continue }
    detection.push(seen - at)
    if (seen - at > deathBound) violations.push(`${a} died at ${at}, reported dead after ${seen - at} ms (bound ${deathBound})`)
  }
  const reach: number[] = []
  let within = 0
  let liveAtFanout = 0
  for (const a of ids) {
    if (deadAt.has(a)) continue
    liveAtFanout++
    const at = firstRunAt.get(`${a}\0fanout-1`)
    if (at !== undefined) { reach.push(at - fanoutStart); if (at - fanoutStart <= 2000) within++ }
  }
  const share = liveAtFanout === 0 ? 1 : within / liveAtFanout
  if (share < 0.99) violations.push(`fan-out reached ${(share * 100).toFixed(2)}% of agents within 2 s (target 99%)`)
  let rehome: TransponderSimQuantiles | null = null
  if (kills.length > 0) {
    const times: number[] = []
    for (const { transponder, at, orphans } of kills) {
      for (const a of orphans) {
        const j = (joinedVia.get(a) ?? []).find((x) => x.at >= at && x.via !== transponder)
        if (j === undefined) { violations.push(`${a} never re-homed from ${transponder}`); continue }
        times.push(j.at - at)
        if (j.at - at > rehomeBound) violations.push(`${a} re-homed from ${transponder} after ${j.at - at} ms (bound ${rehomeBound})`)
      }
    }
    rehome = quantiles(times)
  }
  for (const id of acknowledged) if (!stored.has(id)) violations.push(`event ${id} was acknowledged to its agent but never stored`)
  for (const [key, count] of runs) if (count > 1) violations.push(`command ${key.replace('\0', ' ')} ran ${count} times`)
  for (const a of ids) {
    if (!deadAt.has(a) && !runs.has(`${a}\0fanout-2`)) violations.push(`${a} never ran fanout-2`)
  }

  for (const a of agents.values()) await a.close()
  for (const t of transponders.values()) await t.close()
  await station?.close()
  if (liveness !== undefined) {
    // Its close flushes events still committing, on the virtual clock: keep time moving until it is done.
    let closed = false
    const closing = liveness.close().then(() => { closed = true })
    for (let i = 0; i < 10_000 && !closed; i++) {
      const due = clock.nextDue()
      if (due !== undefined) clock.advance(due - clock.now())
      await new Promise<void>((resolve) => { setImmediate(resolve) })
    }
    await closing
  }

  const perSecond = coreInbound / ((STEADY_TO - STEADY_FROM) / 1000)
  return {
    seed: options.seed,
    mode: options.direct === true ? 'direct' : 'transponders',
    mutant,
    agents: n,
    transponders: tCount,
    coreInboundPerSecond: perSecond,
    coreInboundPerSecondPerTransponder: tCount === 0 ? null : perSecond / tCount,
    deathDetectionMs: quantiles(detection),
    fanoutReachMs: quantiles(reach),
    fanoutWithin2s: share,
    rehomeMs: rehome,
    eventsAcknowledged: acknowledged.size,
    eventsStored: stored.size,
    commandRuns,
    violations
  }
}
