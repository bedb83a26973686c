/**
 * The graph client: builds transactions locally (each op checked against the schema as it is
 * added, so a bad write fails at the writer before it costs a Raft entry), coalesces them,
 * commits each as one entry through `submit`, and reads from the local replica — stale-ok as
 * is, or linearizable after the `barrier` (ReadIndex). Watches deliver committed changes from
 * an index by pulling from the replica's retained history, so a slow watcher costs no memory.
 *
 * @example
 * const graph = new Graph(schema, { machine, submit: (c, o) => node.propose(c, o), barrier: (o) => node.read(o) })
 * const n1 = ref('node', 'n1')
 * await graph.transaction().put(n1, { host: 'a' }).put(ref('service', 's1'), { port: 80 }).connect('runs', n1, ref('service', 's1')).commit()
 * const view = await graph.read()
 * view.neighbours(n1, 'runs')
 */
import { QuorateError } from '../errors.js'
import { check, checkInt } from '../util/validate.js'
import { relationBetween, validateFields } from './schema.js'
import type { FieldPatch, FieldsOf, FromKind, KindName, Ref, RelationName, Schema, SchemaSpec, ToKind } from './schema.js'
import { coalesce } from './change.js'
import type { Expectation, GraphOp } from './change.js'
import { encodeCommand } from './codec.js'
import type { Fence, GraphResult, GraphTransaction } from './codec.js'
import type { CommittedChange } from './state-machine.js'
import { GraphView } from './view.js'
import { readBarrier, tail, toResult, unlessRefused, validateClientOptions } from './submit.js'
import type { ClientOptions, SubmitOptions } from './submit.js'

export type CommitResult = Extract<GraphResult, { status: 'ok' }>

export interface ReadOptions extends SubmitOptions {
  /** Wait for the ReadIndex barrier first. @default true when a barrier was given */
  readonly linearizable?: boolean
}

export class Graph<S extends SchemaSpec> {
  readonly schema: Schema<S>
  readonly #o: ClientOptions
  readonly #view: GraphView<S>

  constructor (schema: Schema<S>, options: ClientOptions) {
    validateClientOptions('Graph', options)
    this.schema = schema
    this.#o = options
    this.#view = new GraphView(options.machine, schema)
  }

