/**
 * A seeded simulator of mirrored TupleStores syncing over a faulty network (docs/tuple-sync.md):
 * virtual time, message loss, duplication and reordering, partitions in a mesh, star or
 * chain topology, replicas cut off for longer than the retention time, and crashes with
 * a restart from the replica's database. After every step each live replica's visible
 * tuples are compared with the reference model (model.ts); after the faulty phase the
 * network heals and anti-entropy rounds must converge with a bounded number of resyncs.
 *
 * One seed reproduces a run exactly: all randomness comes from one SeededRandom and all
 * time from a ManualClock.
 */
import { MemoryLevel } from 'memory-level'
import { LamportClock } from '../../lamport/clock.js'
import { TupleStore } from '../../lamport/store.js'
import { ANY, REST } from '../../lamport/tuple.js'
import { negative, positive, type Update } from '../../lamport/update.js'
import type { TupleMutations } from '../../lamport/test-hooks.js'
import { withTupleMutations } from '../../lamport/test-hooks.js'
import type { SyncRequest, SyncResponse } from '../../lamport/sync.js'
import { randomInt, SeededRandom } from '../../util/random.js'
import { check, checkInt } from '../../util/validate.js'
import { ManualClock } from '../manual-clock.js'
import { TupleModel, type ModelUpdate } from './model.js'

export type TupleTopology = 'mesh' | 'star' | 'chain'

export interface TupleSimulationOptions {
  readonly seed: number
  /** @default 'mesh' */
  readonly topology?: TupleTopology
  /** @default 3 */
  readonly replicas?: number
  /** Steps of the faulty phase. @default 60 */
  readonly steps?: number
  /** Replay-log retention of every store, in virtual ms. @default 1000 */
  readonly retentionMs?: number
  /** Probability that a message is lost, duplicated. @default 0.15, 0.1 */
  readonly loss?: number
  readonly duplication?: number
  /** Broken store variants (must be caught). @default {} */
  readonly mutations?: TupleMutations
}

export interface TupleSimulationResult {
  readonly seed: number
  readonly topology: TupleTopology
  /** Empty when the run passed. */
  readonly violations: string[]
  /** Tuples visible although the model says cancelled (summed over checks). */
  readonly resurrections: number
  /** Tuples the model says visible that a replica did not show (summed over checks). */
  readonly lost: number
  readonly converged: boolean
  /** Snapshots loaded during the healing rounds, and the bound they must stay within. */
  readonly resyncsAfterHeal: number
  readonly resyncBound: number
  readonly resyncsDuringFaults: number
  readonly transactions: number
  readonly crashes: number
  /** Replicas that were cut off for longer than the retention time. */
  readonly awayPastHorizon: number
  readonly healRounds: number
}

interface Message {
  readonly from: number
  readonly to: number
  readonly at: number
  readonly body: SyncRequest | SyncResponse
  /** For a snapshot response: what the server had received when it cut it. */
  readonly knowledge: readonly string[]
}

function links (topology: TupleTopology, nodes: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      const a = nodes[i] as number
      const b = nodes[j] as number
      if (topology === 'mesh' || (topology === 'star' && i === 0) || (topology === 'chain' && j === i + 1)) out.push([a, b])
    }
  }
  return out
}

const linkKey = (a: number, b: number): string => a < b ? `${a}-${b}` : `${b}-${a}`

class Run {
  readonly random: SeededRandom
  readonly time = new ManualClock()
  readonly nodes: number[]
  readonly links: Array<[number, number]>
  readonly dbs = new Map<number, MemoryLevel>()
  readonly stores = new Map<number, TupleStore>()
  readonly down = new Set<number>()
  readonly cut = new Set<string>()
  /** Replica -> virtual time until which it is isolated. */
  readonly isolated = new Map<number, number>()
  readonly model: TupleModel
  network: Message[] = []
  readonly violations: string[] = []
  resurrections = 0
  lost = 0
  crashes = 0
  away = 0

  constructor (readonly options: Required<TupleSimulationOptions>) {
    this.random = new SeededRandom(options.seed)
    this.nodes = Array.from({ length: options.replicas }, (_, i) => i + 1)
    this.links = links(options.topology, this.nodes)
    this.model = new TupleModel(this.nodes, ANY)
  }

  async open (node: number): Promise<void> {
    let db = this.dbs.get(node)
    if (db === undefined) this.dbs.set(node, db = new MemoryLevel())
    const store = new TupleStore(withTupleMutations({
      clock: new LamportClock({ node }),
      db,
      sync: false,
      mirrors: this.nodes.filter((n) => n !== node),
      retentionMs: this.options.retentionMs,
      time: this.time
    }, this.options.mutations))
    await store.open()
    this.stores.set(node, store)
  }

  store (node: number): TupleStore { return this.stores.get(node) as TupleStore }

  reachable (a: number, b: number): boolean {
    const now = this.time.now()
    const away = (n: number): boolean => (this.isolated.get(n) ?? -1) > now
    return !this.down.has(a) && !this.down.has(b) && !this.cut.has(linkKey(a, b)) && !away(a) && !away(b)
  }

