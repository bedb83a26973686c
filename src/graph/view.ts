/**
 * GraphView: typed queries over one replica's graph. A view reads the replica live (each call
 * sees the state as of that call); the client hands one out after a ReadIndex barrier for a
 * linearizable read, or at once for a stale-ok one.
 */
import * as q from './query.js'
import type { Hop, Direction } from './query.js'
import { planGc } from './gc.js'
import type { FieldsOf, KindName, Ref, RelationName, Schema, SchemaSpec, FieldValue } from './schema.js'
import type { GraphStateMachine } from './state-machine.js'

/** A resource as a query returns it, its fields typed by its kind. */
export interface ResourceView<S extends SchemaSpec, K extends KindName<S> = KindName<S>> {
  readonly id: string
  readonly kind: K
  readonly version: number
  readonly keep: boolean
  readonly fields: Readonly<FieldsOf<S, K>>
}

type Id = string | Ref

function idOf (r: Id): string { return typeof r === 'string' ? r : r.id }

export class GraphView<S extends SchemaSpec> {
  readonly #machine: GraphStateMachine
  readonly schema: Schema<S>

  constructor (machine: GraphStateMachine, schema: Schema<S>) {
    this.#machine = machine
    this.schema = schema
  }

  /** The index the replica had applied when asked. */
  get appliedIndex (): number { return this.#machine.appliedIndex }

  get<K extends KindName<S>> (r: Ref<K>): ResourceView<S, K> | undefined
  get (r: string): ResourceView<S> | undefined
  get (r: Id): ResourceView<S> | undefined { return this.#machine.graph.get(idOf(r)) as ResourceView<S> | undefined }

  /** The resource's version, 0 if it does not exist (what a compare-and-set expects). */
  version (r: Id): number { return this.#machine.graph.get(idOf(r))?.version ?? 0 }

  byKind<K extends KindName<S>> (kind: K): Array<ResourceView<S, K>> {
    return q.byKind(this.#machine.graph, kind) as unknown as Array<ResourceView<S, K>>
  }

  byField<K extends KindName<S>, F extends keyof FieldsOf<S, K> & string> (kind: K, field: F, value: FieldsOf<S, K>[F] & FieldValue): Array<ResourceView<S, K>> {
    return q.byField(this.#machine.graph, kind, field, value) as unknown as Array<ResourceView<S, K>>
  }

  neighbours (r: Id, relation: RelationName<S>, direction: Direction = 'out'): Array<ResourceView<S>> {
    return q.neighbours(this.#machine.graph, idOf(r), relation, direction) as unknown as Array<ResourceView<S>>
  }

  follow (r: Id, hops: ReadonlyArray<Hop & { relation: RelationName<S> }>): Array<ResourceView<S>> {
    return q.follow(this.#machine.graph, idOf(r), hops) as unknown as Array<ResourceView<S>>
  }

  paths (from: Id, to: Id, maxHops?: number, limit?: number): string[][] {
    return q.paths(this.#machine.graph, idOf(from), idOf(to), maxHops, limit)
  }

  /** What a gc would remove now (unreachable from the roots and not kept), sorted. */
  planGc (): string[] { return planGc(this.#machine.graph, this.schema) }
}
