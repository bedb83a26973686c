/**
 * The part of the resource graph the coordinator owns: the kinds and relation its built-in
 * rules and its own bookkeeping use, merged into the user's schema by `coordinatorSchema`.
 * Everything the coordinator knows lives here (it keeps no state of its own), so a new
 * coordinator resumes exactly where the old one stopped:
 *
 * - `ha.node`      a node agents run on: its kind, labels and state (up, suspect, dead);
 * - `ha.instance`  a service instance: how to run it, placement constraints, its state and
 *                  failure count; `ha.runs` (node -> instance, at most one node) places it;
 * - `ha.phase`     a phased rule's progress for one subject, with the wall-clock time to wake it;
 * - `ha.outbox`    a command decided and committed but not yet acknowledged by its agent;
 * - `ha.stale`     an instance moved off a node that could not be told (dead): stopped when it returns;
 * - `ha.decision`  the decision record (input, graph index, rule, change, commands);
 * - `ha.epoch`     the acting coordinator's token and the next decision number.
 *
 * Every ha kind is a GC root: the coordinator deletes its records itself.
 */
import { QuorateError } from '../errors.js'
import { defineSchema } from '../graph/schema.js'
import type { Schema, KindSpec, RelationSpec } from '../graph/schema.js'

export const HA_KINDS = {
  /** `since`: the report time (the monitor's clock) of the last state change: an older report is stale. */
  'ha.node': { fields: { kind: 'string', labels: 'string', state: 'string', since: 'number?' } },
  'ha.instance': {
    fields: {
      /** The ServiceSpec as JSON. */
      service: 'string',
      /** The start parameters as JSON (a string map). */
      parameters: 'string',
      nodeKind: 'string?',
      label: 'string?',
      /** Anti-affinity group: no two instances of one group on one node. */
      group: 'string?',
      /** 'starting' | 'running' | 'failed' | 'stopped' */
      state: 'string',
      failures: 'integer',
      /** Wall-clock ms the current failure count started at (it expires failureExpiryMs later). */
      failuresSince: 'number',
      /** Bumped by every start order (command ids carry it). */
      attempt: 'integer',
      /** JSON { node: wall-clock ms until which the instance avoids that node }. */
      avoid: 'string'
    }
  },
  'ha.phase': { fields: { rule: 'string', subject: 'string', phase: 'string', data: 'string', wakeAt: 'number?' } },
  'ha.outbox': { fields: { node: 'string', command: 'string', decision: 'integer' } },
  'ha.stale': { fields: { node: 'string', instance: 'string' } },
  'ha.decision': {
    fields: {
      seq: 'integer', rule: 'string', input: 'string', graphIndex: 'integer', ops: 'string', commands: 'string', phases: 'string', token: 'integer', note: 'string'
    }
  },
  'ha.epoch': { fields: { token: 'integer', holder: 'string', seq: 'integer' } }
} as const satisfies Record<string, KindSpec>

export const HA_RELATIONS = {
  'ha.runs': { from: 'ha.node', to: 'ha.instance', outgoing: 'many', incoming: 'one' }
} as const satisfies Record<string, RelationSpec>

export type HaKinds = typeof HA_KINDS
export type HaRelations = typeof HA_RELATIONS

/** The coordinator's schema on its own (what the built-in rules are typed against). */
export interface HaSpec { readonly kinds: HaKinds, readonly relations: HaRelations, readonly roots?: ReadonlyArray<keyof HaKinds> }

/** The id of the single epoch record. */
export const EPOCH_ID = 'ha.epoch'

const HA_ROOTS = Object.keys(HA_KINDS) as Array<keyof HaKinds>

/**
 * The user's kinds and relations plus the coordinator's (every `ha.*` kind a GC root).
 * GRAPH_SCHEMA_INVALID if a user kind or relation starts with `ha.`.
 */
export function coordinatorSchema<const K extends Readonly<Record<string, KindSpec>> = Record<never, KindSpec>, const R extends Readonly<Record<string, RelationSpec<keyof (K & HaKinds) & string>>> = Record<never, RelationSpec>> (
  spec: { kinds?: K, relations?: R, roots?: ReadonlyArray<keyof K & string> } = {}
): Schema<{ readonly kinds: K & HaKinds, readonly relations: R & HaRelations, readonly roots?: ReadonlyArray<keyof (K & HaKinds) & string> }> {
  for (const name of [...Object.keys(spec.kinds ?? {}), ...Object.keys(spec.relations ?? {})]) {
    if (name.startsWith('ha.')) throw new QuorateError('GRAPH_SCHEMA_INVALID', `coordinatorSchema: the name "${name}" is reserved (ha.* belongs to the coordinator)`)
  }
  return defineSchema({
    kinds: { ...spec.kinds, ...HA_KINDS } as K & HaKinds,
    relations: { ...spec.relations, ...HA_RELATIONS } as R & HaRelations,
    roots: [...(spec.roots ?? []), ...HA_ROOTS]
  })
}

/** Throws COORDINATOR_SCHEMA_INVALID unless `schema` declares every ha kind and relation exactly as HA_KINDS / HA_RELATIONS. */
export function checkCoordinatorSchema (schema: Schema, component: string): void {
  for (const [kind, k] of Object.entries(HA_KINDS)) {
    const fields = schema.fields.get(kind)
    const same = fields !== undefined && Object.entries(k.fields).every(([f, type]) => {
      const have = fields.get(f)
      return have !== undefined && `${have.type}${have.optional ? '?' : ''}` === type
    }) && fields.size === Object.keys(k.fields).length
    if (!same) throw new QuorateError('COORDINATOR_SCHEMA_INVALID', `${component}: the graph schema must include the coordinator's kind "${kind}" as declared (build it with coordinatorSchema())`)
  }
  for (const [name, r] of Object.entries(HA_RELATIONS)) {
    const have = schema.relations.get(name)
    if (have === undefined || have.from !== r.from || have.to !== r.to || have.incoming !== r.incoming || have.outgoing !== r.outgoing) {
      throw new QuorateError('COORDINATOR_SCHEMA_INVALID', `${component}: the graph schema must include the coordinator's relation "${name}" (build it with coordinatorSchema())`)
    }
  }
}
