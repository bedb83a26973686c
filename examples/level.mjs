// A replicated `level` database: the same code as a plain one, three lines changed.
import { MemoryLevel } from 'memory-level'
import { RaftNode, StateMachineRouter } from 'quorate'
import { LevelStateMachine, ReplicatedLevel } from 'quorate/level'
import { MemoryNetwork } from 'quorate/transport'
import { CrashStorage } from 'quorate/testing'

async function use (db) {
  await db.put('greeting', 'hello')
  await db.batch([{ type: 'put', key: 'a', value: '1' }, { type: 'put', key: 'b', value: '2' }])
  return await db.iterator().all()
}

// A plain database.
console.log('plain:', await use(new MemoryLevel()))

// Replicated on three nodes: each node applies every write to its own local database.
const network = new MemoryNetwork()
const ids = ['n1', 'n2', 'n3']
const replicas = ids.map((id) => {
  const router = new StateMachineRouter()
  const level = router.mount('level', new LevelStateMachine({ db: new MemoryLevel() })) // 1. the local database becomes a replica
  const node = new RaftNode({ id, voters: ids, storage: new CrashStorage(), transport: network.transport(id), stateMachine: router, forwardProposals: true }) // 2. a Raft node applies to it
  return { node, level, db: new ReplicatedLevel({ node, route: level }) } // 3. the database you use
})
await Promise.all(replicas.map(({ node }) => node.open()))
await replicas[0].node.waitForLeader()

console.log('replicated:', await use(replicas[0].db))
// Any node answers, linearizably by default (readMode 'linearizable'; 'lease' and 'local' too).
console.log('read on n3:', await replicas[2].db.get('greeting'))

for (const { node, level, db } of replicas) {
  await db.close()
  await node.close()
  await level.machine.close()
}
await network.close()
