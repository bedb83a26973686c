/**
 * ReplicatedLevel: an abstract-level database whose writes go through Raft. Every put, del,
 * batch (array or chained) and clear is one log entry, applied on every replica to that
 * replica's local database by the LevelStateMachine mounted on the node's router; reads are
 * served from this replica's local database after a read barrier chosen by `readMode`.
 *
 * Invariants:
 * - A write resolves once its entry is committed and applied on this node (RaftNode.propose),
 *   so a read through the same database afterwards sees it, in every read mode.
 * - An iterator reads one local snapshot taken after its barrier; a write issued through this
 *   database after the iterator was created waits until that snapshot exists, so iterators
 *   never see writes made after their creation (abstract-level's implicit snapshots).
 * - The node, its router and the local database belong to the caller: opening this database
 *   opens the local one (through the machine); closing it closes neither.
 *
 * @example
 * const router = new StateMachineRouter()
 * const level = router.mount('level', new LevelStateMachine({ db: new MemoryLevel() }))
 * const node = new RaftNode({ id, voters, storage, transport, stateMachine: router, forwardProposals: true })
 * await node.open()
 * const db = new ReplicatedLevel({ node, route: level })
 * await db.put('a', '1')
 */
import { AbstractLevel } from 'abstract-level'
import type { AbstractDatabaseOptions } from 'abstract-level'
import { QuorateError } from '../errors.js'
import type { CommandTarget, Route, RoutedNode } from '../sm/route.js'
import { check, checkMethods, checkObject } from '../util/validate.js'
import { encodeLevelCommand } from './codec.js'
import type { LevelBatchOp, LevelCommand, LevelRange } from './codec.js'
import { ReplicatedIterator } from './iterator.js'
import type { RangeIteratorOptions } from './iterator.js'
import { LevelStateMachine, VIEW } from './machine.js'
import type { LocalLevel } from './machine.js'

/**
 * How a read is ordered with the writes of other replicas.
 * - `linearizable`: node.read() (ReadIndex): the read sees every write that completed anywhere
 *   before it started.
 * - `lease`: node.read() too; it skips the quorum round trip only when the RaftNode was built
 *   with `readMode: 'lease'` (and then `linearizable` reads use the lease as well: the choice
 *   between round trip and lease is the node's).
 * - `local`: no barrier: this replica's applied state, possibly behind the leader.
 */
export type ReadMode = 'linearizable' | 'lease' | 'local'
const READ_MODES: readonly ReadMode[] = ['linearizable', 'lease', 'local']

export const REPLICATED_LEVEL_DEFAULTS = { readMode: 'linearizable' } as const

export interface ReplicatedLevelOptions<K = string, V = string> extends AbstractDatabaseOptions<K, V> {
  /**
   * The node writes are proposed through and read barriers asked of (a RaftNode). On a
   * follower, writes are forwarded to the leader if the node was built with
   * `forwardProposals: true`; otherwise they reject with RAFT_NOT_LEADER, whose
   * `info.leader` names the leader when known.
   */
  node: CommandTarget
  /** The route of the LevelStateMachine mounted on the node's router. */
  route: Route<LevelStateMachine>
  /** Default read mode; every read and iterator takes `readMode` too. @default 'linearizable' */
  readMode?: ReadMode
}

const C = 'ReplicatedLevelOptions'

interface ReadOptions { readonly readMode?: unknown }

type WriteOp = { type: 'put' | 'del', key: Uint8Array, value?: Uint8Array }

export class ReplicatedLevel<K = string, V = string> extends AbstractLevel<Uint8Array, K, V> {
  readonly #node: RoutedNode
  readonly #machine: LevelStateMachine
  readonly #local: LocalLevel
  readonly #readMode: ReadMode
  /** Iterators whose local snapshot is not taken yet: later writes wait for them. */
  readonly #pendingIterators = new Set<Promise<void>>()

