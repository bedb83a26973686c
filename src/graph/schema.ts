/**
 * The graph schema: the kinds of resources with their field types, and the relations between
 * kinds with a cardinality on each end, declared once in one object. `defineSchema` checks
 * the declaration at run time (GRAPH_SCHEMA_INVALID) and keeps the literal types, so the
 * client's methods are typed from it: a field of the wrong type, an unknown kind, or an edge
 * between kinds the relation does not join is a compile-time error in TypeScript, and always a
 * GRAPH_* error at run time (replicas validate every write against the same schema).
 *
 * Cardinality: `outgoing` is how many edges of the relation one `from` resource may have,
 * `incoming` how many one `to` resource may have. Connecting an end that is 'one' replaces the
 * edge it had (Halon's rule), it never fails for being full.
 *
 * @example
 * const schema = defineSchema({
 *   kinds: { node: { fields: { host: 'string' } }, service: { fields: { port: 'integer', note: 'string?' } } },
 *   relations: { runs: { from: 'node', to: 'service', outgoing: 'many', incoming: 'one' } },
 *   roots: ['node']
 * })
 */
import { QuorateError } from '../errors.js'

export type FieldType = 'string' | 'number' | 'integer' | 'boolean'
/** A field type; a trailing '?' makes the field optional (absent, or cleared with null). */
export type FieldSpec = FieldType | `${FieldType}?`
export type FieldValue = string | number | boolean
export type Cardinality = 'one' | 'many'

export interface KindSpec { readonly fields: Readonly<Record<string, FieldSpec>> }

export interface RelationSpec<K extends string = string> {
  readonly from: K
  readonly to: K
  readonly outgoing: Cardinality
  readonly incoming: Cardinality
}

export interface SchemaSpec<
  Kinds extends Readonly<Record<string, KindSpec>> = Readonly<Record<string, KindSpec>>,
  Relations extends Readonly<Record<string, RelationSpec<keyof Kinds & string>>> = Readonly<Record<string, RelationSpec<keyof Kinds & string>>>
> {
  readonly kinds: Kinds
  readonly relations: Relations
  /** Kinds whose every resource is a GC root (see gc.ts). @default none */
  readonly roots?: ReadonlyArray<keyof Kinds & string>
}

/** A checked schema; `spec` keeps the literal types the client's methods are typed from. */
export interface Schema<S extends SchemaSpec = SchemaSpec> {
  readonly spec: S
  readonly kindNames: ReadonlySet<string>
  readonly rootKinds: ReadonlySet<string>
  /** For each kind, its fields: type and whether optional. */
  readonly fields: ReadonlyMap<string, ReadonlyMap<string, { readonly type: FieldType, readonly optional: boolean }>>
  readonly relations: ReadonlyMap<string, RelationSpec>
}

// ------------------------------------------------------------------ type-level helpers

type BaseType<F extends FieldSpec> = F extends `${infer T extends FieldType}?` ? T : F
type TsType<T extends FieldType> = T extends 'string' ? string : T extends 'boolean' ? boolean : number
type OptionalKeys<F extends Readonly<Record<string, FieldSpec>>> = { [K in keyof F]: F[K] extends `${string}?` ? K : never }[keyof F]
type RequiredKeys<F extends Readonly<Record<string, FieldSpec>>> = Exclude<keyof F, OptionalKeys<F>>

export type KindName<S extends SchemaSpec> = keyof S['kinds'] & string
export type RelationName<S extends SchemaSpec> = keyof S['relations'] & string
/** The fields of a resource of kind K, as TypeScript types. */
export type FieldsOf<S extends SchemaSpec, K extends KindName<S>> =
  { [F in RequiredKeys<S['kinds'][K]['fields']>]: TsType<BaseType<S['kinds'][K]['fields'][F]>> } &
  { [F in OptionalKeys<S['kinds'][K]['fields']>]?: TsType<BaseType<S['kinds'][K]['fields'][F]>> }
/** A partial update of kind K's fields; null clears an optional field. */
export type FieldPatch<S extends SchemaSpec, K extends KindName<S>> =
  { [F in RequiredKeys<S['kinds'][K]['fields']>]?: TsType<BaseType<S['kinds'][K]['fields'][F]>> } &
  { [F in OptionalKeys<S['kinds'][K]['fields']>]?: TsType<BaseType<S['kinds'][K]['fields'][F]>> | null }
export type FromKind<S extends SchemaSpec, R extends RelationName<S>> = S['relations'][R]['from']
export type ToKind<S extends SchemaSpec, R extends RelationName<S>> = S['relations'][R]['to']

/** A typed reference to a resource: its kind travels with its id so edges type-check. */
export interface Ref<K extends string = string> { readonly kind: K, readonly id: string }

export function ref<K extends string> (kind: K, id: string): Ref<K> { return { kind, id } }

// ------------------------------------------------------------------ runtime

const FIELD_TYPES: ReadonlySet<string> = new Set(['string', 'number', 'integer', 'boolean'])
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/

function invalid (message: string): never {
  throw new QuorateError('GRAPH_SCHEMA_INVALID', `Graph schema: ${message}`)
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function checkKeys (what: string, v: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) invalid(`${what} has unknown key "${k}" (allowed: ${allowed.join(', ')})`)
}