  pick<T> (list: readonly T[]): T { return list[randomInt(this.random, 0, list.length)] as T }

  /** A small random transaction: positives, exact cancellations and [k, ANY] rules collide often. */
  workload (): { updates: Update[], model: ModelUpdate[] } {
    const updates: Update[] = []
    const model: ModelUpdate[] = []
    const asserted = new Set<string>()
    const n = randomInt(this.random, 1, 3)
    for (let i = 0; i < n; i++) {
      const k = randomInt(this.random, 0, 3)
      const v = randomInt(this.random, 0, 3)
      const roll = this.random.next()
      if (roll < 0.55) {
        updates.push(positive([k, v]))
        model.push({ positive: true, fields: [k, v] })
        asserted.add(`${k},${v}`)
      } else if (roll < 0.8) {
        if (asserted.has(`${k},${v}`)) continue
        updates.push(negative([k, v]))
        model.push({ positive: false, fields: [k, v] })
      } else {
        updates.push(negative([k, ANY]))
        model.push({ positive: false, fields: [k, ANY] })
      }
    }
    // An exact cancellation written before the positive of the same tuple is also invalid.
    const ok = !model.some((u) => !u.positive && u.fields[1] !== ANY && asserted.has(`${u.fields[0] as number},${u.fields[1] as number}`))
    return ok ? { updates, model } : { updates: updates.filter((u) => u.kind === 'positive'), model: model.filter((u) => u.positive) }
  }

  async write (node: number): Promise<void> {
    const { updates, model } = this.workload()
    if (updates.length === 0) return
    const t = await this.store(node).transact(updates)
    this.model.write(node, t.stamp.counter, model)
  }

  send (from: number, to: number, body: SyncRequest | SyncResponse, knowledge: readonly string[] = []): void {
    const copies = this.random.next() < this.options.duplication ? 2 : 1
    for (let c = 0; c < copies; c++) {
      if (this.random.next() < this.options.loss) continue
      this.network.push({ from, to, body, knowledge, at: this.time.now() + randomInt(this.random, 1, 200) })
    }
  }

  async deliver (m: Message): Promise<void> {
    if (!this.reachable(m.from, m.to)) return // lost on a cut link or at a crashed node
    const store = this.store(m.to)
    if (m.body.type === 'sync-request') {
      const response = await store.syncResponse(m.body)
      const knowledge = response.snapshot !== null ? [...this.model.known(m.to)] : []
      this.send(m.to, m.from, response, knowledge)
    } else {
      await store.applySync(m.body)
      this.model.receive(m.to, m.body.transactions.map((t) => `${t.stamp.counter}@${t.stamp.node}`))
      this.model.receive(m.to, m.knowledge)
    }
  }

  /** Delivers every message due by now, in due order (ties in a random order). */
  async deliverDue (): Promise<void> {
    const now = this.time.now()
    const due = this.network.filter((m) => m.at <= now)
    this.network = this.network.filter((m) => m.at > now)
    due.sort((a, b) => a.at - b.at)
    for (const m of due) await this.deliver(m)
  }

  async crash (node: number): Promise<void> {
    // Every operation was awaited, so the database holds all of it: a restart must too.
    this.stores.delete(node)
    this.down.add(node)
    this.crashes++
  }

  async restart (node: number): Promise<void> {
    this.down.delete(node)
    await this.open(node)
  }

  check (when: string): void {
    for (const node of this.nodes) {
      if (this.down.has(node)) continue
      const expected = this.model.visibleAt(node)
      const actual = new Set(this.store(node).query([REST]).map((t) => JSON.stringify(t)))
      for (const t of actual) {
        if (!expected.has(t)) { this.resurrections++; this.violations.push(`${when}: replica ${node} shows ${t}, which the model says is cancelled (resurrection)`) }
      }
      for (const t of expected) {
        if (!actual.has(t)) { this.lost++; this.violations.push(`${when}: replica ${node} lacks ${t}, which the model says is visible (lost)`) }
      }
    }
  }

  async step (i: number): Promise<void> {
    this.time.advance(randomInt(this.random, 10, 120))
    const roll = this.random.next()
    const up = this.nodes.filter((n) => !this.down.has(n))
    if (roll < 0.35 && up.length > 0) {
      await this.write(this.pick(up))
    } else if (roll < 0.7) {
      const [a, b] = this.pick(this.links)
      const [from, to] = this.random.next() < 0.5 ? [a, b] : [b, a]
      if (!this.down.has(from)) this.send(from, to, this.store(from).syncRequest())
    } else if (roll < 0.8) {
      const [a, b] = this.pick(this.links)
      const k = linkKey(a, b)
      if (this.cut.has(k)) this.cut.delete(k)
      else this.cut.add(k)
    } else if (roll < 0.85) {
      // Away past the horizon: cut off for longer than the retention time.
      const node = this.pick(this.nodes)
      if ((this.isolated.get(node) ?? -1) <= this.time.now()) {
        this.isolated.set(node, this.time.now() + this.options.retentionMs * 2)
        this.away++
      }
    } else if (roll < 0.9) {
      const node = this.pick(this.nodes)
      if (this.down.has(node)) await this.restart(node)
      else await this.crash(node)
    }
    await this.deliverDue()
    this.check(`step ${i}`)
  }

