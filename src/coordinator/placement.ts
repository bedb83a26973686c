/**
 * Placement: which node an instance may run on, by its declared constraints. Deterministic:
 * among eligible nodes the one running the fewest instances, then the lowest id.
 *
 * Eligible: state 'up'; of the instance's `nodeKind` if it names one; carrying its `label`
 * if it names one; running no other instance of its anti-affinity `group`; not a node the
 * instance avoids (it failed there too often, until the failure count expires); not excluded.
 */
import { ref } from '../graph/schema.js'
import type { GraphView, ResourceView } from '../graph/view.js'
import type { HaSpec } from './schema.js'

export type InstanceView = ResourceView<HaSpec, 'ha.instance'>
export type NodeView = ResourceView<HaSpec, 'ha.node'>

export function labelsOf (node: NodeView): string[] {
  return node.fields.labels === '' ? [] : node.fields.labels.split(',')
}

/** Nodes the instance avoids at `now`: node -> until (wall-clock ms). */
export function avoidOf (instance: InstanceView): Record<string, number> {
  return JSON.parse(instance.fields.avoid) as Record<string, number>
}

/** The node `instance` runs on (its ha.runs edge), if any. */
export function nodeOf (view: GraphView<HaSpec>, instance: string): string | undefined {
  return view.neighbours(instance, 'ha.runs', 'in')[0]?.id
}

export function eligible (view: GraphView<HaSpec>, instance: InstanceView, node: NodeView, now: number, exclude: ReadonlySet<string> = new Set()): boolean {
  const f = instance.fields
  if (node.fields.state !== 'up' || exclude.has(node.id)) return false
  if (f.nodeKind !== undefined && node.fields.kind !== f.nodeKind) return false
  if (f.label !== undefined && !labelsOf(node).includes(f.label)) return false
  const until = avoidOf(instance)[node.id]
  if (until !== undefined && until > now) return false
  if (f.group !== undefined) {
    for (const other of view.neighbours(node.id, 'ha.runs')) {
      if (other.id !== instance.id && (other.fields as InstanceView['fields']).group === f.group) return false
    }
  }
  return true
}

/**
 * The node to place `instance` on, or undefined if none is eligible. `pending` counts
 * placements decided in the same decision (not yet in the view), so a node that died with
 * several instances spreads them instead of stacking them on one node.
 */
export function place (view: GraphView<HaSpec>, instance: InstanceView, now: number, exclude: ReadonlySet<string> = new Set(), pending: ReadonlyMap<string, readonly InstanceView[]> = new Map()): string | undefined {
  let best: { id: string, load: number } | undefined
  for (const node of view.byKind('ha.node').sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    if (!eligible(view, instance, node, now, exclude)) continue
    const planned = pending.get(node.id) ?? []
    if (instance.fields.group !== undefined && planned.some((p) => p.fields.group === instance.fields.group)) continue
    const load = view.neighbours(node.id, 'ha.runs').length + planned.length
    if (best === undefined || load < best.load) best = { id: node.id, load }
  }
  return best?.id
}

export function getInstance (view: GraphView<HaSpec>, id: string): InstanceView | undefined {
  return view.get(ref('ha.instance', id))
}

export function getNode (view: GraphView<HaSpec>, id: string): NodeView | undefined {
  return view.get(ref('ha.node', id))
}

/** True when more than `fraction` of the nodes are suspect or dead (counting `extraDown` as down too). */
export function breakerOpen (view: GraphView<HaSpec>, fraction: number, extraDown?: string): boolean {
  const nodes = view.byKind('ha.node')
  if (nodes.length === 0) return false
  const down = nodes.filter((n) => n.fields.state !== 'up' || n.id === extraDown).length
  return down / nodes.length > fraction
}