/** Checks a schema declaration and returns it with lookup tables; throws GRAPH_SCHEMA_INVALID. */
export function defineSchema<const S extends SchemaSpec> (spec: S): Schema<S> {
  if (!isRecord(spec)) invalid('must be an object { kinds, relations, roots? }')
  checkKeys('the schema', spec as unknown as Record<string, unknown>, ['kinds', 'relations', 'roots'])
  if (!isRecord(spec.kinds)) invalid('"kinds" must be an object')
  if (!isRecord(spec.relations)) invalid('"relations" must be an object')
  const fields = new Map<string, Map<string, { type: FieldType, optional: boolean }>>()
  for (const [kind, k] of Object.entries(spec.kinds)) {
    if (!NAME.test(kind)) invalid(`kind name ${JSON.stringify(kind)} must match ${String(NAME)}`)
    if (!isRecord(k) || !isRecord(k.fields)) invalid(`kind "${kind}" must be { fields: { name: type } }`)
    checkKeys(`kind "${kind}"`, k as unknown as Record<string, unknown>, ['fields'])
    const table = new Map<string, { type: FieldType, optional: boolean }>()
    for (const [name, type] of Object.entries(k.fields)) {
      if (!NAME.test(name)) invalid(`field name ${JSON.stringify(name)} of kind "${kind}" must match ${String(NAME)}`)
      const optional = typeof type === 'string' && type.endsWith('?')
      const base = typeof type === 'string' ? type.replace(/\?$/, '') : ''
      if (!FIELD_TYPES.has(base)) invalid(`field "${kind}.${name}" has type ${JSON.stringify(type)}; use one of string, number, integer, boolean (optional with a trailing ?)`)
      table.set(name, { type: base as FieldType, optional })
    }
    fields.set(kind, table)
  }
  const relations = new Map<string, RelationSpec>()
  for (const [name, r] of Object.entries(spec.relations)) {
    if (!NAME.test(name)) invalid(`relation name ${JSON.stringify(name)} must match ${String(NAME)}`)
    if (!isRecord(r)) invalid(`relation "${name}" must be { from, to, outgoing, incoming }`)
    checkKeys(`relation "${name}"`, r, ['from', 'to', 'outgoing', 'incoming'])
    for (const end of ['from', 'to'] as const) {
      if (typeof r[end] !== 'string' || !fields.has(r[end])) invalid(`relation "${name}".${end} must name a declared kind (got ${JSON.stringify(r[end])})`)
    }
    for (const end of ['outgoing', 'incoming'] as const) {
      if (r[end] !== 'one' && r[end] !== 'many') invalid(`relation "${name}".${end} must be 'one' or 'many' (got ${JSON.stringify(r[end])})`)
    }
    relations.set(name, { from: r.from, to: r.to, outgoing: r.outgoing, incoming: r.incoming })
  }
  const roots = spec.roots ?? []
  if (!Array.isArray(roots)) invalid('"roots" must be an array of kind names')
  for (const root of roots) if (!fields.has(root)) invalid(`root ${JSON.stringify(root)} is not a declared kind`)
  return { spec, kindNames: new Set(fields.keys()), rootKinds: new Set(roots), fields, relations }
}

function fieldError (message: string, details: Record<string, unknown>): QuorateError {
  return new QuorateError('GRAPH_FIELD_INVALID', message, { details })
}

function typeOk (type: FieldType, v: unknown): boolean {
  switch (type) {
    case 'string': return typeof v === 'string'
    case 'boolean': return typeof v === 'boolean'
    case 'number': return typeof v === 'number' && Number.isFinite(v)
    case 'integer': return Number.isSafeInteger(v)
  }
}

function kindFields (schema: Schema, kind: string): ReadonlyMap<string, { readonly type: FieldType, readonly optional: boolean }> {
  const table = schema.fields.get(kind)
  if (table === undefined) throw new QuorateError('GRAPH_KIND_UNKNOWN', `Unknown resource kind ${JSON.stringify(kind)}`, { details: { kind } })
  return table
}

/**
 * Checks the fields of a whole resource (`patch` false: every required field present) or of
 * an update (`patch` true: any subset; null clears an optional field). Throws GRAPH_KIND_UNKNOWN
 * or GRAPH_FIELD_INVALID naming the field.
 */
export function validateFields (schema: Schema, kind: string, values: Readonly<Record<string, unknown>>, patch: boolean): void {
  const table = kindFields(schema, kind)
  if (!isRecord(values)) throw fieldError(`Fields of a ${kind} must be an object`, { kind })
  for (const [name, v] of Object.entries(values)) {
    const f = table.get(name)
    if (f === undefined) throw fieldError(`${kind} has no field "${name}"`, { kind, field: name })
    if (v === null && patch && f.optional) continue
    if (v === undefined && f.optional) continue
    if (!typeOk(f.type, v)) throw fieldError(`${kind}.${name} must be ${f.optional ? 'an optional ' : ''}${f.type} (got ${JSON.stringify(v) ?? String(v)})`, { kind, field: name })
  }
  if (!patch) {
    for (const [name, f] of table) {
      if (!f.optional && values[name] === undefined) throw fieldError(`${kind}.${name} is required`, { kind, field: name })
    }
  }
}

/** The relation named `name`, checked to join `fromKind` to `toKind`; throws GRAPH_RELATION_INVALID. */
export function relationBetween (schema: Schema, name: string, fromKind: string, toKind: string): RelationSpec {
  const r = schema.relations.get(name)
  if (r === undefined) throw new QuorateError('GRAPH_RELATION_INVALID', `Unknown relation ${JSON.stringify(name)}`, { details: { relation: name } })
  if (r.from !== fromKind || r.to !== toKind) {
    throw new QuorateError('GRAPH_RELATION_INVALID', `Relation "${name}" joins a ${r.from} to a ${r.to}, not a ${fromKind} to a ${toKind}`, { details: { relation: name, from: fromKind, to: toKind } })
  }
  return r
}
