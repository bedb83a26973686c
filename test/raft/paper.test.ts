/**
 * Tests traceable to the Raft paper (Ongaro & Ousterhout 2014) and the thesis, run on the
 * pure core through a synchronous test network. The message-by-message ones (elections,
 * votes, log matching, fast backup, pre-vote, check-quorum, joint consensus, ReadIndex,
 * leadership transfer) are scenario files in test/raft/testdata, run by scenario.test.ts.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { CoreNetwork, entriesWithTerms } from './harness.js'
import { RaftCore } from '../../src/raft/raft.js'
import { message } from '../../src/raft/types.js'
import { SeededRandom } from '../../src/util/random.js'
import { QuorateError } from '../../src/errors.js'

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i + 1}`)

// ------------------------------------------------------------------ §5.1

test('§5.1 a node that sees a higher term adopts it and becomes follower', () => {
  for (const role of ['follower', 'candidate', 'leader'] as const) {
    const net = new CoreNetwork(ids(3), { preVote: false })
    const c = net.core('n1')
    if (role === 'candidate') c.campaign()
    if (role === 'leader') net.elect('n1')
    const before = c.term
    c.step(message({ type: 'append', from: 'n2', to: 'n1', term: before + 5 }))
    assert.is(c.term, before + 5, `${role} adopts the term`)
    assert.is(c.role, 'follower', `${role} becomes follower`)
    assert.is(c.leader, 'n2')
  }
})

test('§5.1 a message with a stale term is rejected and tells the sender the current term', () => {
  const net = new CoreNetwork(ids(3))
  const c = net.core('n2')
  c.step(message({ type: 'heartbeat', from: 'n1', to: 'n2', term: 4 }))
  const rd0 = c.ready(); c.advance(rd0)
  c.step(message({ type: 'append', from: 'n3', to: 'n2', term: 2, index: 0, logTerm: 0, entries: entriesWithTerms([2]) }))
  assert.is(c.term, 4)
  assert.is(c.log.lastIndex(), 0, 'stale append is not accepted')
  const rd = c.ready()
  const resp = rd.messages.find((m) => m.to === 'n3')
  assert.ok(resp !== undefined, 'the stale leader gets an answer')
  assert.is(resp.term, 4, 'carrying the current term')
})

// ------------------------------------------------------------------ §5.2

test('§5.2 an election completes in one round for cluster sizes 1 to 7', () => {
  for (let n = 1; n <= 7; n++) {
    const net = new CoreNetwork(ids(n))
    const c = net.elect('n1')
    assert.is(c.role, 'leader', `size ${n}`)
    for (const id of ids(n)) assert.is(net.core(id).leader, id === 'n1' ? 'n1' : 'n1', `size ${n}: ${id} knows the leader`)
    assert.is(c.term, 1, `size ${n}: one round, term 1`)
  }
})

test('§5.2 a refused higher-term vote request does not restart the election timer (the better candidate campaigns on time)', () => {
  const stored = { hardState: { term: 2, vote: null, commit: 0 }, snapshot: null, entries: entriesWithTerms([1, 2]) }
  const c = new RaftCore({ id: 'n1', voters: ids(3), preVote: false, checkQuorum: false, electionTicks: 10, electionJitterTicks: 1 }, stored)
  for (let i = 0; i < 9; i++) c.tick()
  c.step(message({ type: 'vote', from: 'n2', to: 'n1', term: 5, index: 1, logTerm: 1 }))
  assert.is(c.term, 5)
  assert.ok(c.ready().messages[0]!.reject, 'the stale candidate is refused')
  c.tick()
  assert.is(c.role, 'candidate', 'n1 campaigns at its original timeout instead of waiting a whole new one')
  assert.is(c.term, 6)
})

test('§5.2 election timeouts are randomized in [T, 2T)', () => {
  const seen = new Set<number>()
  const random = new SeededRandom(7)
  for (let trial = 0; trial < 200; trial++) {
    const c = new RaftCore({ id: 'n1', voters: ids(3), electionTicks: 10, random: random.fork() })
    let ticks = 0
    while (c.role === 'follower') { c.tick(); ticks++ }
    assert.ok(ticks >= 10 && ticks < 20, `timeout ${ticks} in [10, 20)`)
    seen.add(ticks)
  }
  assert.ok(seen.size >= 8, `timeouts spread over the window (saw ${seen.size} distinct values)`)
})

// ------------------------------------------------------------------ §5.3

test('§5.3 the leader replicates entries and commits once a majority stored them', () => {
  const net = new CoreNetwork(ids(5))
  net.elect('n1')
  net.propose('n1', 'a', 'b', 'c')
  for (const id of ids(5)) {
    assert.equal(net.appliedData(id), ['a', 'b', 'c'], `${id} applied`)
    assert.is(net.core(id).log.committed, 4)
  }
})

test('§5.3 an entry stored on a minority only does not commit', () => {
  const net = new CoreNetwork(ids(5))
  net.elect('n1')
  net.crash('n3'); net.crash('n4'); net.crash('n5')
  net.propose('n1', 'x')
  assert.is(net.core('n1').log.committed, 1, 'only the no-op (acknowledged before the crash) is committed')
  assert.equal(net.appliedData('n1'), [])
})

test('§5.3 committing an entry commits all preceding entries', () => {
  const net = new CoreNetwork(ids(3))
  net.elect('n1')
  net.cut.add('n1->n2'); net.cut.add('n1->n3')
  net.core('n1').propose([new TextEncoder().encode('p1'), new TextEncoder().encode('p2')])
  net.stabilize()
  assert.is(net.core('n1').log.committed, 1)
  net.heal()
  net.propose('n1', 'p3')
  assert.equal(net.appliedData('n2'), ['p1', 'p2', 'p3'])
})

// Figure 7: the leader's log and six possible follower logs (a)-(f).
const FIG7_LEADER = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]
const FIG7_FOLLOWERS: Record<string, number[]> = {
  a: [1, 1, 1, 4, 4, 5, 5, 6, 6],
  b: [1, 1, 1, 4],
  c: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],
  d: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],
  e: [1, 1, 1, 4, 4, 4, 4],
  f: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]
}

test('§5.3 Figure 7: every divergent follower log is repaired to the leader\'s', () => {
  for (const [name, terms] of Object.entries(FIG7_FOLLOWERS)) {
    const disks = new Map([
      ['n1', { hardState: { term: 8, vote: null, commit: 0 }, entries: entriesWithTerms(FIG7_LEADER) }],
      ['n2', { hardState: { term: 8, vote: null, commit: 0 }, entries: entriesWithTerms(terms) }],
      ['n3', { hardState: { term: 8, vote: null, commit: 0 }, entries: entriesWithTerms(FIG7_LEADER) }]
    ])
    const net = new CoreNetwork(['n1', 'n2', 'n3'], { preVote: false }, 1, disks)
    net.elect('n1')
    net.propose('n1', 'after')
    const leaderLog = net.core('n1').log
    const f = net.core('n2').log
    assert.is(f.lastIndex(), leaderLog.lastIndex(), `(${name}) same length`)
    for (let i = 1; i <= leaderLog.lastIndex(); i++) assert.is(f.term(i), leaderLog.term(i), `(${name}) term at ${i}`)
    const disk = net.disks.get('n2')!.entries.map((e) => e.term)
    assert.equal(disk, leaderLog.slice(leaderLog.firstIndex(), leaderLog.lastIndex() + 1, Infinity).map((e) => e.term), `(${name}) the follower's disk matches too`)
  }
})

// ------------------------------------------------------------------ §5.4

/**
 * Figure 8, (c) then (d): S1 leads term 4 and has its term-2 entry at index 2 on a majority
 * (S1, S2, S3) but its own term-4 entry on nobody else. If S1 counted replicas of the old
 * entry it would commit and apply it; then S5 (last term 3) can win and overwrite index 2.
 */
