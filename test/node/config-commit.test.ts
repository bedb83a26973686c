/**
 * A node acts on a configuration entry when it applies it (a removed node stops campaigning,
 * a removed leader steps down), so the commit index covering that entry must be durable
 * before the apply. Otherwise a crash brings the node back under the older configuration, in
 * which removed nodes can still elect one of their own: the simulator found a second leader
 * of a term that way (a removed, restarted node voted in by another removed node).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { TraceEvent } from '../../src/node/node.js'
import { TICK_MS, VirtualCluster, track } from './virtual-cluster.js'

test('every node has a durable commit index covering a configuration entry before it applies it', async () => {
  const seen: string[] = []
  let cluster: VirtualCluster | undefined
  const trace = (e: TraceEvent): void => {
    if (e.kind !== 'config') return
    const durable = cluster!.storage(e.node).durableHardState.commit
    seen.push(`${e.node}:${durable >= e.index! ? 'durable' : `only ${durable} durable for ${e.index!}`}`)
  }
  cluster = new VirtualCluster(['a', 'b', 'c'], 21, { trace })
  await cluster.openAll()
  const leader = cluster.nodes.get(await cluster.leader())!
  const change = track(leader.addLearner('d'))
  await cluster.run(40 * TICK_MS)
  assert.is(change.state(), 'resolved', String(change.error()))
  assert.equal(seen.sort(), ['a:durable', 'b:durable', 'c:durable'])
  await cluster.closeAll()
})

test.run()
