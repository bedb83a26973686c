/**
 * Exactly-once through real RaftNodes on the in-memory network, in virtual time
 * (test/harness): a first attempt whose answer is lost after it entered the log, a leader
 * killed after committing, and a concurrent workload across a leader crash.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { QuorateError } from '../../src/errors.js'
import type { RaftNodeOptions } from '../../src/node/node.js'
import type { StateMachine } from '../../src/node/state-machine.js'
import { ClientSession, SessionStateMachine, decodeEnvelope } from '../../src/sessions/state-machine.js'
import type { ProposeFn } from '../../src/sessions/state-machine.js'
import { Cluster } from '../harness/index.js'
import { CountingMachine, enc } from './sessions-helpers.js'

/** Sessions over a CountingMachine that also records the seq of every session command it applies. */
class SessionMember implements StateMachine<unknown> {
  readonly inner = new CountingMachine()
  /** Sequence numbers of the session commands applied, in log order (duplicates included). */
  readonly seqs: number[] = []
  readonly #sessions = new SessionStateMachine(this.inner)

  apply (command: Uint8Array, index: number): unknown {
    const env = decodeEnvelope(command)
    if (env.kind === 2) this.seqs.push(env.seq)
    return this.#sessions.apply(command, index)
  }
}

type SessionCluster = Cluster<SessionMember>

/** Starts a cluster, runs `body`, and closes the cluster however `body` ends. */
async function withCluster (ids: string[], body: (cluster: SessionCluster) => Promise<void>, node: Partial<RaftNodeOptions> = {}): Promise<void> {
  const cluster = new Cluster(ids, { machine: () => new SessionMember(), node })
  await cluster.startAll()
  try {
    await body(cluster)
  } finally {
    await cluster.close()
  }
}

/**
 * Kills the leader once its followers hold entries it has not committed, with the followers'
 * acknowledgements cut so it cannot answer first: the next leader commits those entries and
 * their clients, who saw NODE_CLOSED, retry them.
 */
async function crashWithUnansweredCommits (cluster: SessionCluster): Promise<void> {
  const leader = await cluster.waitForLeader()
  for (const id of cluster.ids) if (id !== leader.id) cluster.network.cut(id, leader.id)
  await cluster.stepUntil(() => {
    const s = leader.status()
    return s.lastIndex > s.commitIndex && cluster.open().every((m) => m.node.status().lastIndex >= s.lastIndex)
  }, { what: 'uncommitted entries on every follower' })
  await cluster.crash(leader.id)
}

test('a first attempt aborted after it entered the log is retried with the same seq and applied once', async () => {
  let onPersist: (() => void) | null = null
  await withCluster(['n1'], async (cluster) => {
    const node = await cluster.waitForLeader()
    let attempt = 0
    const abortFirstCommandOnceLogged: ProposeFn = async (command, { signal }) => {
      if (++attempt !== 2) return await node.propose(command, { signal }) // attempt 1 is the registration
      const controller = new AbortController()
      onPersist = () => { onPersist = null; controller.abort() }
      return await node.propose(command, { signal: controller.signal })
    }
    const session = new ClientSession({ backoffMs: 0, clock: cluster.clock })
    const result = await cluster.await(session.propose(abortFirstCommandOnceLogged, enc('x')))
    const member = cluster.member('n1').machine
    assert.is(attempt, 3, 'the aborted attempt was retried')
    assert.equal(member.seqs, [1, 1], 'both copies reached the log')
    assert.is(member.inner.applied.get('x'), 1)
    assert.match(String(result), /^x@\d+#1$/, 'the result of the first copy')
  }, { trace: (e) => { if (e.kind === 'persist' && e.index !== undefined) onPersist?.() } })
})

test('a command committed by a leader that dies before answering is retried on the new leader and applied once everywhere', async () => {
  await withCluster(['n1', 'n2', 'n3'], async (cluster) => {
    const old = await cluster.waitForLeader()
    const session = new ClientSession({ backoffMs: 1, clock: cluster.clock, nextTarget: async () => await cluster.waitForLeader() })
    await cluster.await(session.register(old))
    const commitThenDie: ProposeFn = async (command) => {
      void old.propose(command).catch(() => {})
      await cluster.stepUntil(() => [...cluster.members.values()].every((m) => m.machine.inner.applied.get('x') === 1), { what: 'x applied on every node' })
      await cluster.crash(old.id)
      throw new QuorateError('NODE_CLOSED', 'the leader died before answering')
    }
    const result = await cluster.await(session.propose(commitThenDie, enc('x')))
    await cluster.waitAllApplied()
    const survivors = cluster.open()
    assert.is(survivors.length, 2)
    for (const { id, machine: m } of survivors) {
      assert.equal(m.seqs, [1, 1], `${id}: the retry put a second copy in the log`)
      assert.is(m.inner.applied.get('x'), 1, `${id}: applied once`)
    }
    assert.match(String(result), /^x@\d+#1$/, 'the answer is the first copy\'s result')
  })
})

test('a concurrent workload across a leader crash applies every acknowledged command exactly once on every survivor', async () => {
  await withCluster(['n1', 'n2', 'n3'], async (cluster) => {
    const session = new ClientSession({ attemptTimeoutMs: 200, maxAttempts: 100, backoffMs: 2, clock: cluster.clock, nextTarget: async () => await cluster.waitForLeader() })
    const total = 240
    let next = 0
    const results = new Map<string, unknown>()
    let crashed = false
    const worker = async (): Promise<void> => {
      while (next < total) {
        const key = `k${next++}`
        results.set(key, await session.propose(await cluster.waitForLeader(), enc(key)))
        if (results.size >= total / 2 && !crashed) {
          crashed = true
          await crashWithUnansweredCommits(cluster)
        }
      }
    }
    await cluster.await(Promise.all(Array.from({ length: 12 }, worker)), { maxTicks: 20_000, what: 'the workload' })
    await cluster.waitAllApplied()
    const survivors = cluster.open()
    assert.is(survivors.length, 2)
    for (const { id, machine: m } of survivors) {
      for (const [key, result] of results) {
        assert.is(m.inner.applied.get(key), 1, `${id}: ${key} applied once`)
        assert.ok(String(result).startsWith(`${key}@`), `${key} answered with its own result`)
      }
      assert.is(m.inner.total, total, `${id}: nothing else was applied`)
    }
    assert.is(session.firstUnacknowledged, total + 1)
    for (const { id, machine: m } of survivors) assert.ok(m.seqs.length > new Set(m.seqs).size, `${id}: the crash left retried duplicates in the log`)
  })
})

test.run()
