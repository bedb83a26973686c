/** The `quorate` command's tables for people (its `--json` prints the routes' objects as they are). */
import type { ClusterView } from '../views/view.js'

/** Left-aligned columns, two spaces apart; `rows[0]` is the header. */
export function table (rows: ReadonlyArray<ReadonlyArray<string | number | null>>): string {
  const text = rows.map((r) => r.map((c) => c === null ? '-' : String(c)))
  const widths = text[0]!.map((_, i) => Math.max(...text.map((r) => r[i]?.length ?? 0)))
  return text.map((r) => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i]!)).join('  ')).join('\n')
}

export function renderStatus (v: ClusterView): string {
  const lines = [`cluster: ${v.members.length} members, leader ${v.leader ?? 'none'}, term ${v.term} (view from ${v.from})`]
  lines.push(v.coordinator === null ? 'coordinator: none has acted' : `coordinator: ${v.coordinator.holder}, fencing token ${v.coordinator.token}, ${v.coordinator.seq} decisions`)
  lines.push('', table([['ID', 'STATE', 'ROLE', 'TERM', 'LEADER', 'COMMIT', 'APPLIED', 'MATCH', 'LAG', 'ENDPOINT'],
    ...v.members.map((m) => [m.id, m.up ? 'up' : 'down', m.up ? m.role : null, m.term, m.leader, m.commitIndex, m.appliedIndex, m.match, m.lag, `${m.client.host}:${m.client.port}`])]))
  if (v.leases.length > 0) lines.push('', table([['LEASE', 'HOLDER', 'TOKEN', 'DURATION'], ...v.leases.map((l) => [l.name, l.holder, l.token, `${l.durationMs} ms`])]))
  if (v.graph !== null) {
    const g = v.graph
    const byId = new Map(g.instances.map((i) => [i.id, i]))
    if (g.nodes.length > 0) {
      lines.push('', table([['AGENT', 'KIND', 'STATE', 'SERVICES'],
        ...g.nodes.map((n) => [n.id, n.kind, n.state, n.instances.map((id) => `${id} (${byId.get(id)?.state ?? '?'})`).join(', ') || '-'])]))
    }
    const unplaced = g.instances.filter((i) => i.node === null)
    if (unplaced.length > 0) lines.push(`unplaced: ${unplaced.map((i) => `${i.id} (${i.state})`).join(', ')}`)
    lines.push(`graph: ${g.resources} resources, ${g.edges} edges, ${g.events.length > 0 ? `newest event ${g.events[0]!.id}` : 'no queued events'}`)
  }
  return lines.join('\n')
}

export function renderHealth (v: ClusterView, healthy: boolean): string {
  return [`${healthy ? 'healthy' : 'UNHEALTHY'}: leader ${v.leader ?? 'none'}, term ${v.term}`,
    table([['ID', 'STATE', 'ROLE', 'TERM'], ...v.members.map((m) => [m.id, m.up ? 'up' : 'down', m.up ? m.role : null, m.term])])].join('\n')
}

interface ResourceRow { readonly id: string, readonly kind: string, readonly version: number, readonly fields: Record<string, unknown>, readonly relation?: string, readonly direction?: string }

export function renderGraph (answer: { resources: number | ResourceRow[], edges?: number, kinds?: Record<string, number> }): string {
  if (typeof answer.resources === 'number') {
    return [`${answer.resources} resources, ${String(answer.edges)} edges`, table([['KIND', 'COUNT'], ...Object.entries(answer.kinds ?? {}).map(([k, n]) => [k, n])])].join('\n')
  }
  if (answer.resources.length === 0) return 'no resources'
  const near = answer.resources.some((r) => r.relation !== undefined)
  return table([[...(near ? ['RELATION', 'DIR'] : []), 'ID', 'KIND', 'VERSION', 'FIELDS'],
    ...answer.resources.map((r) => [...(near ? [r.relation ?? null, r.direction ?? null] : []), r.id, r.kind, r.version, JSON.stringify(r.fields)])])
}

interface EventRow { readonly id: string, readonly index: number, readonly time: number, readonly bytes: number, readonly text?: string, readonly base64?: string }

export function renderEvents (answer: { events: EventRow[] }, header: boolean): string {
  const rows = answer.events.map((e) => [e.index, new Date(e.time).toISOString(), e.id, e.bytes, e.text ?? `base64:${e.base64 ?? ''}`])
  if (!header) return table([['', '', '', '', ''], ...rows]).split('\n').slice(1).join('\n')
  return rows.length === 0 ? 'no queued events' : table([['INDEX', 'TIME', 'ID', 'BYTES', 'PAYLOAD'], ...rows])
}
