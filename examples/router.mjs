// Several state machines on one Raft log: leases, exactly-once sessions and your own machine.
import { RaftNode, StateMachineRouter, SessionStateMachine, ClientSession } from 'quorate'
import { LeaseTable, LeaseManager } from 'quorate/lease'
import { MemoryNetwork } from 'quorate/transport'
import { CrashStorage } from 'quorate/testing'

// Your own machine: a counter. It must snapshot and restore (or be mounted { stateless: true }).
class Counter {
  value = 0
  apply (command) { this.value += command[0]; return this.value }
  snapshot () { const bytes = Uint8Array.of(this.value); return (async function * () { yield bytes })() }
  async restore (chunks) { for await (const c of chunks) this.value = c[0] }
}

const network = new MemoryNetwork()
const ids = ['n1', 'n2', 'n3']
const members = new Map()
const nodes = ids.map((id) => {
  // Every replica mounts the same members under the same ids, before the node opens.
  const router = new StateMachineRouter()
  const counter = router.mount('counter', new Counter())
  const leases = router.mount('lease', new LeaseTable())
  // Sessions wrap the router's dispatcher: a session command carries a routed command.
  const sessions = router.mount('session', new SessionStateMachine(router.dispatcher()))
  members.set(id, { counter, leases, sessions })
  return new RaftNode({ id, voters: ids, storage: new CrashStorage(), transport: network.transport(id), stateMachine: router, forwardProposals: true })
})
await Promise.all(nodes.map((n) => n.open()))
const leaderId = await nodes[0].waitForLeader()
const leader = nodes.find((n) => n.id === leaderId)
const { counter, leases, sessions } = members.get(leaderId)

console.log('counter:', await counter.bind(leader).propose(Uint8Array.of(5)))

const session = new ClientSession()
const viaSessions = sessions.bind(leader)
await session.register(viaSessions)
console.log('exactly-once add:', await session.propose(viaSessions, counter.command(Uint8Array.of(2))))

const manager = new LeaseManager({ node: leases.bind(leader), table: leases.machine })
const lease = await manager.acquire('coordinator', { holder: leaderId, durationMs: 2_000 })
console.log('lease token:', lease.token)
await lease.release()
await manager.close()

await Promise.all(nodes.map((n) => n.close()))
await network.close()
