/**
 * `place-new`: places the instances that no node runs yet. Declaring a service in the graph
 * (an `ha.instance` with no `ha.runs` edge, not `stopped`) says "run this somewhere"; the next
 * time a node announces itself alive (a `node-alive` event, which a node agent sends when it
 * comes up), this rule spreads every such instance over the eligible nodes (placement.ts:
 * constraints, then least loaded, then lowest id) and orders the starts.
 *
 * Deterministic like every rule: the same view and event place the same way. It runs beside
 * `node-failure` on the same view, which starts what is already placed on the announcing
 * node; the two never order a start for the same instance (placed ones are not its concern).
 */
import { ref } from '../graph/schema.js'
import type { CommandOrder, Rule } from './rule.js'
import { startOrder } from './builtin-rules.js'
import { Placement, breakerOpen, nodeOf } from './placement.js'
import type { InstanceView } from './placement.js'

export const placeNewRule: Rule = {
  name: 'place-new',
  on: ['node-alive'],
  decide: ({ view, now, settings, inFlight }) => {
    const unplaced = (view.byKind('ha.instance') as InstanceView[])
      .filter((i) => i.fields.state !== 'stopped' && nodeOf(view, i.id) === undefined)
      .sort((a, b) => (a.id < b.id ? -1 : 1))
    if (unplaced.length === 0 || breakerOpen(view, settings.breakerFraction)) return undefined
    const placement = new Placement(view, now)
    const placed: Array<{ node: string, inst: InstanceView }> = []
    let capacity = settings.maxInFlight - inFlight
    for (const inst of unplaced) {
      const node = capacity > 0 ? placement.place(inst) : undefined
      if (node === undefined) continue // no eligible node (or the throttle): the next announcement tries again
      capacity--
      placement.assign(node, inst)
      placed.push({ node, inst })
    }
    if (placed.length === 0) return undefined
    const commands: CommandOrder[] = placed.map(({ node, inst }) => startOrder(node, inst))
    return {
      change: (tx) => {
        for (const { node, inst } of placed) {
          tx.connect('ha.runs', ref('ha.node', node), ref('ha.instance', inst.id))
          tx.update(ref('ha.instance', inst.id), { state: 'starting', attempt: inst.fields.attempt + 1 })
        }
      },
      commands,
      note: `placed ${placed.map(({ node, inst }) => `${inst.id} on ${node}`).join(', ')}`
    }
  }
}
