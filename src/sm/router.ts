/**
 * StateMachineRouter: several named state machines on one Raft log. Each command carries the
 * id of the member it is for (see route-id.ts), the member's result is the entry's result,
 * and one composite snapshot streams every member's own snapshot in turn (snapshot-format.ts)
 * without holding any member's whole state.
 *
 * Invariants:
 * - The member set is fixed before the first apply or restore (mounting later is refused):
 *   every replica must route the same entry to the same member, so the set is part of the
 *   replicated state's shape, and a snapshot records it.
 * - apply never throws for a bad command: an unknown id or a malformed tag is answered with
 *   a QuorateError *value* (SM_UNKNOWN_MACHINE, SM_COMMAND_INVALID), identically on every
 *   replica, because a throwing state machine stops the node. A member's own throw still
 *   stops the node, as it would without the router.
 * - snapshot() asks every member for its stream in the same synchronous turn, so all members
 *   are captured after the same applied index whatever the caller does between chunks.
 *
 * @example
 * const router = new StateMachineRouter()
 * const kv = router.mount('kv', new KvStateMachine())
 * const leases = router.mount('lease', new LeaseTable())
 * const node = new RaftNode({ id, voters, storage, transport, stateMachine: router })
 * await node.open()
 * await kv.bind(node).propose(encodeKvCommand({ op: 'put', key: 'a', value: '1' }))
 */
