/**
 * The built-in rules, useful on day one:
 *
 * - `instance-state`: an instance reported started or ready on the node it is placed on is
 *   'running'.
 * - `restart`: an instance that exited or failed its liveness check is restarted in place
 *   after a capped exponential backoff (a phase with a wake-up); its failure count expires
 *   `failureExpiryMs` after the first failure it counts. The failure after `maxRestarts`
 *   moves it to another eligible node, which it then avoids until the count would have expired
 *   (so it can come back there later).
 * - `node-failure`: a suspect node is marked; a dead node's instances are moved (spread over
 *   eligible nodes), each leaving a stale record so that the node, when it is back, is told to
 *   stop its copy (no duplicate instance of a singleton); a node back is marked up, told to stop
 *   its stale copies and to start every instance placed on it (it may have restarted and lost
 *   its processes; agents treat a start of a running instance as done). A node report older than
 *   the node's last state change (`since`) is stale and ignored: reports can arrive out of order.
 *
 * Throttles: an action that would bring the commands in flight above `maxInFlight` waits
 * (`deferMs`, as a phase). Circuit breaker: while more than `breakerFraction` of the nodes are
 * suspect or dead, nothing destructive (no move, no stop) is done: with that many failures the
 * likelier cause is the network or the monitors, and moving everything would make it worse.
 */
import { ref } from '../graph/schema.js'
import type { ServiceSpec } from '../agent/protocol.js'
import type { Transaction } from '../graph/client.js'
import type { GraphView } from '../graph/view.js'
import type { HaSpec } from './schema.js'
import type { CommandOrder, PhaseUpdate, Rule, RuleContext, RuleOutcome } from './rule.js'
import { Placement, avoidOf, breakerOpen, getInstance, getNode, nodeOf, place } from './placement.js'
import type { InstanceView } from './placement.js'

type Change = (tx: Transaction<HaSpec>) => void

function all (changes: readonly Change[]): Change { return (tx) => { for (const c of changes) c(tx) } }

export function startOrder (node: string, instance: InstanceView): CommandOrder {
  return {
    node,
    command: {
      kind: 'start',
      instance: instance.id,
      service: JSON.parse(instance.fields.service) as ServiceSpec,
      parameters: JSON.parse(instance.fields.parameters) as Record<string, string>
    }
  }
}

function stopOrder (node: string, instance: string): CommandOrder { return { node, command: { kind: 'stop', instance } } }

/** The avoid map with expired entries dropped and `node` avoided until `until`. */
function avoiding (instance: InstanceView, now: number, node?: string, until?: number): string {
  const out: Record<string, number> = {}
  for (const [n, t] of Object.entries(avoidOf(instance)).sort(([a], [b]) => (a < b ? -1 : 1))) if (t > now) out[n] = t
  if (node !== undefined && until !== undefined) out[node] = until
  return JSON.stringify(out)
}

export const instanceStateRule: Rule = {
  name: 'instance-state',
  on: ['instance-started', 'instance-ready'],
  decide: ({ view, event }) => {
    if (event === undefined || (event.type !== 'instance-started' && event.type !== 'instance-ready')) return undefined
    const inst = getInstance(view, event.instance)
    if (inst === undefined || inst.fields.state === 'stopped' || inst.fields.state === 'running' || nodeOf(view, inst.id) !== event.node) return undefined
    return { change: (tx) => { tx.update(ref('ha.instance', inst.id), { state: 'running' }) }, note: `${inst.id} running on ${event.node}` }
  }
}

