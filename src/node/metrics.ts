/**
 * Node metrics: counters and latency histograms kept by every node (cheap increments, Node's
 * built-in HDR histograms), gauges with labels (role, term, indexes, lag, leader changes; set
 * by observe.ts from the node's state transitions) and, optionally, forwarded to a user's
 * metrics system through a sink with no dependency on any metrics library (docs/observability.md
 * wires it to prom-client).
 *
 * @example
 * const node = new RaftNode({ ..., metrics: { count: (name, by) => prom[name].inc(by), observe: (name, v) => hist[name].observe(v) } })
 * console.log(node.metrics().counters.entriesApplied)
 */
import { createHistogram } from 'node:perf_hooks'
import type { RecordableHistogram } from 'node:perf_hooks'

export interface MetricsSink {
  /** A counter grew by `by`. */
  count? (name: CounterName, by: number): void
  /** One observation of a latency in milliseconds. */
  observe? (name: HistogramName, valueMs: number): void
  /**
   * A gauge took a new value. `labels` always has `node`; `role` adds `role`, `replicationLag`
   * adds `peer`. The node reuses each labels object: read it, do not keep or change it.
   */
  gauge? (name: GaugeName, value: number, labels: GaugeLabels): void
}

/**
 * role: 1 for the node's current role, 0 for the other two (label `role`); term; commitIndex;
 * appliedIndex; applyLag: commitIndex - appliedIndex on this node; replicationLag: on the
 * leader, its last index minus each follower's match index (label `peer`, refreshed at most
 * once a second); leaderChanges: how often this node saw the leader change (only grows).
 */
export const GAUGE_NAMES = ['role', 'term', 'commitIndex', 'appliedIndex', 'applyLag', 'replicationLag', 'leaderChanges'] as const
export type GaugeName = typeof GAUGE_NAMES[number]
export type GaugeLabels = Readonly<Record<string, string>>

export interface GaugeValue {
  readonly name: GaugeName
  readonly labels: GaugeLabels
  readonly value: number
}

export const COUNTER_NAMES = [
  'proposals', 'proposalsRejected', 'entriesApplied', 'entriesPersisted', 'storageWrites',
  'messagesSent', 'messagesReceived', 'elections', 'leaderChanges', 'readsServed',
  'snapshotsTaken', 'snapshotsInstalled', 'snapshotChunksSent', 'snapshotDigestMismatches', 'configChanges'
] as const
export type CounterName = typeof COUNTER_NAMES[number]

export const HISTOGRAM_NAMES = ['storageWriteMs', 'applyMs', 'readyMs'] as const
export type HistogramName = typeof HISTOGRAM_NAMES[number]

export interface HistogramSummary {
  readonly count: number
  readonly p50: number
  readonly p99: number
  readonly max: number
  readonly mean: number
}

export interface MetricsSnapshot {
  readonly counters: Readonly<Record<CounterName, number>>
  readonly histograms: Readonly<Record<HistogramName, HistogramSummary>>
  /** The latest value of every gauge set so far, one row per (name, labels). */
  readonly gauges: readonly GaugeValue[]
}

export class NodeMetrics {
  readonly #counters: Record<CounterName, number>
  readonly #histograms: Record<HistogramName, RecordableHistogram>
  /** Latest values by name, then by labels object (the setter reuses those objects). */
  readonly #gauges = new Map<GaugeName, Map<GaugeLabels, number>>()
  readonly #sink: MetricsSink | undefined
  readonly #onSinkError: (err: unknown) => void

  /** A sink that throws is reported to `onSinkError`; the count or observation itself goes on. */
  constructor (sink?: MetricsSink, onSinkError: (err: unknown) => void = () => {}) {
    this.#sink = sink
    this.#onSinkError = onSinkError
    this.#counters = Object.fromEntries(COUNTER_NAMES.map((n) => [n, 0])) as Record<CounterName, number>
    this.#histograms = Object.fromEntries(HISTOGRAM_NAMES.map((n) => [n, createHistogram()])) as Record<HistogramName, RecordableHistogram>
  }

  count (name: CounterName, by = 1): void {
    if (by === 0) return
    this.#counters[name] += by
    if (this.#sink?.count !== undefined) {
      try { this.#sink.count(name, by) } catch (err) { this.#onSinkError(err) }
    }
  }

  /** Records a duration in milliseconds (kept in microseconds, the histogram's integer unit). */
  observe (name: HistogramName, ms: number): void {
    this.#histograms[name].record(Math.max(1, Math.round(ms * 1000)))
    if (this.#sink?.observe !== undefined) {
      try { this.#sink.observe(name, ms) } catch (err) { this.#onSinkError(err) }
    }
  }

  /** Sets a gauge; the sink hears only changes. `labels` must be an object the caller reuses. */
  gauge (name: GaugeName, value: number, labels: GaugeLabels): void {
    let byLabels = this.#gauges.get(name)
    if (byLabels === undefined) this.#gauges.set(name, byLabels = new Map())
    if (byLabels.get(labels) === value) return
    byLabels.set(labels, value)
    if (this.#sink?.gauge !== undefined) {
      try { this.#sink.gauge(name, value, labels) } catch (err) { this.#onSinkError(err) }
    }
  }

  snapshot (): MetricsSnapshot {
    const histograms = {} as Record<HistogramName, HistogramSummary>
    for (const name of HISTOGRAM_NAMES) {
      const h = this.#histograms[name]
      const n = h.count
      histograms[name] = n === 0
        ? { count: 0, p50: 0, p99: 0, max: 0, mean: 0 }
        : { count: n, p50: h.percentile(50) / 1000, p99: h.percentile(99) / 1000, max: h.max / 1000, mean: h.mean / 1000 }
    }
    const gauges: GaugeValue[] = []
    for (const [name, byLabels] of this.#gauges) for (const [labels, value] of byLabels) gauges.push({ name, labels, value })
    return { counters: { ...this.#counters }, histograms, gauges }
  }
}
