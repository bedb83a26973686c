/**
 * Signed envelopes: what a relay can and cannot do to them. Every single-byte change of a
 * sealed command is refused, a command replayed to another agent is refused, a key that is not
 * the sender's is refused, each with its stable code; the inbox runs a command id once and
 * refuses older fences; rendezvous homes move only the dead transponder's agents.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import {
  CommandInbox, KeyRing, TransponderAssignment, createSigningKeys, homeTransponder, openCommand, openEnvelope, openEvent,
  openReply, peekEnvelope, rankTransponders, sealCommand, sealEnvelope, sealEvent, sealReply, signer
} from '../../src/transponder/index.js'
import type { AgentCommand, AgentReply } from '../../src/agent/index.js'
import { QuorateError } from '../../src/errors.js'

const material = createSigningKeys(['coord', 'w1', 'w2', 'relay'])
const ring = new KeyRing(material.publicKeys)
const coord = signer('coord', material.privateKeys.coord!)
const w1 = signer('w1', material.privateKeys.w1!)
const relay = signer('relay', material.privateKeys.relay!)
const stop: AgentCommand = { kind: 'stop', id: 'cmd-1', fence: { lease: 'quorate/coordinator', token: 7 }, instance: 'web-1' }

function codeOf (fn: () => unknown): string {
  try { fn() } catch (err) { if (err instanceof QuorateError) return err.code; throw err }
  return 'none'
}

test('a sealed command opens at its target with its id and fence inside the signed bytes', () => {
  const bytes = sealCommand(coord, 'w1', stop)
  const { sender, command } = openCommand(bytes, ring, 'w1')
  assert.is(sender, 'coord')
  assert.equal(command, stop)
  const header = peekEnvelope(bytes)
  assert.equal([header.id, header.fence], ['cmd-1', stop.fence])
})

test('every altered byte of a sealed command is refused with a stable code', () => {
  const bytes = sealCommand(coord, 'w1', stop)
  const codes = new Set<string>()
  for (let i = 0; i < bytes.length; i++) {
    for (const flip of [0x01, 0x80]) {
      const bad = Uint8Array.from(bytes)
      bad[i] = bad[i]! ^ flip
      const code = codeOf(() => openCommand(bad, ring, 'w1'))
      assert.ok(code.startsWith('TRANSPONDER_'), `byte ${i} ^ ${flip}: ${code}`)
      codes.add(code)
    }
  }
  assert.ok(codes.has('TRANSPONDER_SIGNATURE_INVALID'))
  assert.ok(codes.has('TRANSPONDER_ENVELOPE_MALFORMED'))
})

test('truncated or extended envelopes are refused as malformed, never crash', () => {
  const bytes = sealCommand(coord, 'w1', stop)
  for (let n = 0; n < bytes.length; n++) assert.ok(codeOf(() => openCommand(bytes.subarray(0, n), ring, 'w1')).startsWith('TRANSPONDER_'), `length ${n}`)
  const longer = new Uint8Array(bytes.length + 1); longer.set(bytes)
  assert.ok(codeOf(() => openCommand(longer, ring, 'w1')).startsWith('TRANSPONDER_'))
})

test('a command replayed to another agent is refused TRANSPONDER_WRONG_TARGET', () => {
  const bytes = sealCommand(coord, 'w1', stop)
  assert.is(codeOf(() => openCommand(bytes, ring, 'w2')), 'TRANSPONDER_WRONG_TARGET')
})

test('an envelope signed with a key that is not its sender\'s is refused TRANSPONDER_SIGNATURE_INVALID', () => {
  // The relay signs with its own key but claims to be the coordinator.
  const forged = sealCommand({ id: 'coord', privateKey: relay.privateKey }, 'w1', stop)
  assert.is(codeOf(() => openCommand(forged, ring, 'w1')), 'TRANSPONDER_SIGNATURE_INVALID')
})

test('a sender with no key in the ring is refused TRANSPONDER_UNKNOWN_SIGNER', () => {
  const stranger = signer('stranger', createSigningKeys(['stranger']).privateKeys.stranger!)
  assert.is(codeOf(() => openEnvelope(sealCommand(stranger, 'w1', stop), ring, 'w1')), 'TRANSPONDER_UNKNOWN_SIGNER')
})

test('a header whose fence differs from its command\'s is refused even when honestly signed', () => {
  const lying = new TextEncoder().encode(JSON.stringify({ ...stop, fence: { lease: 'quorate/coordinator', token: 8 } }))
  const bytes = sealEnvelope(coord, { kind: 'command', target: 'w1', id: stop.id, fence: stop.fence }, lying)
  assert.is(codeOf(() => openCommand(bytes, ring, 'w1')), 'TRANSPONDER_ENVELOPE_MALFORMED')
  assert.is(codeOf(() => openEvent(sealCommand(coord, 'w1', stop), ring, 'w1')), 'TRANSPONDER_ENVELOPE_MALFORMED') // a command is not an event
})

test('events and replies open only at their target and with their kind', () => {
  const ev = sealEvent(w1, 'station', { id: 'e-1', payload: Uint8Array.of(1, 2, 3) })
  const opened = openEvent(ev, ring, 'station')
  assert.equal([opened.sender, opened.event.id, [...opened.event.payload]], ['w1', 'e-1', [1, 2, 3]])
  assert.is(codeOf(() => openEvent(ev, ring, 'w2')), 'TRANSPONDER_WRONG_TARGET')
  const reply: AgentReply = { id: 'cmd-1', ok: true, instances: [] }
  const r = sealReply(w1, 'coord', reply, stop.fence)
  assert.equal(openReply(r, ring, 'coord', 'w1').reply, reply)
  assert.is(codeOf(() => openReply(r, ring, 'coord', 'w2')), 'TRANSPONDER_SENDER_MISMATCH')
})

test('random bytes never open and never throw anything but a QuorateError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
    assert.ok(codeOf(() => openEnvelope(bytes, ring, 'w1')) !== 'none')
  }), { seed: 17, numRuns: 500 })
})

test('the inbox runs a command id once, answers repeats with the first reply, and refuses older fences', async () => {
  const inbox = new CommandInbox()
  let runs = 0
  const run = async (c: AgentCommand): Promise<AgentReply> => { runs++; return { id: c.id, ok: true, instances: [] } }
  const [a, b] = await Promise.all([inbox.execute(stop, run), inbox.execute(stop, run)])
  assert.equal(a, b)
  assert.is(runs, 1)
  await inbox.execute({ ...stop, id: 'cmd-2', fence: { lease: 'quorate/coordinator', token: 9 } }, run)
  const old = await inbox.execute({ ...stop, id: 'cmd-3' }, run)
  assert.equal([old.ok, (old as { code?: string }).code, runs], [false, 'LEASE_FENCED', 2])
})

test('an inbox restored from persisted records answers a replay without running it', async () => {
  const records: Parameters<CommandInbox['restore']>[0] extends Iterable<infer R> ? R[] : never = []
  const first = new CommandInbox({ persist: (r) => { records.push(r) } })
  await first.execute(stop, async (c) => ({ id: c.id, ok: true, instances: [] }))
  const restarted = new CommandInbox()
  restarted.restore(records)
  let ran = false
  const reply = await restarted.execute(stop, async (c) => { ran = true; return { id: c.id, ok: true, instances: [] } })
  assert.equal([ran, reply.ok, restarted.highestToken('quorate/coordinator')], [false, true, 7])
})

test('an inbox forgets the oldest ids beyond its capacity', async () => {
  const inbox = new CommandInbox({ capacity: 2 })
  let runs = 0
  const run = async (c: AgentCommand): Promise<AgentReply> => { runs++; return { id: c.id, ok: true, instances: [] } }
  for (const id of ['a', 'b', 'c', 'a']) await inbox.execute({ ...stop, id }, run)
  assert.is(runs, 4)
  assert.throws(() => new CommandInbox({ capacity: 0 }), /capacity/)
  assert.throws(() => new CommandInbox({ capasity: 2 } as never), /did you mean "capacity"/)
})

test('rendezvous homes spread agents and move only a dead transponder\'s agents', () => {
  const agents = Array.from({ length: 2000 }, (_, i) => `node-${String(i).padStart(4, '0')}`)
  const ts = Array.from({ length: 20 }, (_, i) => `t${i}`)
  const a = new TransponderAssignment(agents, ts)
  const sizes = ts.map((t) => a.agentsOf(t).length)
  assert.ok(Math.min(...sizes) > 50 && Math.max(...sizes) < 160, `sizes ${sizes.join(',')}`)
  const orphans = a.agentsOf('t3')
  const moved = a.setLive(ts.filter((t) => t !== 't3'))
  assert.equal(moved.sort(), orphans.sort())
  for (const agent of orphans) assert.is(a.homeOf(agent), rankTransponders(agent, ts)[1])
  assert.is(homeTransponder('node-0001', ts), rankTransponders('node-0001', ts)[0])
  assert.throws(() => homeTransponder('x', []), (e: unknown) => e instanceof QuorateError && e.code === 'TRANSPONDER_NO_TRANSPONDER')
})

test.run()