import { QuorateError } from '../errors.js'
import type { StateMachine } from '../node/state-machine.js'
import { checkBatchResults, isThenable } from '../node/state-machine.js'
import { ChunkStreamReader } from '../util/chunk-reader.js'
import { checkBool, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import { Route } from './route.js'
import { checkMachineId, MAX_MACHINE_ID_LENGTH } from './route-id.js'
import { decodeHeader, encodeHeader, encodeSection, SectionReader } from './snapshot-format.js'

export const ROUTER_DEFAULTS = {
  maxChunkBytes: 16 * 1024 * 1024
} as const

export interface StateMachineRouterOptions {
  /**
   * Largest member chunk the snapshot carries in one piece (bigger ones are split) and the
   * largest a restore accepts, so a corrupt length cannot make a replica allocate gigabytes.
   * Must be the same on every replica. @default 16 MiB
   */
  maxChunkBytes?: number
}

export interface MountOptions {
  /**
   * The member keeps no state of its own (no snapshot()/restore()), for example a view that
   * routes into other members. Without it a member lacking either method is refused, so a
   * forgotten snapshot cannot silently lose a member's state at compaction.
   */
  stateless?: boolean
}

/** A routed command without its member id (the router checked the id is there). */
function payloadOf (command: Uint8Array): Uint8Array { return command.subarray(1 + command[0]!) }

interface Member {
  readonly route: Route
  readonly stateless: boolean
}

export class StateMachineRouter implements StateMachine<unknown> {
  readonly #members: Member[] = []
  readonly #maxChunkBytes: number
  /** True once an entry was applied or a snapshot restored: the member set is fixed. */
  #sealed = false

  constructor (options: StateMachineRouterOptions = {}) {
    const C = 'StateMachineRouterOptions'
    checkObject(options as unknown, C, '(options)')
    checkKnownKeys(options, C, ['maxChunkBytes'])
    const maxChunkBytes = options.maxChunkBytes ?? ROUTER_DEFAULTS.maxChunkBytes
    checkInt(maxChunkBytes, C, 'maxChunkBytes', 1, 0xffffffff)
    this.#maxChunkBytes = maxChunkBytes
  }

  /** Ids of the mounted members, in mount order. */
  get ids (): string[] { return this.#members.map((m) => m.route.id) }

  /** The route of member `id`, if mounted. */
  route (id: string): Route | undefined { return this.#members.find((m) => m.route.id === id)?.route }

  /**
   * Mounts `machine` under `id` and returns its Route (tag commands, bind a node). Refused
   * with SM_MOUNT_INVALID after the first apply or restore, for a duplicate or malformed id,
   * or for a machine without both snapshot() and restore() unless `stateless` is set.
   */
  mount<M extends StateMachine> (id: string, machine: M, options: MountOptions = {}): Route<M> {
    const where = 'StateMachineRouter.mount'
    checkMachineId(id, where)
    if (this.#sealed) throw new QuorateError('SM_MOUNT_INVALID', `${where}: cannot mount ${JSON.stringify(id)} after the router applied an entry or restored a snapshot; mount every member before the node opens`)
    if (this.#members.some((m) => m.route.id === id)) throw new QuorateError('SM_MOUNT_INVALID', `${where}: ${JSON.stringify(id)} is already mounted`)
    if (typeof machine?.apply !== 'function') throw new QuorateError('SM_MOUNT_INVALID', `${where}: ${JSON.stringify(id)} is not a StateMachine (no apply())`)
    checkObject(options as unknown, where, '(options)')
    checkKnownKeys(options, where, ['stateless'])
    const stateless = options.stateless ?? false
    checkBool(stateless, where, 'stateless')
    const hasSnapshot = typeof machine.snapshot === 'function'
    const hasRestore = typeof machine.restore === 'function'
    if (stateless && (hasSnapshot || hasRestore)) throw new QuorateError('SM_MOUNT_INVALID', `${where}: ${JSON.stringify(id)} is declared stateless but has snapshot()/restore()`)
    if (!stateless && !(hasSnapshot && hasRestore)) throw new QuorateError('SM_MOUNT_INVALID', `${where}: ${JSON.stringify(id)} needs both snapshot() and restore() (or { stateless: true } if it keeps no state)`)
    if (this.#members.length >= 255) throw new QuorateError('SM_MOUNT_INVALID', `${where}: at most 255 members`)
    const route = new Route(id, machine)
    this.#members.push({ route, stateless })
    return route
  }

  /**
   * A StateMachine that routes like this router but has no snapshot of its own: what a
   * wrapping member (such as a SessionStateMachine giving every member exactly-once
   * commands) applies its inner commands to. Mount the wrapper with its own id; the
   * wrapped commands are ordinary routed commands.
   */
  dispatcher (): StateMachine<unknown> {
    return { apply: (command, index) => this.apply(command, index) }
  }

  apply (command: Uint8Array, index: number): unknown {
    this.#sealed = true
    const target = this.#target(command, index)
    if (target instanceof QuorateError) return target
    return target.route.machine.apply(payloadOf(command), index)
  }

  /**
   * Applies a run of routed commands: each run of consecutive commands for one member goes to
   * that member's applyBatch (one command, or a member without it: apply), routing errors stay
   * values in their places, and every member call is awaited before the next one starts (the
   * StateMachine contract). Synchronous as long as every member answers synchronously.
   */
  applyBatch (commands: readonly Uint8Array[], firstIndex: number): unknown[] | Promise<unknown[]> {
    this.#sealed = true
    const targets = new Array<Member | QuorateError>(commands.length)
    for (let i = 0; i < commands.length; i++) targets[i] = this.#target(commands[i]!, firstIndex + i)
    return this.#applyFrom(commands, firstIndex, targets, new Array<unknown>(commands.length), 0)
  }

  #applyFrom (commands: readonly Uint8Array[], firstIndex: number, targets: ReadonlyArray<Member | QuorateError>, results: unknown[], from: number): unknown[] | Promise<unknown[]> {
    for (let i = from; i < commands.length;) {
      const target = targets[i]!
      if (target instanceof QuorateError) { results[i++] = target; continue }
      let end = i + 1
      while (end < commands.length && targets[end] === target) end++
      const machine = target.route.machine
      if (end - i > 1 && typeof machine.applyBatch === 'function') {
        const payloads = new Array<Uint8Array>(end - i)
        for (let j = i; j < end; j++) payloads[j - i] = payloadOf(commands[j]!)
        const start = i
        const out = machine.applyBatch(payloads, firstIndex + i)
        const place = (values: readonly unknown[]): void => {
          checkBatchResults(values, payloads.length, `member ${JSON.stringify(target.route.id)}`, firstIndex + start)
          for (let j = 0; j < values.length; j++) results[start + j] = values[j]
        }
        if (isThenable(out)) return Promise.resolve(out).then((values) => { place(values); return this.#applyFrom(commands, firstIndex, targets, results, end) })
        place(out)
        i = end
        continue
      }
      const at = i
      const out = machine.apply(payloadOf(commands[at]!), firstIndex + at)
      if (isThenable(out)) return Promise.resolve(out).then((value) => { results[at] = value; return this.#applyFrom(commands, firstIndex, targets, results, at + 1) })
      results[i++] = out
    }
    return results
  }

  /** The member `command` is for, or the routing error that is its result. */
  #target (command: Uint8Array, index: number): Member | QuorateError {
    const length = command[0]
    if (length === undefined || length === 0 || length > MAX_MACHINE_ID_LENGTH || command.length < 1 + length) {
      return new QuorateError('SM_COMMAND_INVALID', `entry ${index}: not a routed command (${command.length === 0 ? 'empty' : `id length ${length ?? 0} of ${command.length} bytes`})`, { details: { index } })
    }
    // A linear scan over precomputed prefixes: members are few, and it allocates nothing.
    outer: for (const m of this.#members) {
      const prefix = m.route.prefix
      if (prefix[0] !== length) continue
      for (let i = 1; i <= length; i++) if (command[i] !== prefix[i]) continue outer
      return m
    }
    const id = Buffer.from(command.subarray(1, 1 + length)).toString('latin1')
    return new QuorateError('SM_UNKNOWN_MACHINE', `entry ${index}: no member is mounted as ${JSON.stringify(id)} (mounted: ${this.ids.join(', ')})`, { details: { index, id } })
  }

  /** Stateful members in the canonical (sorted) order the snapshot lists them in. */
  #stateful (): Member[] {
    return this.#members.filter((m) => !m.stateless).sort((a, b) => a.route.id < b.route.id ? -1 : 1)
  }

  snapshot (): AsyncIterable<Uint8Array> {
    const members = this.#stateful()
    // Every member captures now, at the same applied index (see the invariants above).
    const streams = members.map((m) => m.route.machine.snapshot!())
    const header = encodeHeader(members.map((m) => m.route.id))
    const maxChunkBytes = this.#maxChunkBytes
    return (async function * () {
      yield header
      for (let i = 0; i < members.length; i++) yield * encodeSection(members[i]!.route.id, streams[i]!, maxChunkBytes)
    })()
  }

  /**
   * Restores every member from its section, in order. Refuses (SM_SNAPSHOT_MISMATCH) before
   * touching any member if the snapshot's members are not exactly the mounted stateful ones;
   * a damaged stream fails SM_SNAPSHOT_INVALID (members already restored keep the new state,
   * and the node stops on the failed restore, as it would for one machine).
   */
  async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    this.#sealed = true
    const reader = new ChunkStreamReader(chunks, 'SM_SNAPSHOT_INVALID', 'router snapshot')
    const ids = await decodeHeader(reader)
    const members = this.#stateful()
    const mounted = members.map((m) => m.route.id)
    if (ids.length !== mounted.length || ids.some((id, i) => id !== mounted[i])) {
      const missing = mounted.filter((id) => !ids.includes(id))
      const extra = ids.filter((id) => !mounted.includes(id))
      throw new QuorateError('SM_SNAPSHOT_MISMATCH', `the snapshot holds members [${ids.join(', ')}] but [${mounted.join(', ')}] are mounted (missing from the snapshot: [${missing.join(', ')}], not mounted: [${extra.join(', ')}])`, { details: { snapshot: ids, mounted } })
    }
    for (const m of members) {
      const section = await SectionReader.open(reader, m.route.id, this.#maxChunkBytes)
      await m.route.machine.restore!(section.chunks())
      await section.drain()
    }
    if (!await reader.atEnd()) reader.fail('bytes after the last member section')
  }
}