function figure8 (mutations: { commitOldTerm?: boolean }): CoreNetwork {
  const disk = (terms: number[]): { hardState: { term: number, vote: null, commit: number }, entries: ReturnType<typeof entriesWithTerms> } =>
    ({ hardState: { term: 3, vote: null, commit: 1 }, entries: entriesWithTerms(terms) })
  const disks = new Map([['s1', disk([1, 2])], ['s2', disk([1])], ['s3', disk([1])], ['s4', disk([1])], ['s5', disk([1, 3])]])
  const net = new CoreNetwork(['s1', 's2', 's3', 's4', 's5'], { preVote: false, checkQuorum: false, maxMessageBytes: 1 }, 3, disks, mutations)
  net.cut.add('s1->s4'); net.cut.add('s1->s5'); net.cut.add('s5->s1'); net.cut.add('s4->s1')
  // S1's own-term entries (the no-op) never arrive anywhere.
  net.rewrite = (m) => m.from === 's1' ? { ...m, entries: m.entries.filter((e) => e.term !== 4) } : m
  net.elect('s1')
  assert.is(net.core('s1').role, 'leader')
  assert.is(net.core('s1').term, 4)
  assert.is(net.core('s2').log.term(2), 2, 'index 2 (term 2) reached s2')
  assert.is(net.core('s3').log.term(2), 2, 'and s3: a majority with s1')
  net.crash('s1')
  net.heal()
  // S5 campaigns until it wins (its last term 3 beats the others' 2).
  net.rewrite = (m) => m.type === 'append' ? null : m
  for (let i = 0; i < 5 && net.core('s5').role !== 'leader'; i++) net.elect('s5')
  assert.is(net.core('s5').role, 'leader')
  net.rewrite = null
  return net
}

