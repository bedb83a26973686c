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
 * The placement state of one decision, computed once (nodes in id order, how many instances
 * each runs, which anti-affinity groups each holds) and updated by `assign`, so that placing
 * the many instances of a dead node costs one pass over the nodes each, with no allocation.
 */
export class Placement {
  readonly #view: GraphView<HaSpec>
  readonly #now: number
  #nodes: NodeView[] | null = null
  readonly #load = new Map<string, number>()
  readonly #groups = new Map<string, Set<string>>()

  constructor (view: GraphView<HaSpec>, now: number) {
    this.#view = view
    this.#now = now
  }

  #index (): NodeView[] {
    if (this.#nodes !== null) return this.#nodes
    this.#nodes = this.#view.byKind('ha.node').sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    for (const node of this.#nodes) {
      const running = this.#view.neighbours(node.id, 'ha.runs') as InstanceView[]
      this.#load.set(node.id, running.length)
      const groups = new Set<string>()
      for (const i of running) if (i.fields.group !== undefined) groups.add(i.fields.group)
      this.#groups.set(node.id, groups)
    }
    return this.#nodes
  }

  /**
   * The eligible node running the fewest instances (then the lowest id) for `instance`, or
   * undefined. Anti-affinity counts the instance's own current node as holding its group only
   * through other members (the instance is leaving it).
   */
  place (instance: InstanceView, exclude: ReadonlySet<string> = new Set()): string | undefined {
    const f = instance.fields
    const avoid = avoidOf(instance)
    const current = nodeOf(this.#view, instance.id)
    let best: string | undefined
    let bestLoad = Infinity
    for (const node of this.#index()) {
      if (node.fields.state !== 'up' || exclude.has(node.id)) continue
      if (f.nodeKind !== undefined && node.fields.kind !== f.nodeKind) continue
      if (f.label !== undefined && !labelsOf(node).includes(f.label)) continue
      const until = avoid[node.id]
      if (until !== undefined && until > this.#now) continue
      if (f.group !== undefined && node.id !== current && this.#groups.get(node.id)!.has(f.group)) continue
      const load = this.#load.get(node.id)!
      if (load < bestLoad) { best = node.id; bestLoad = load }
    }
    return best
  }

  /** Records that `instance` was placed on `node` in this decision. */
  assign (node: string, instance: InstanceView): void {
    this.#index()
    this.#load.set(node, (this.#load.get(node) ?? 0) + 1)
    if (instance.fields.group !== undefined) this.#groups.get(node)?.add(instance.fields.group)
  }
}

/** The node to place `instance` on now, or undefined if none is eligible (one placement; see Placement for many). */
export function place (view: GraphView<HaSpec>, instance: InstanceView, now: number, exclude: ReadonlySet<string> = new Set()): string | undefined {
  return new Placement(view, now).place(instance, exclude)
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
