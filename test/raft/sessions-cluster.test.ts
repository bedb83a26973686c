/**
 * Exactly-once through real RaftNodes on the in-memory network: a first attempt whose answer
 * is lost after it entered the log, a leader killed after committing, and a concurrent
 * workload across a leader crash.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { QuorateError } from '../../src/errors.js'
import { RaftNode } from '../../src/node/node.js'
import type { RaftNodeOptions } from '../../src/node/node.js'
import { MemoryNetwork } from '../../src/transport/memory.js'
import { CrashStorage } from '../../src/testing/crash-storage.js'
import { ClientSession, SessionStateMachine, decodeEnvelope } from '../../src/sessions/state-machine.js'
import type { ProposeFn } from '../../src/sessions/state-machine.js'
import { CountingMachine, enc } from './sessions-helpers.js'

interface Member {
  readonly node: RaftNode
  readonly inner: CountingMachine
  /** Sequence numbers of the session commands this node applied, in log order (duplicates included). */
  readonly seqs: number[]
}

async function until (what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

class SessionCluster {
  readonly network = new MemoryNetwork()
  readonly members = new Map<string, Member>()

  constructor (readonly ids: string[]) {}

  async start (extra: Partial<RaftNodeOptions> = {}): Promise<void> {
    await Promise.all(this.ids.map(async (id) => {
      const inner = new CountingMachine()
      const sessions = new SessionStateMachine(inner)
      const seqs: number[] = []
      const node = new RaftNode({
        id,
        voters: this.ids,
        storage: new CrashStorage(),
        transport: this.network.transport(id),
        tickMs: 5,
        electionTicks: 10,
        stateMachine: {
          apply: (command, index) => {
            const env = decodeEnvelope(command)
            if (env.kind === 2) seqs.push(env.seq)
            return sessions.apply(command, index)
          }
        },
        ...extra
      })
      await node.open()
      this.members.set(id, { node, inner, seqs })
    }))
  }

  open (): Member[] { return [...this.members.values()].filter((m) => m.node.lifecycle === 'open') }

  async leader (): Promise<RaftNode> {
    let found: RaftNode | undefined
    await until('a leader', () => {
      const open = this.open()
      found = open.find((m) => m.node.status().role === 'leader' && open.filter((o) => o.node.status().leader === m.node.id).length > this.ids.length / 2)?.node
      return found !== undefined
    })
    return found!
  }

  async allApplied (): Promise<void> {
    await until('every open node to apply the leader\'s commit index', () => {
      const open = this.open()
      const commit = Math.max(...open.map((m) => m.node.status().commitIndex))
      return open.every((m) => m.node.status().appliedIndex >= commit)
    })
  }

  async close (): Promise<void> {
    await Promise.all([...this.members.values()].map(async (m) => await m.node.close()))
    await this.network.close()
  }
}

/** Starts a cluster, runs `body`, and closes the cluster however `body` ends. */
async function withCluster (ids: string[], body: (cluster: SessionCluster) => Promise<void>, extra: Partial<RaftNodeOptions> = {}): Promise<void> {
  const cluster = new SessionCluster(ids)
  await cluster.start(extra)
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
  const leader = await cluster.leader()
  for (const id of cluster.ids) if (id !== leader.id) cluster.network.cut(id, leader.id)
  await until('uncommitted entries on every follower', () => {
    const s = leader.status()
    return s.lastIndex > s.commitIndex && cluster.open().every((m) => m.node.status().lastIndex >= s.lastIndex)
  })
  await leader.close()
}

test('a first attempt aborted after it entered the log is retried with the same seq and applied once', async () => {
  let onPersist: (() => void) | null = null
  await withCluster(['n1'], async (cluster) => {
    const node = await cluster.leader()
    let attempt = 0
    const abortFirstCommandOnceLogged: ProposeFn = async (command, { signal }) => {
      if (++attempt !== 2) return await node.propose(command, { signal }) // attempt 1 is the registration
      const controller = new AbortController()
      onPersist = () => { onPersist = null; controller.abort() }
      return await node.propose(command, { signal: controller.signal })
    }
    const session = new ClientSession({ backoffMs: 0 })
    const result = await session.propose(abortFirstCommandOnceLogged, enc('x'))
    const member = cluster.members.get('n1')!
    assert.is(attempt, 3, 'the aborted attempt was retried')
    assert.equal(member.seqs, [1, 1], 'both copies reached the log')
    assert.is(member.inner.applied.get('x'), 1)
    assert.match(String(result), /^x@\d+#1$/, 'the result of the first copy')
  }, { trace: (e) => { if (e.kind === 'persist' && e.index !== undefined) onPersist?.() } })
})

test('a command committed by a leader that dies before answering is retried on the new leader and applied once everywhere', async () => {
  await withCluster(['n1', 'n2', 'n3'], async (cluster) => {
    const old = await cluster.leader()
    const session = new ClientSession({ backoffMs: 1, nextTarget: async () => await cluster.leader() })
    await session.register(old)
    const commitThenDie: ProposeFn = async (command) => {
      void old.propose(command).catch(() => {})
      await until('x applied on every node', () => [...cluster.members.values()].every((m) => m.inner.applied.get('x') === 1))
      await old.close()
      throw new QuorateError('NODE_CLOSED', 'the leader died before answering')
    }
    const result = await session.propose(commitThenDie, enc('x'))
    await cluster.allApplied()
    const survivors = cluster.open()
    assert.is(survivors.length, 2)
    for (const m of survivors) {
      assert.equal(m.seqs, [1, 1], `${m.node.id}: the retry put a second copy in the log`)
      assert.is(m.inner.applied.get('x'), 1, `${m.node.id}: applied once`)
    }
    assert.match(String(result), /^x@\d+#1$/, 'the answer is the first copy\'s result')
  })
})

test('a concurrent workload across a leader crash applies every acknowledged command exactly once on every survivor', async () => {
  await withCluster(['n1', 'n2', 'n3'], async (cluster) => {
    const session = new ClientSession({ attemptTimeoutMs: 200, maxAttempts: 100, backoffMs: 2, nextTarget: async () => await cluster.leader() })
    const total = 240
    let next = 0
    const results = new Map<string, unknown>()
    let crashed = false
    const worker = async (): Promise<void> => {
      while (next < total) {
        const key = `k${next++}`
        results.set(key, await session.propose(await cluster.leader(), enc(key)))
        if (results.size >= total / 2 && !crashed) {
          crashed = true
          await crashWithUnansweredCommits(cluster)
        }
      }
    }
    await Promise.all(Array.from({ length: 12 }, worker))
    await cluster.allApplied()
    const survivors = cluster.open()
    assert.is(survivors.length, 2)
    for (const m of survivors) {
      for (const [key, result] of results) {
        assert.is(m.inner.applied.get(key), 1, `${m.node.id}: ${key} applied once`)
        assert.ok(String(result).startsWith(`${key}@`), `${key} answered with its own result`)
      }
      assert.is(m.inner.total, total, `${m.node.id}: nothing else was applied`)
    }
    assert.is(session.firstUnacknowledged, total + 1)
    for (const m of survivors) assert.ok(m.seqs.length > new Set(m.seqs).size, `${m.node.id}: the crash left retried duplicates in the log`)
  })
})

test.run()
