/**
 * node: the I/O shell around the pure core. `RaftNode` owns the tick timer, persistence,
 * sending and applying, in that documented order (persist before send; apply only what is
 * committed and durable), tracks pending proposals until they provably end, transfers
 * snapshots in chunks and records metrics. The `StateMachine` contract lives here.
 *
 * May import: raft, storage, transport, util, errors.
 */
export { RaftNode, NODE_DEFAULTS } from './node.js'
export type { RaftNodeOptions, NodeStatus, RaftNodeEvents, TraceEvent } from './node.js'
export type { StateMachine } from './state-machine.js'
export { NodeMetrics, COUNTER_NAMES, HISTOGRAM_NAMES, GAUGE_NAMES } from './metrics.js'
export type { MetricsSink, MetricsSnapshot, CounterName, HistogramName, HistogramSummary, GaugeName, GaugeLabels, GaugeValue } from './metrics.js'
export { NodeObserver, REPLICATION_LAG_EVERY_MS } from './observe.js'
