/**
 * The coordinator-agent contract: every well-formed event survives encode/decode, and damaged or
 * foreign payloads come back as AGENT_EVENT_INVALID values, never as throws.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { agentCommandProblem, decodeHaEvent, encodeHaEvent } from '../../src/agent/index.js'
import type { HaEvent } from '../../src/agent/index.js'
import { QuorateError } from '../../src/errors.js'

const events: HaEvent[] = [
  { type: 'instance-started', node: 'w1', instance: 'web-1', token: 3, pid: 4242, at: 1 },
  { type: 'instance-exited', node: 'w1', instance: 'web-1', exitCode: null, signal: 'SIGKILL', at: 2 },
  { type: 'instance-check-failed', node: 'w1', instance: 'web-1', check: 'liveness', at: 3 },
  { type: 'node-dead', node: 'w2', observer: 'w1', at: 4 },
  { type: 'command-result', node: 'w1', command: 'c-1', ok: false, code: 'LEASE_FENCED', at: 5 }
]

test('every well-formed event round-trips through its events-queue payload', () => {
  for (const e of events) assert.equal(decodeHaEvent(encodeHaEvent(e)), e)
})

test('a damaged or foreign payload decodes to AGENT_EVENT_INVALID, not a throw', () => {
  const bad = [
    Uint8Array.of(0xff, 0xfe),
    new TextEncoder().encode('[1,2]'),
    new TextEncoder().encode('{"type":"node-dead","node":"w2","observer":"w1","at":4,"extra":1}'),
    new TextEncoder().encode('{"type":"node-dead","node":"","observer":"w1","at":4}'),
    new TextEncoder().encode('{"type":"reboot","node":"w2"}')
  ]
  for (const payload of bad) {
    const r = decodeHaEvent(payload)
    assert.ok(r instanceof QuorateError && r.code === 'AGENT_EVENT_INVALID', String(r))
  }
  assert.throws(() => encodeHaEvent({ type: 'node-dead', node: 'w2', observer: 'w1', at: Number.NaN }), /AGENT_EVENT_INVALID|field "at"/)
})

test('agentCommandProblem accepts the three kinds and names what is wrong otherwise', () => {
  const fence = { lease: 'quorate/coordinator', token: 2 }
  assert.is(agentCommandProblem({ kind: 'status', id: 'c1', fence }), undefined)
  assert.is(agentCommandProblem({ kind: 'stop', id: 'c2', fence, instance: 'web-1' }), undefined)
  assert.is(agentCommandProblem({ kind: 'start', id: 'c3', fence, instance: 'web-1', service: { command: 'node', args: ['x.js'] }, parameters: { port: '8080' } }), undefined)
  assert.match(agentCommandProblem({ kind: 'stop', id: 'c2', instance: 'web-1' })!, /fence/)
  assert.match(agentCommandProblem({ kind: 'stop', id: 'c2', fence: { lease: 'l', token: 0 }, instance: 'web-1' })!, /fence/)
  assert.match(agentCommandProblem({ kind: 'reboot', id: 'c2', fence })!, /unknown command kind/)
  assert.match(agentCommandProblem({ kind: 'stop', id: 'c2', fence, instance: 'web-1', force: true })!, /unknown field "force"/)
  assert.match(agentCommandProblem({ kind: 'start', id: 'c3', fence, instance: 'w', service: { command: 'node', args: [1] }, parameters: {} })!, /args/)
  assert.match(agentCommandProblem({ kind: 'start', id: 'c3', fence, instance: 'w', service: { command: 'node' }, parameters: { p: 1 } })!, /parameters/)
})

test.run()