  /** Full sync of every link in both directions, without faults. Returns transactions applied. */
  async healRound (): Promise<number> {
    let applied = 0
    for (const [a, b] of this.links) {
      for (const [from, to] of [[a, b], [b, a]] as const) {
        const response = await this.store(to).syncResponse(this.store(from).syncRequest())
        const knowledge = response.snapshot !== null ? [...this.model.known(to)] : []
        const r = await this.store(from).applySync(response)
        applied += r.applied + (r.resynced ? 1 : 0)
        this.model.receive(from, response.transactions.map((t) => `${t.stamp.counter}@${t.stamp.node}`))
        this.model.receive(from, knowledge)
      }
    }
    return applied
  }

  resyncs (): number {
    let n = 0
    for (const s of this.stores.values()) n += s.syncStats.resyncs
    return n
  }
}

/**
 * Bound on snapshots loaded while healing: n(n - 1), once per ordered pair of replicas.
 * A replica resyncs from a server only while its vector is below the server's log floor
 * for some origin; one snapshot lifts it to the server's vector. Floors move again only
 * when the server itself loads a snapshot (a replica away past the horizon also dropped
 * its own log for the others, so both sides of its link may resync), which bounds the
 * chain. Measured maxima are in docs/tuple-sync.md.
 */
export function tupleResyncBound (replicas: number): number {
  return replicas * (replicas - 1)
}

const DEFAULTS: Omit<Required<TupleSimulationOptions>, 'seed'> = {
  topology: 'mesh', replicas: 3, steps: 60, retentionMs: 1000, loss: 0.15, duplication: 0.1, mutations: {}
}

function validate (options: TupleSimulationOptions): Required<TupleSimulationOptions> {
  const C = 'runTupleSimulation'
  check(typeof options === 'object' && options !== null, C, 'options', 'an object', options)
  for (const key of Object.keys(options)) check(key === 'seed' || key in DEFAULTS, C, key, 'a known option', key)
  const o = { ...DEFAULTS, ...options }
  checkInt(o.seed, C, 'seed', 0, 0xffffffff)
  check(['mesh', 'star', 'chain'].includes(o.topology), C, 'topology', "'mesh', 'star' or 'chain'", o.topology)
  checkInt(o.replicas, C, 'replicas', 2, 16)
  checkInt(o.steps, C, 'steps', 0)
  checkInt(o.retentionMs, C, 'retentionMs', 1)
  for (const f of ['loss', 'duplication'] as const) check(typeof o[f] === 'number' && o[f] >= 0 && o[f] < 1, C, f, 'a probability in [0, 1)', o[f])
  check(typeof o.mutations === 'object' && o.mutations !== null, C, 'mutations', 'an object', o.mutations)
  return o
}

export async function runTupleSimulation (options: TupleSimulationOptions): Promise<TupleSimulationResult> {
  const o = validate(options)
  const run = new Run(o)
  for (const n of run.nodes) await run.open(n)
  for (let i = 0; i < o.steps; i++) await run.step(i)
  // Heal: every replica back, every link up, nothing in flight.
  for (const n of [...run.down]) await run.restart(n)
  run.cut.clear()
  run.isolated.clear()
  run.network = []
  run.time.advance(1)
  const before = run.resyncs()
  const maxRounds = 2 * o.replicas + 2
  let rounds = 0
  while (rounds < maxRounds) {
    rounds++
    const applied = await run.healRound()
    run.check(`heal round ${rounds}`)
    if (applied === 0) break
  }
  const resyncsAfterHeal = run.resyncs() - before
  const resyncBound = tupleResyncBound(o.replicas)
  const all = new Set(run.model.allIds())
  let converged = true
  for (const n of run.nodes) {
    if (run.model.known(n).size !== all.size) {
      converged = false
      run.violations.push(`after healing, replica ${n} received ${run.model.known(n).size} of ${all.size} transactions`)
    }
  }
  const sets = run.nodes.map((n) => JSON.stringify([...new Set(run.store(n).query([REST]).map((t) => JSON.stringify(t)))].sort()))
  if (sets.some((s) => s !== sets[0])) {
    converged = false
    run.violations.push('after healing, replicas show different tuples')
  }
  if (resyncsAfterHeal > resyncBound) run.violations.push(`${resyncsAfterHeal} resyncs after healing, above the bound ${resyncBound}`)
  return {
    seed: o.seed,
    topology: o.topology,
    violations: run.violations,
    resurrections: run.resurrections,
    lost: run.lost,
    converged,
    resyncsAfterHeal,
    resyncBound,
    resyncsDuringFaults: before,
    transactions: run.model.transactions,
    crashes: run.crashes,
    awayPastHorizon: run.away,
    healRounds: rounds
  }
}