test('§5.4.2 Figure 8: a leader never commits an entry of an earlier term by counting replicas', () => {
  const net = figure8({})
  assert.is(net.core('s1').log.committed, 1, 's1 did not commit index 2')
  net.propose('s5', 'z')
  net.tickAll(3)
  assert.is(net.core('s3').log.term(2), 3, 's5 overwrote index 2: it had never been committed')
  for (const id of ['s2', 's3', 's4', 's5']) {
    for (const e of net.applied.get(id)!) if (e.index === 2) assert.is(e.term, 3, `${id} applied only the term-3 entry at index 2`)
  }
})

test('§5.4.2 Figure 8 with the rule broken: counting old-term replicas lets two different entries be applied at index 2', () => {
  const net = figure8({ commitOldTerm: true })
  assert.is(net.core('s1').log.committed, 2, 's1 counted replicas of the term-2 entry and committed it')
  assert.is(net.applied.get('s1')!.find((e) => e.index === 2)?.term, 2, 'and applied it')
  assert.is(net.core('s5').log.term(2), 3, 'yet s5 became leader without it: Leader Completeness is broken, so the rule matters')
})

test('§5.4.2 the commit rule counts only a current-term entry (direct check)', () => {
  const c = new RaftCore({ id: 'n1', voters: ids(3), preVote: false }, { hardState: { term: 2, vote: null, commit: 0 }, snapshot: null, entries: entriesWithTerms([1, 2]) })
  c.campaign()
  c.step(message({ type: 'voteResponse', from: 'n2', to: 'n1', term: 3 }))
  assert.is(c.role, 'leader')
  const rd = c.ready(); c.advance(rd)
  // n2 acknowledges only up to index 2 (the old-term entry), not the no-op at 3.
  c.step(message({ type: 'appendResponse', from: 'n2', to: 'n1', term: 3, index: 2 }))
  assert.is(c.log.committed, 0, 'index 2 (term 2) is on a majority but not committed')
  c.step(message({ type: 'appendResponse', from: 'n2', to: 'n1', term: 3, index: 3 }))
  assert.is(c.log.committed, 3, 'the no-op of term 3 commits, and index 2 with it')
})

// ------------------------------------------------------------------ proposals and ready contract

test('proposals on a follower fail with RAFT_NOT_LEADER naming the leader', () => {
  const net = new CoreNetwork(ids(3))
  net.elect('n1')
  try {
    net.core('n2').propose([new Uint8Array(1)])
    assert.unreachable()
  } catch (err) {
    assert.instance(err, QuorateError)
    assert.is((err as QuorateError).code, 'RAFT_NOT_LEADER')
    assert.is((err as QuorateError).info?.leader, 'n1')
  }
})

test('many proposals made between two ready batches travel in one append and one write', () => {
  const net = new CoreNetwork(ids(3))
  net.elect('n1')
  const leader = net.core('n1')
  for (let i = 0; i < 100; i++) leader.propose([new Uint8Array([i])])
  const rd = leader.ready()
  assert.is(rd.entries.length, 100, 'one storage write for the batch')
  const appends = rd.earlyMessages.filter((m) => m.type === 'append')
  assert.is(appends.length, 2, 'one append per follower')
  assert.is(appends[0]!.entries.length, 100)
})

test('the leader counts itself only for durable entries (thesis §10.2.1)', () => {
  const c = new RaftCore({ id: 'n1', voters: ['n1'] })
  c.campaign()
  assert.is(c.role, 'leader')
  c.propose([new Uint8Array([1])])
  assert.is(c.log.committed, 0, 'nothing committed before the write is acknowledged')
  const rd = c.ready()
  assert.is(rd.committed.length, 0)
  c.advance(rd)
  assert.is(c.log.committed, 2)
  const rd2 = c.ready()
  assert.equal(rd2.committed.map((e) => e.index), [1, 2], 'applied only after durable')
})

test('lease reads (thesis §6.4.1): a leader with a fresh quorum acknowledgement answers without a round trip, and stops when the lease runs out', () => {
  const net = new CoreNetwork(ids(3), { readMode: 'lease', electionTicks: 10 })
  net.elect('n1')
  net.tickAll(1) // a heartbeat round acknowledged by both followers starts the lease
  const leader = net.core('n1')
  const before = net.delivered.length
  leader.readIndex(1)
  assert.equal(leader.ready().readStates, [{ context: 1, index: 1 }], 'answered at once')
  assert.is(net.delivered.length, before, 'without any message')
  net.isolate('n1')
  for (let i = 0; i < 9; i++) leader.tick()
  leader.readIndex(2)
  const rd = leader.ready()
  assert.equal(rd.readStates, [], 'after the lease ran out a read needs a quorum round again')
  assert.ok(rd.earlyMessages.some((m) => m.type === 'heartbeat'))
})

test('lease reads are refused without CheckQuorum (OPTIONS_INVALID)', () => {
  try {
    void new RaftCore({ id: 'n1', voters: ids(3), readMode: 'lease', checkQuorum: false })
    assert.unreachable()
  } catch (err) {
    assert.is((err as QuorateError).code, 'OPTIONS_INVALID')
  }
})

test.run()