  constructor (options: ReplicatedLevelOptions<K, V>) {
    checkObject(options, C, '(options)')
    // Keys other than node, route and readMode are abstract-level's: it forwards constructor
    // options to open() and to postopen hooks (userland options included), so they are not
    // refused here; abstract-level validates the ones it knows (encodings, passive).
    const { node, route, readMode: mode, ...levelOptions } = options
    checkMethods(options.node, C, 'node', 'a RaftNode', ['propose', 'read'])
    check(options.route?.machine instanceof LevelStateMachine, C, 'route', 'the Route of a mounted LevelStateMachine', options.route)
    const readMode = mode ?? REPLICATED_LEVEL_DEFAULTS.readMode
    checkReadMode(readMode, C)
    // Reads go to the machine's data sublevel; the manifest follows the database beneath it.
    const local = options.route.machine.data
    super({
      seek: true,
      permanence: options.route.machine.db.supports.permanence,
      createIfMissing: false,
      errorIfExists: false,
      has: true,
      getSync: false,
      implicitSnapshots: true,
      explicitSnapshots: false,
      encodings: { view: true }
    } as ConstructorParameters<typeof AbstractLevel>[0], levelOptions as never)
    this.#node = route.bind(node)
    this.#machine = route.machine
    this.#local = local
    this.#readMode = readMode
  }

  /** The default read mode. */
  get readMode (): ReadMode { return this.#readMode }

  async _open (): Promise<void> { await this.#machine.open() }

  async _close (): Promise<void> {}

  // ------------------------------------------------------------------ reads

  /** The barrier a read in `options`' mode waits for, or null for a local read. */
  #barrier (options: ReadOptions | undefined): Promise<unknown> | null {
    const mode = options?.readMode ?? this.#readMode
    checkReadMode(mode, 'ReplicatedLevel read options')
    return mode === 'local' ? null : this.#node.read()
  }

  async _get (key: Uint8Array, options: ReadOptions): Promise<Uint8Array | undefined> {
    await this.#barrier(options)
    return await this.#local.get(key, VIEW)
  }

  async _getMany (keys: Uint8Array[], options: ReadOptions): Promise<Array<Uint8Array | undefined>> {
    await this.#barrier(options)
    return await this.#local.getMany(keys, VIEW)
  }

  async _has (key: Uint8Array, options: ReadOptions): Promise<boolean> {
    await this.#barrier(options)
    return await this.#local.get(key, VIEW) !== undefined
  }

  async _hasMany (keys: Uint8Array[], options: ReadOptions): Promise<boolean[]> {
    await this.#barrier(options)
    return (await this.#local.getMany(keys, VIEW)).map((v) => v !== undefined)
  }

  _iterator (options: RangeIteratorOptions & ReadOptions): ReplicatedIterator<this> {
    const it = new ReplicatedIterator(this, options, this.#local, this.#barrier(options))
    const settled = it.settled
    this.#pendingIterators.add(settled)
    void settled.then(() => this.#pendingIterators.delete(settled))
    return it
  }

  // ----------------------------------------------------------------- writes

  async #propose (command: LevelCommand): Promise<void> {
    if (this.#pendingIterators.size > 0) await Promise.all([...this.#pendingIterators])
    const result = await this.#node.propose(encodeLevelCommand(command))
    if (result instanceof Error) throw result
  }

  async _put (key: Uint8Array, value: Uint8Array): Promise<void> {
    await this.#propose({ op: 'put', key, value })
  }

  async _del (key: Uint8Array): Promise<void> {
    await this.#propose({ op: 'del', key })
  }

  async _batch (operations: WriteOp[]): Promise<void> {
    if (operations.length === 0) return
    const ops = operations.map((o): LevelBatchOp => o.type === 'put'
      ? { type: 'put', key: o.key, value: o.value! }
      : { type: 'del', key: o.key })
    await this.#propose({ op: 'batch', ops })
  }

  async _clear (options: RangeIteratorOptions): Promise<void> {
    const range: { -readonly [P in keyof LevelRange]: LevelRange[P] } = { reverse: options.reverse === true, limit: options.limit ?? -1 }
    for (const k of ['gt', 'gte', 'lt', 'lte'] as const) if (options[k] instanceof Uint8Array) range[k] = options[k]
    // abstract-level spells "no limit" as -1 or Infinity.
    if (!Number.isSafeInteger(range.limit) || range.limit < 0) range.limit = -1
    await this.#propose({ op: 'clear', range })
  }
}

function checkReadMode (mode: unknown, where: string): asserts mode is ReadMode {
  if (!READ_MODES.includes(mode as ReadMode)) {
    throw new QuorateError('OPTIONS_INVALID', `${where}: option "readMode" must be one of ${READ_MODES.map((m) => `'${m}'`).join(', ')} (got ${JSON.stringify(mode)})`, { details: { field: 'readMode' } })
  }
}