  /** A new, empty transaction. */
  transaction (): Transaction<S> { return new Transaction(this.schema, this.#o) }

  /** The local replica's view, stale-ok (it may lag the leader). */
  local (): GraphView<S> { return this.#view }

  /** A view after the ReadIndex barrier (linearizable), or at once with { linearizable: false }. */
  async read (options: ReadOptions = {}): Promise<GraphView<S>> {
    await readBarrier(this.#o.barrier, options.linearizable ?? this.#o.barrier !== undefined, options.signal)
    return this.#view
  }

  /**
   * Every committed change with index >= `from`, in order, then each new one as it commits,
   * until `signal` aborts (the iterator then ends). Throws GRAPH_HISTORY_TRIMMED when `from`
   * is older than the replica retains (after a restart from a snapshot: read, then watch from
   * `view.appliedIndex + 1`).
   */
  async * watch (from: number, options: SubmitOptions = {}): AsyncIterable<CommittedChange> {
    checkInt(from, 'Graph.watch', 'from', 0)
    const machine = this.#o.machine
    let next = from
    yield * tail(machine, options.signal, () => {
      const batch = machine.changesSince(next)
      if (batch.length > 0) next = batch[batch.length - 1]!.index + 1
      return batch.filter((c) => c.type === 'tx')
    })
  }
}

/**
 * A change log built locally. Methods are typed from the schema: a put's fields must match
 * its kind, a connect's ends must be the relation's kinds. `commit()` coalesces and sends it.
 */
export class Transaction<S extends SchemaSpec> {
  readonly #schema: Schema<S>
  readonly #o: ClientOptions
  readonly #ops: GraphOp[] = []
  readonly #expect = new Map<string, number>()
  readonly #trim = new Set<string>()
  #fence: Fence | undefined
  #committed = false

  constructor (schema: Schema<S>, options: ClientOptions) {
    this.#schema = schema
    this.#o = options
  }

  /** Creates the resource or replaces its fields. */
  put<K extends KindName<S>> (r: Ref<K>, fields: FieldsOf<S, K>): this {
    validateFields(this.#schema, r.kind, fields as Record<string, unknown>, false)
    return this.#add({ op: 'put', id: r.id, kind: r.kind, fields: { ...fields } as Record<string, string | number | boolean> })
  }

  /** Merges fields into an existing resource; null clears an optional field. */
  update<K extends KindName<S>> (r: Ref<K>, patch: FieldPatch<S, K>): this {
    validateFields(this.#schema, r.kind, patch as Record<string, unknown>, true)
    return this.#add({ op: 'update', id: r.id, fields: { ...patch } as Record<string, string | number | boolean | null> })
  }

  delete (r: Ref<KindName<S>>): this { return this.#add({ op: 'delete', id: r.id }) }

  /** Adds an edge; an end of cardinality 'one' loses the edge it had. */
  connect<R extends RelationName<S>> (relation: R, from: Ref<FromKind<S, R>>, to: Ref<ToKind<S, R>>): this {
    relationBetween(this.#schema, relation, from.kind, to.kind)
    return this.#add({ op: 'connect', relation, from: from.id, to: to.id })
  }

  disconnect<R extends RelationName<S>> (relation: R, from: Ref<FromKind<S, R>>, to: Ref<ToKind<S, R>>): this {
    relationBetween(this.#schema, relation, from.kind, to.kind)
    return this.#add({ op: 'disconnect', relation, from: from.id, to: to.id })
  }

  /** Marks (or unmarks) a resource as a GC root. */
  keep (r: Ref<KindName<S>>, keep = true): this { return this.#add({ op: 'keep', id: r.id, keep }) }

  /** Removes the given unreachable resources (from `view.planGc()`), or with no list whatever is unreachable then. */
  gc (ids?: readonly string[]): this { return this.#add({ op: 'gc', ids: ids === undefined ? null : [...ids] }) }

  /** Compare-and-set: commit only if the resource is at `version` (0: it must not exist). */
  expect (r: Ref<KindName<S>> | string, version: number): this {
    checkInt(version, 'Transaction.expect', 'version', 0)
    const id = typeof r === 'string' ? r : r.id
    const prior = this.#expect.get(id)
    check(prior === undefined || prior === version, 'Transaction.expect', id, `one expected version (already ${String(prior)})`, version)
    this.#expect.set(id, version)
    return this
  }

  /** Acts under lease `name` with `token`: the machine refuses it (LEASE_FENCED) if a newer token was applied. */
  fence (name: string, token: number): this {
    check(typeof name === 'string' && name.length > 0, 'Transaction.fence', 'name', 'a non-empty string', name)
    checkInt(token, 'Transaction.fence', 'token', 0)
    this.#fence = { name, token }
    return this
  }

  /** Trims these events in the same entry (the events queue's `handle`). */
  handles (eventIds: Iterable<string>): this {
    for (const id of eventIds) {
      check(typeof id === 'string' && id.length > 0, 'Transaction.handles', 'eventIds', 'non-empty strings', id)
      this.#trim.add(id)
    }
    return this
  }

  /** The coalesced ops as they would be sent. */
  get ops (): GraphOp[] { return coalesce(this.#ops) }

  /** The command this transaction encodes to (stamped with `time`). */
  command (time: number): GraphTransaction {
    const expect: Expectation[] = [...this.#expect].map(([id, version]) => ({ id, version }))
    return { type: 'tx', time, ...(this.#fence === undefined ? {} : { fence: this.#fence }), expect, ops: this.ops, trim: [...this.#trim] }
  }

  /**
   * Commits as one entry. Resolves with the index and what changed; rejects with the refusal's
   * code (GRAPH_CONFLICT, LEASE_FENCED, EVENTS_NOT_FOUND, GRAPH_*) or whatever submit rejects
   * with (then the outcome may be unknown: read before retrying, or retry with `expect`).
   */
  async commit (options: SubmitOptions = {}): Promise<CommitResult> {
    if (this.#committed) throw new QuorateError('GRAPH_COMMAND_INVALID', 'This transaction was already committed; build a new one')
    this.#committed = true
    const time = Math.max(0, Math.floor((this.#o.now ?? Date.now)()))
    const value = await this.#o.submit(encodeCommand(this.command(time)), options)
    return unlessRefused<CommitResult>(toResult(value))
  }

  #add (op: GraphOp): this {
    if (this.#committed) throw new QuorateError('GRAPH_COMMAND_INVALID', 'This transaction was already committed; build a new one')
    this.#ops.push(op)
    return this
  }
}
