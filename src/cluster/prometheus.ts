/**
 * The node's metrics in the Prometheus text exposition format (version 0.0.4), for
 * `GET /metrics`. Names: `quorate_<counter>_total` for the node's counters, summaries with
 * p50/p99 quantiles for its histograms (seconds), gauges for role, term and indexes,
 * `quorate_transport_<stat>` for the transport's counters and
 * `quorate_client_rejections_total{code}` for the endpoint's refusals. Every series carries
 * the node id as a `node` label.
 */
import type { MetricsSnapshot } from '../node/metrics.js'
import type { NodeStatus } from '../node/node.js'

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** The inputs of one scrape. */
export interface MetricsScrape {
  readonly status: NodeStatus
  readonly metrics: MetricsSnapshot
  readonly transport?: Readonly<Record<string, number>>
  readonly rejections: Readonly<Record<string, number>>
}

const ROLES = ['follower', 'candidate', 'leader'] as const

function snake (name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/[^a-z0-9_]/g, '_')
}

function escapeLabel (value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

export function prometheusText (scrape: MetricsScrape): string {
  const node = `node="${escapeLabel(scrape.status.id)}"`
  const lines: string[] = []
  const metric = (name: string, type: string, help: string, samples: Array<[string, number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, value] of samples) lines.push(`${name}{${node}${labels}} ${Number.isFinite(value) ? value : 0}`)
  }
  const s = scrape.status
  metric('quorate_role', 'gauge', 'The node\'s Raft role (1 for the current one).', ROLES.map((r) => [`,role="${r}"`, s.role === r ? 1 : 0]))
  metric('quorate_term', 'gauge', 'The node\'s current Raft term.', [['', s.term]])
  metric('quorate_commit_index', 'gauge', 'Highest log index known committed.', [['', s.commitIndex]])
  metric('quorate_applied_index', 'gauge', 'Highest log index applied.', [['', s.appliedIndex]])
  metric('quorate_leader_known', 'gauge', '1 if the node knows a leader.', [['', s.leader === null ? 0 : 1]])
  for (const [name, value] of Object.entries(scrape.metrics.counters)) {
    metric(`quorate_${snake(name)}_total`, 'counter', `The node's ${name} counter.`, [['', value]])
  }
  for (const [name, h] of Object.entries(scrape.metrics.histograms)) {
    const base = `quorate_${snake(name.replace(/Ms$/, ''))}_seconds`
    lines.push(`# HELP ${base} The node's ${name} histogram.`, `# TYPE ${base} summary`)
    lines.push(`${base}{${node},quantile="0.5"} ${h.p50 / 1000}`, `${base}{${node},quantile="0.99"} ${h.p99 / 1000}`)
    lines.push(`${base}_sum{${node}} ${(h.mean * h.count) / 1000}`, `${base}_count{${node}} ${h.count}`)
  }
  for (const [name, value] of Object.entries(scrape.transport ?? {})) {
    metric(`quorate_transport_${snake(name)}`, name.startsWith('connections') ? 'gauge' : 'counter', `The transport's ${name} stat.`, [['', value]])
  }
  metric('quorate_client_rejections_total', 'counter', 'Client endpoint requests and connections refused, by error code.',
    Object.entries(scrape.rejections).map(([code, n]) => [`,code="${escapeLabel(code)}"`, n]))
  return lines.join('\n') + '\n'
}
