/**
 * The node process logs its own state transitions (the library is silent by default): a started
 * three-process cluster writes pino-layout JSON lines on stderr, one of them the leader's
 * "became leader", each naming its node.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ProcessCluster } from '../../src/cluster/launcher.js'
import { eventually } from '../harness/index.js'

test('node processes log "became leader" as JSON lines on stderr, with their node id', async () => {
  const lines: Array<{ id: string, line: string }> = []
  const cluster = await ProcessCluster.create({ nodes: 3, onStderr: (id, line) => { lines.push({ id, line }) } })
  try {
    await cluster.startAll()
    await eventually('a node logs "became leader"', () => lines.some((l) => l.line.includes('became leader')), { timeoutMs: 30_000, intervalMs: 50 })
    const records = lines.filter((l) => l.line.startsWith('{')).map((l) => ({ id: l.id, record: JSON.parse(l.line) as Record<string, unknown> }))
    const leader = records.find((r) => r.record.msg === 'became leader')
    assert.ok(leader !== undefined, lines.map((l) => l.line).join('\n'))
    assert.is(leader.record.node, leader.id)
    assert.type(leader.record.level, 'number')
    assert.type(leader.record.term, 'number')
  } finally {
    await cluster.close()
  }
})

test.run()