/** Moves `inst` off `from` (it failed there too often), if the throttles and the breaker allow. */
function moveOff (ctx: RuleContext, inst: InstanceView, from: string, failureFields: { failures: number, failuresSince: number }): RuleOutcome {
  const { view, now, settings: s } = ctx
  const retry: PhaseUpdate = { subject: inst.id, phase: 'move', data: { from }, wakeAt: now + s.deferMs }
  const markFailed: Change = (tx) => { tx.update(ref('ha.instance', inst.id), { state: 'failed', ...failureFields }) }
  if (breakerOpen(view, s.breakerFraction)) return { change: markFailed, phases: [retry], note: `${inst.id}: move held back, circuit breaker open` }
  if (ctx.inFlight + 2 > s.maxInFlight) return { change: markFailed, phases: [retry], note: `${inst.id}: move held back, ${ctx.inFlight} commands in flight` }
  const target = place(view, inst, now, new Set([from]))
  if (target === undefined) return { change: markFailed, phases: [retry], note: `${inst.id}: no eligible node to move to` }
  const fromUp = getNode(view, from)?.fields.state === 'up'
  return {
    change: (tx) => {
      tx.connect('ha.runs', ref('ha.node', target), ref('ha.instance', inst.id))
      tx.update(ref('ha.instance', inst.id), { state: 'starting', attempt: inst.fields.attempt + 1, failures: 0, failuresSince: now, avoid: avoiding(inst, now, from, now + s.failureExpiryMs) })
      if (!fromUp) tx.put(ref('ha.stale', `stale:${from}:${inst.id}`), { node: from, instance: inst.id })
    },
    commands: [...(fromUp ? [stopOrder(from, inst.id)] : []), startOrder(target, inst)],
    phases: [{ subject: inst.id, phase: null }],
    note: `${inst.id}: failed ${failureFields.failures} times on ${from}, moved to ${target}`
  }
}

export const restartRule: Rule = {
  name: 'restart',
  on: ['instance-exited', 'instance-check-failed'],
  decide: (ctx) => {
    const { view, event, input, now, settings: s } = ctx
    if (input.kind === 'wake') return wakeRestart(ctx, input.subject)
    if (event === undefined || (event.type !== 'instance-exited' && event.type !== 'instance-check-failed')) return undefined
    if (event.type === 'instance-check-failed' && event.check !== 'liveness') return undefined
    const inst = getInstance(view, event.instance)
    // A report from a node the instance no longer runs on, or about a stopped one, is stale.
    if (inst === undefined || inst.fields.state === 'stopped' || nodeOf(view, inst.id) !== event.node) return undefined
    if (ctx.phase(inst.id) !== undefined) return undefined // a restart or move is already pending
    // The count starts at the first failure it counts, and is forgotten failureExpiryMs after it.
    const fresh = inst.fields.failures === 0 || now - inst.fields.failuresSince > s.failureExpiryMs
    const failures = (fresh ? 0 : inst.fields.failures) + 1
    const failuresSince = fresh ? now : inst.fields.failuresSince
    if (failures > s.maxRestarts) return moveOff(ctx, inst, event.node, { failures, failuresSince })
    const delay = Math.min(s.restartBackoffMaxMs, s.restartBackoffInitialMs * 2 ** (failures - 1))
    return {
      change: (tx) => { tx.update(ref('ha.instance', inst.id), { state: 'failed', failures, failuresSince }) },
      phases: [{ subject: inst.id, phase: 'backoff', data: { node: event.node }, wakeAt: now + delay }],
      note: `${inst.id}: failure ${failures} on ${event.node}, restart in ${delay} ms`
    }
  }
}

function wakeRestart (ctx: RuleContext, subject: string): RuleOutcome | undefined {
  const { view, now, settings: s } = ctx
  const phase = ctx.phase(subject)
  const inst = getInstance(view, subject)
  if (phase === undefined || inst === undefined || inst.fields.state === 'stopped') return undefined
  const node = String(phase.data.node ?? phase.data.from)
  if (nodeOf(view, inst.id) !== node) return undefined // moved meanwhile (its node died): nothing left to do
  if (phase.phase === 'move') return moveOff(ctx, inst, node, { failures: inst.fields.failures, failuresSince: inst.fields.failuresSince })
  if (getNode(view, node)?.fields.state !== 'up') return undefined // node-failure moves it
  if (ctx.inFlight + 1 > s.maxInFlight) return { phases: [{ ...phase, wakeAt: now + s.deferMs }], note: `${inst.id}: restart held back, ${ctx.inFlight} commands in flight` }
  return {
    change: (tx) => { tx.update(ref('ha.instance', inst.id), { state: 'starting', attempt: inst.fields.attempt + 1 }) },
    commands: [startOrder(node, inst)],
    note: `${inst.id}: restarted on ${node}`
  }
}

