/**
 * The schema: a malformed declaration is refused with GRAPH_SCHEMA_INVALID naming the problem;
 * fields are validated by type on every write; and the client's methods are typed from the
 * schema, so a forbidden edge or a wrong field is a compile-time error (the @ts-expect-error
 * lines below fail the build if TypeScript ever accepts them) as well as a run-time one.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Graph, GraphStateMachine, defineSchema, ref, validateFields } from '../../src/graph/index.js'
import { schema } from './helpers.js'

const code = (c: string) => (err: { code?: string }) => err.code === c

test('malformed schema declarations are refused with GRAPH_SCHEMA_INVALID naming the problem', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ kinds: {}, relations: {}, extra: 1 }, /unknown key "extra"/],
    [{ kinds: { node: { fields: { a: 'text' } } }, relations: {} }, /node\.a.*"text"/],
    [{ kinds: { 'bad name': { fields: {} } }, relations: {} }, /kind name/],
    [{ kinds: { a: { fields: {} } }, relations: { r: { from: 'a', to: 'b', outgoing: 'one', incoming: 'one' } } }, /r"\.to must name a declared kind/],
    [{ kinds: { a: { fields: {} } }, relations: { r: { from: 'a', to: 'a', outgoing: 'two', incoming: 'one' } } }, /outgoing must be 'one' or 'many'/],
    [{ kinds: { a: { fields: {} } }, relations: {}, roots: ['b'] }, /root "b"/]
  ]
  for (const [spec, message] of cases) {
    assert.throws(() => defineSchema(spec as never), (e: Error & { code?: string }) => e.code === 'GRAPH_SCHEMA_INVALID' && message.test(e.message), String(message))
  }
})

test('fields are checked by type, required fields must be present, null clears only optional fields in updates', () => {
  validateFields(schema, 'node', { host: 'a', up: true }, false)
  validateFields(schema, 'service', { weight: null }, true)
  assert.throws(() => validateFields(schema, 'node', { up: true }, false), /node\.host is required/)
  assert.throws(() => validateFields(schema, 'service', { port: 1.5 }, false), code('GRAPH_FIELD_INVALID'))
  assert.throws(() => validateFields(schema, 'service', { port: null }, true), code('GRAPH_FIELD_INVALID'))
  assert.throws(() => validateFields(schema, 'node', { host: 'a', colour: 'x' }, false), /no field "colour"/)
  assert.throws(() => validateFields(schema, 'disk', { size: Number.NaN }, false), code('GRAPH_FIELD_INVALID'))
  assert.throws(() => validateFields(schema, 'printer', {}, false), code('GRAPH_KIND_UNKNOWN'))
})

test('the client is typed from the schema and checks the same at run time', () => {
  const machine = new GraphStateMachine(schema)
  const graph = new Graph(schema, { machine, submit: async (c) => machine.apply(c, machine.appliedIndex + 1) })
  const tx = graph.transaction()
  const n = ref('node', 'n1')
  const s = ref('service', 's1')
  tx.put(n, { host: 'a' }).put(s, { port: 80 }).connect('runs', n, s).update(s, { weight: null })
  // @ts-expect-error a service cannot run a node: the relation joins node -> service
  assert.throws(() => tx.connect('runs', s, n), code('GRAPH_RELATION_INVALID'))
  // @ts-expect-error port is an integer field, not a string
  assert.throws(() => tx.put(s, { port: '80' }), code('GRAPH_FIELD_INVALID'))
  // @ts-expect-error a node has no field "port"
  assert.throws(() => tx.update(n, { port: 1 }), code('GRAPH_FIELD_INVALID'))
  // @ts-expect-error "owns" is not a declared relation
  assert.throws(() => tx.connect('owns', n, s), code('GRAPH_RELATION_INVALID'))
  // @ts-expect-error host is required in a put
  assert.throws(() => tx.put(n, {}), code('GRAPH_FIELD_INVALID'))
  // @ts-expect-error null clears only optional fields
  assert.throws(() => tx.update(n, { host: null }), code('GRAPH_FIELD_INVALID'))
  assert.is(tx.ops.length, 3, 'the update folded into the put')
})

test.run()
