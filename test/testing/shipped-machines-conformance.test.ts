/**
 * Each state machine quorate ships passes the state-machine conformance suite on its own
 * (the router test runs them together): key-value with tiny and default snapshot chunks,
 * the lease table and the tuple adapter, each fed its share of the composite generator's
 * commands (junk included).
 */
import { test } from 'uvu'
import { stateMachineConformance } from '../../src/testing/state-machine-conformance.js'
import { KvStateMachine } from '../../src/kv/index.js'
import { LeaseTable } from '../../src/lease/index.js'
import { TupleStateMachine } from '../../src/lamport/index.js'
import type { Random } from '../../src/util/random.js'
import { compositeCommands, createComposite } from '../sm/composite.js'
import { fingerprint, openStore } from '../lamport/helpers.js'

const composite = await compositeCommands()
const probe = await createComposite()

/** The composite generator's commands for one member, untagged, plus a few foreign ones. */
function commandsFor (prefix: Uint8Array): (random: Random, count: number) => Uint8Array[] {
  return (random, count) => {
    const out: Uint8Array[] = []
    while (out.length < count) {
      for (const c of composite(random, count)) {
        const mine = c.length >= prefix.length && prefix.every((b, i) => c[i] === b)
        if (mine) out.push(c.subarray(prefix.length))
        else if (random.next() < 0.03) out.push(c)
      }
    }
    return out.slice(0, count)
  }
}

for (const chunk of [7, 65_536]) {
  stateMachineConformance<KvStateMachine>(test, {
    name: `KvStateMachine (snapshotChunkBytes ${chunk})`,
    create: () => new KvStateMachine({ snapshotChunkBytes: chunk }),
    commands: commandsFor(probe.kv.prefix),
    state: (m) => [m.appliedIndex, m.entries()]
  })
}

stateMachineConformance<LeaseTable>(test, {
  name: 'LeaseTable',
  create: () => new LeaseTable(),
  commands: commandsFor(probe.lease.prefix),
  state: (m) => [...m.records()].sort((a, b) => a.name < b.name ? -1 : 1)
})

stateMachineConformance<TupleStateMachine>(test, {
  name: 'TupleStateMachine',
  create: async () => new TupleStateMachine(await openStore(1)),
  commands: commandsFor(probe.tuple.prefix),
  state: (m) => fingerprint(m.store)
})

test.run()