/** Moves the instances still placed on dead `node`, as far as the throttle and eligible nodes allow. */
function evacuate (view: GraphView<HaSpec>, ctx: RuleContext, node: string): RuleOutcome {
  const { now, settings: s } = ctx
  const later: PhaseUpdate = { subject: node, phase: 'evacuate', wakeAt: now + s.deferMs }
  const instances = (view.neighbours(node, 'ha.runs') as InstanceView[]).filter((i) => i.fields.state !== 'stopped').sort((a, b) => (a.id < b.id ? -1 : 1))
  if (instances.length === 0) return { phases: [{ subject: node, phase: null }] }
  if (breakerOpen(view, s.breakerFraction, node)) return { phases: [later], note: `${node}: circuit breaker open, ${instances.length} instance(s) not moved` }
  const changes: Change[] = []
  const commands: CommandOrder[] = []
  const placement = new Placement(view, now)
  let capacity = s.maxInFlight - ctx.inFlight
  let left = 0
  for (const inst of instances) {
    const target = capacity > 0 ? placement.place(inst, new Set([node])) : undefined
    if (target === undefined) { left++; continue }
    capacity--
    placement.assign(target, inst)
    changes.push((tx) => {
      tx.connect('ha.runs', ref('ha.node', target), ref('ha.instance', inst.id))
      tx.update(ref('ha.instance', inst.id), { state: 'starting', attempt: inst.fields.attempt + 1 })
      tx.put(ref('ha.stale', `stale:${node}:${inst.id}`), { node, instance: inst.id })
    })
    commands.push(startOrder(target, inst))
  }
  return {
    change: all(changes),
    commands,
    phases: [left > 0 ? later : { subject: node, phase: null }],
    note: `${node}: moved ${commands.length} instance(s)${left > 0 ? `, ${left} wait` : ''}`
  }
}

export const nodeFailureRule: Rule = {
  name: 'node-failure',
  on: ['node-suspect', 'node-dead', 'node-alive'],
  decide: (ctx) => {
    const { view, event, input } = ctx
    if (input.kind === 'wake') {
      return getNode(view, input.subject)?.fields.state === 'dead' ? evacuate(view, ctx, input.subject) : undefined
    }
    if (event === undefined || (event.type !== 'node-suspect' && event.type !== 'node-dead' && event.type !== 'node-alive')) return undefined
    const node = getNode(view, event.node)
    // Reports can arrive out of order (producers retry through different nodes): one older than
    // the node's last state change is stale, or a node-dead decided after its node-alive would
    // leave the node's copies running for good.
    if (node === undefined || event.at < (node.fields.since ?? -Infinity)) return undefined
    const id = node.id
    const since = event.at
    if (event.type === 'node-suspect') {
      if (node.fields.state !== 'up') return undefined
      return { change: (tx) => { tx.update(ref('ha.node', id), { state: 'suspect', since }) }, note: `${id} suspect` }
    }
    if (event.type === 'node-dead') {
      if (node.fields.state === 'dead') return undefined
      const moved = evacuate(view, ctx, id)
      const unsent = view.byKind('ha.outbox').filter((o) => o.fields.node === id)
      return {
        ...moved,
        change: (tx) => {
          tx.update(ref('ha.node', id), { state: 'dead', since })
          // Commands to a dead node will never be acknowledged; its instances are moved instead.
          for (const o of unsent) tx.delete(ref('ha.outbox', o.id))
          moved.change?.(tx)
        },
        note: `${id} dead; ${moved.note ?? 'nothing placed on it'}`
      }
    }
    // node-alive: stop the copies moved away while it was gone, start what is placed on it (a
    // node that restarted lost its processes; a start of a running instance is a no-op for its agent).
    const stale = view.byKind('ha.stale').filter((s) => s.fields.node === id).sort((a, b) => (a.id < b.id ? -1 : 1))
    const placed = (view.neighbours(id, 'ha.runs') as InstanceView[]).filter((i) => i.fields.state !== 'stopped').sort((a, b) => (a.id < b.id ? -1 : 1))
    return {
      change: (tx) => {
        tx.update(ref('ha.node', id), { state: 'up', since })
        for (const s of stale) tx.delete(ref('ha.stale', s.id))
      },
      commands: [...stale.map((s) => stopOrder(id, s.fields.instance)), ...placed.map((i) => startOrder(id, i))],
      phases: [{ subject: id, phase: null }],
      note: `${id} back: ${stale.length} stale cop${stale.length === 1 ? 'y' : 'ies'} stopped, ${placed.length} started`
    }
  }
}

/** The built-in rules in the order the coordinator runs them. */
export const BUILTIN_RULES: readonly Rule[] = Object.freeze([instanceStateRule, restartRule, nodeFailureRule])
