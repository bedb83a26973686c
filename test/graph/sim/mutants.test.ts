/**
 * The graph simulator's mutation check: deliberately broken machines must be caught within a
 * few seeds — a trim that runs without its change (Halon's two-group bug), fencing ignored,
 * a dedup window shorter than promised. A survivor would mean the workload or its model is
 * too weak to notice that bug.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { describeFinding, runGraphSimulation } from '../../../src/testing/sim/index.js'
import { GraphStateMachine, decodeCommand, encodeCommand } from '../../../src/graph/index.js'
import type { GraphResult, GraphStateMachineOptions, Schema } from '../../../src/graph/index.js'
import { GRAPH_SIM_FAULT_MS, storedTwice } from './seeds.js'

type Factory = (schema: Schema, options: GraphStateMachineOptions) => GraphStateMachine

/** A machine that trims the events of a refused handle anyway (Halon's two-group bug). */
class TrimsWithoutChange extends GraphStateMachine {
  override apply (command: Uint8Array, index: number): GraphResult {
    const r = super.apply(command, index)
    if (r.status === 'refused') {
      const c = decodeCommand(command)
      if (c.type === 'tx' && c.trim.length > 0) this.events.trim(c.trim)
    }
    return r
  }
}

/** A machine that ignores fencing tokens. */
class IgnoresFencing extends GraphStateMachine {
  override apply (command: Uint8Array, index: number): GraphResult {
    const c = decodeCommand(command)
    if (c.type !== 'tx' || c.fence === undefined) return super.apply(command, index)
    const { fence: _dropped, ...rest } = c
    return super.apply(encodeCommand(rest), index)
  }
}

const MUTANTS: Array<[string, Factory]> = [
  ['a handle trims its event though its change was refused', (s, o) => new TrimsWithoutChange(s, o)],
  ['fencing tokens are ignored', (s, o) => new IgnoresFencing(s, o)],
  ['the dedup window is shorter than promised', (s, o) => new GraphStateMachine(s, { ...o, events: { ...o.events, dedupWindowMs: 20 } })]
]

for (const [name, createMachine] of MUTANTS) {
  test(`mutant caught within 10 seeds: ${name}`, async () => {
    let caught: string | null = null
    for (let seed = 1; seed <= 10 && caught === null; seed++) {
      const r = await runGraphSimulation({ seed, createMachine, faultRanges: { durationMs: GRAPH_SIM_FAULT_MS } })
      if (!r.ok) caught = `${seed}: ${describeFinding(r)?.finding ?? 'divergence'}`
      else if (storedTwice(r).length > 0) caught = `${seed}: stored twice`
    }
    assert.ok(caught !== null, 'no seed caught it')
  })
}

test.run()
