/**
 * One router holding every machine quorate ships (key-value, leases, sessions over the
 * router's dispatcher, the tuple adapter), with a command generator that draws from all of
 * them, junk included: what the router tests, the conformance run and the simulator share.
 */
import { StateMachineRouter } from '../../src/sm/index.js'
import type { Route } from '../../src/sm/index.js'
import { KvStateMachine, encodeKvCommand } from '../../src/kv/index.js'
import { LeaseTable, encodeLeaseCommand } from '../../src/lease/index.js'
import { SessionStateMachine, encodeRegister, encodeSessionCommand } from '../../src/sessions/index.js'
import { TupleStateMachine, positive, negative, ANY } from '../../src/lamport/index.js'
import { randomInt } from '../../src/util/random.js'
import type { Random } from '../../src/util/random.js'
import { fingerprint, openStore } from '../lamport/helpers.js'

export interface Composite {
  readonly router: StateMachineRouter
  readonly kv: Route<KvStateMachine>
  readonly lease: Route<LeaseTable>
  readonly session: Route<SessionStateMachine>
  readonly tuple: Route<TupleStateMachine>
}

export async function createComposite (options: { kvChunkBytes?: number } = {}): Promise<Composite> {
  const router = new StateMachineRouter()
  const kv = router.mount('kv', new KvStateMachine({ snapshotChunkBytes: options.kvChunkBytes ?? 64 }))
  const lease = router.mount('lease', new LeaseTable())
  const session = router.mount('session', new SessionStateMachine(router.dispatcher(), { maxResultsPerSession: 4 }))
  const tuple = router.mount('tuple', new TupleStateMachine(await openStore(1)))
  return { router, kv, lease, session, tuple }
}

/** Everything a composite's state is, as one comparable value. */
export function compositeState (c: Composite): unknown {
  const sessions = []
  for (let id = 1; id <= 400; id++) {
    const s = c.session.machine.session(id)
    if (s !== null) sessions.push(s)
  }
  return {
    kv: c.kv.machine.entries(),
    lease: [...c.lease.machine.records()].sort((a, b) => a.name < b.name ? -1 : 1),
    sessions,
    tuple: fingerprint(c.tuple.machine.store)
  }
}

/** Draws commands over every member; about one in twenty is junk for the router itself. */
export async function compositeCommands (): Promise<(random: Random, count: number) => Uint8Array[]> {
  const probe = await createComposite()
  const stamper = new TupleStateMachine(await openStore(2))
  const keys = ['a', 'b', 'c']
  return (random, count) => {
    let unique = 0
    const pick = <T>(xs: readonly T[]): T => xs[randomInt(random, 0, xs.length)]!
    const kvCommand = (): Uint8Array => {
      const key = pick(keys)
      const value = `v${unique++}`
      switch (randomInt(random, 0, 3)) {
        case 0: return encodeKvCommand({ op: 'put', key, value })
        case 1: return encodeKvCommand({ op: 'append', key, value })
        default: return encodeKvCommand({ op: 'cas', key, expected: random.next() < 0.5 ? null : `v${randomInt(random, 0, unique)}`, value })
      }
    }
    const out: Uint8Array[] = []
    for (let i = 0; i < count; i++) {
      const r = random.next()
      const name = pick(['x', 'y'])
      const holder = pick(['h1', 'h2'])
      if (r < 0.3) out.push(probe.kv.command(kvCommand()))
      else if (r < 0.45) out.push(probe.lease.command(encodeLeaseCommand({ op: 'acquire', name, holder, durationMs: 1000, expectVersion: randomInt(random, 0, i + 1) })))
      else if (r < 0.55) out.push(probe.lease.command(encodeLeaseCommand({ op: random.next() < 0.5 ? 'renew' : 'release', name, holder, token: randomInt(random, 1, i + 2) })))
      else if (r < 0.62) out.push(probe.session.command(encodeRegister()))
      else if (r < 0.75) {
        // Session commands name sessions by log index: draw small ids so some exist.
        const seq = randomInt(random, 1, 6)
        out.push(probe.session.command(encodeSessionCommand(randomInt(random, 1, i + 2), seq, randomInt(random, 1, seq + 1), probe.kv.command(kvCommand()))))
      } else if (r < 0.95) {
        const t = ['job', pick(keys)]
        out.push(probe.tuple.command(stamper.command([random.next() < 0.7 ? positive(t) : negative(['job', ANY])])))
      } else {
        out.push(pick([new Uint8Array(0), Uint8Array.of(0), Uint8Array.of(9, 0x6b), Uint8Array.of(2, 0x6b, 0x76, 1), Uint8Array.of(3, 0x66, 0x6f, 0x6f)]))
      }
    }
    return out
  }
}
