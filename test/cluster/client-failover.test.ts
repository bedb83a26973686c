/**
 * QuorateClient against three node processes on three loopback addresses (127.0.0.1-3, as if
 * three machines), over its default path: TLS with a client certificate, the binary protocol,
 * client sessions. Workers append unique tokens to their own keys — appends are not
 * idempotent, so a command applied twice shows up as a repeated token — while a seeded
 * schedule SIGKILLs the leader and restarts it. Afterwards every acknowledged append must be
 * in the log exactly once, no token at all may appear twice, each worker's tokens in order.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ProcessCluster } from '../../src/cluster/launcher.js'
import type { QuorateClient } from '../../src/cluster/quorate-client.js'
import type { NodeId } from '../../src/raft/types.js'
import { SeededRandom, randomInt } from '../../src/util/random.js'
import { eventually } from '../harness/index.js'

const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3']
const WORKERS = 8
const KILL_ROUNDS = 3
const SETTLE = { timeoutMs: 30_000, intervalMs: 50 }

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/**
 * What went wrong in one worker's log, given the tokens it had acknowledged: lost (acked, not
 * in the log), repeated (in the log more than once) or out of order. Empty when all is well.
 */
function logProblems (worker: number, log: string, acked: ReadonlySet<number>): string[] {
  const seen = log.split(';').filter((t) => t.length > 0).map((t) => Number(t.split('.')[1]))
  const problems: string[] = []
  const counts = new Map<number, number>()
  for (const n of seen) counts.set(n, (counts.get(n) ?? 0) + 1)
  for (const [n, c] of counts) if (c > 1) problems.push(`w${worker}: token ${n} applied ${c} times`)
  for (const n of acked) if (!counts.has(n)) problems.push(`w${worker}: acknowledged token ${n} lost`)
  for (let i = 1; i < seen.length; i++) if (seen[i]! <= seen[i - 1]!) problems.push(`w${worker}: token ${seen[i]} after ${seen[i - 1]}`)
  return problems
}

test('the log checker flags a lost, a repeated and a reordered token (and passes a clean log)', () => {
  assert.equal(logProblems(0, '0.1;0.2;0.3;', new Set([1, 2, 3])), [])
  assert.equal(logProblems(0, '0.1;0.3;', new Set([1, 2])), ['w0: acknowledged token 2 lost'])
  assert.equal(logProblems(0, '0.1;0.2;0.2;', new Set([1, 2])), ['w0: token 2 applied 2 times', 'w0: token 2 after 2'])
  assert.equal(logProblems(0, '0.2;0.1;', new Set([1, 2])), ['w0: token 1 after 2'])
})

async function leaderOf (cluster: ProcessCluster, client: QuorateClient): Promise<NodeId | null> {
  const reports = await Promise.allSettled(cluster.ids.filter((id) => cluster.isRunning(id)).map(async (id) => await client.status(id, { hash: false })))
  let best: { id: NodeId, term: number } | null = null
  for (const r of reports) if (r.status === 'fulfilled' && r.value.role === 'leader' && (best === null || r.value.term > best.term)) best = r.value
  return best?.id ?? null
}

test('no acknowledged append lost and none applied twice across SIGKILLs of the leader (3 processes on 3 addresses, TLS, sessions)', async () => {
  const random = new SeededRandom(2107)
  const cluster = await ProcessCluster.create({ nodes: 3, hosts: HOSTS })
  const client = cluster.quorateClient({ attemptTimeoutMs: 1000 })
  try {
    await cluster.startAll()
    const acked = Array.from({ length: WORKERS }, () => new Set<number>())
    let failed = 0
    let stop = false
    const workers = Array.from({ length: WORKERS }, async (_, w) => {
      for (let n = 1; !stop; n++) {
        try {
          await client.kv.append(`log-${w}`, `${w}.${n};`, { signal: AbortSignal.timeout(10_000) })
          acked[w]!.add(n)
        } catch {
          failed++
        }
      }
    })
    const kills: string[] = []
    try {
      for (let round = 0; round < KILL_ROUNDS; round++) {
        await sleep(randomInt(random, 400, 1200))
        const leader = await eventually('a leader', async () => await leaderOf(cluster, client) ?? undefined, SETTLE)
        await cluster.kill(leader, 'SIGKILL')
        kills.push(leader)
        await sleep(randomInt(random, 200, 900))
        await cluster.start(leader)
      }
      await sleep(500)
    } finally {
      stop = true
      await Promise.all(workers)
    }
    const total = acked.reduce((n, s) => n + s.size, 0)
    console.log(`${total} appends acknowledged, ${failed} not; killed ${kills.join(', ')}; ${client.stats.attempts - client.stats.proposals} retried attempts`)
    assert.ok(total > 0, 'no append was acknowledged')
    // Leaders died with commands in flight: the run exercised retries.
    assert.ok(client.stats.attempts > client.stats.proposals, 'no attempt was retried')
    const logs = await client.kv.read(acked.map((_, w) => `log-${w}`), { signal: AbortSignal.timeout(30_000) })
    const problems = logs.flatMap((log, w) => logProblems(w, log ?? '', acked[w]!))
    assert.equal(problems, [])
    const settled = await eventually('all nodes at one applied index', async () => {
      const all = await Promise.all(cluster.ids.map(async (id) => await client.status(id)))
      return all.every((r) => r.appliedIndex === all[0]!.appliedIndex) ? all : undefined
    }, SETTLE)
    assert.equal(new Set(settled.map((r) => r.stateHash)).size, 1, 'replicas differ')
  } finally {
    await client.close()
    await cluster.close()
  }
})

test.run()
