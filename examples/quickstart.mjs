// A 3-node cluster in one process: in-memory network, classic-level storage on disk.
import { RaftNode, LevelStorage } from 'quorate'
import { MemoryNetwork } from 'quorate/transport'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// The state machine: a tiny key-value store. apply() must be deterministic.
class KeyValue {
  map = new Map()
  apply (command) {
    const { key, value } = JSON.parse(new TextDecoder().decode(command))
    this.map.set(key, value)
    return this.map.size
  }
}

const dir = await mkdtemp(join(tmpdir(), 'quorate-quickstart-'))
const network = new MemoryNetwork()
const ids = ['n1', 'n2', 'n3']
const machines = new Map(ids.map((id) => [id, new KeyValue()]))
const nodes = ids.map((id) => new RaftNode({
  id,
  voters: ids,
  storage: new LevelStorage({ location: join(dir, id) }),
  transport: network.transport(id),
  stateMachine: machines.get(id),
  tickMs: 20
}))
await Promise.all(nodes.map((n) => n.open()))

const leaderId = await nodes[0].waitForLeader()
const leader = nodes.find((n) => n.id === leaderId)
const put = (key, value) => leader.propose(new TextEncoder().encode(JSON.stringify({ key, value })))
console.log('size after put:', await put('greeting', 'hello'))

// A linearizable read on a follower: read() returns once it has applied every earlier write.
const follower = nodes.find((n) => n.id !== leaderId)
await follower.read()
console.log('follower sees:', machines.get(follower.id).map.get('greeting'))

await Promise.all(nodes.map((n) => n.close()))
await network.close()
await rm(dir, { recursive: true, force: true })
