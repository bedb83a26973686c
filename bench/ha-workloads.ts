/**
 * The commands of the HA benchmarks (bench/ha-b2.ts), built by the client process for each
 * closed-loop client, and the check of each response (ha-wire.ts). Every command is a routed
 * command for a member mounted by machines.ts.
 *
 * - 'emit': an event with a fresh UUID and a `valueBytes` payload; every `retryEvery`-th
 *   command instead re-sends the id of an event already acknowledged as stored, as a
 *   producer retrying after a lost answer would. The queue must answer such a retry
 *   'duplicate' (counted as retriesDuplicate) and never store it again (retriesStoredAgain,
 *   which must stay 0); a fresh id answered 'duplicate' would be a bug too (freshDuplicate).
 * - 'graph-tx': one transaction of 10 resources (a host and 9 disks, each put with a changed
 *   field, and the 9 host→disk edges), with compare-and-set on the versions the client's
 *   previous transaction gave them, so a lost or reordered write shows up as GRAPH_CONFLICT.
 *   Each client owns its 10 resources, so the graph stays the same size however long it runs.
 * - 'level-put': a put of a fresh key with a `valueBytes` value (etcd-load's workload).
 * - 'level-batch': one batch of `batchOps` such puts, one entry.
 */
import { randomUUID } from 'node:crypto'
import { encodeCommand } from '../src/graph/codec.js'
import type { GraphOp } from '../src/graph/change.js'
import { encodeLevelCommand } from '../src/level/codec.js'
import type { LevelBatchOp } from '../src/level/codec.js'
import { prefixed, routePrefix } from '../src/sm/route-id.js'
import { GRAPH_ROUTE, LEVEL_ROUTE } from './machines.js'
import { STATUS_DUPLICATE, STATUS_FAILED, STATUS_OK, type HaResponse } from './ha-wire.js'

export const HA_WORKLOADS = ['emit', 'graph-tx', 'level-put', 'level-batch'] as const
export type HaWorkloadName = typeof HA_WORKLOADS[number]

export interface HaWorkloadOptions {
  /** Event payload and level value size. @default 100 */
  readonly valueBytes?: number
  /** Every n-th emit is a retry of a stored id (0: none). @default 20 */
  readonly retryEvery?: number
  /** Puts per level batch. @default 1000 */
  readonly batchOps?: number
}

export const HA_WORKLOAD_DEFAULTS = { valueBytes: 100, retryEvery: 20, batchOps: 1000 } as const

/** Resources per graph transaction. */
export const TX_RESOURCES = 10

export interface HaWorkload {
  readonly name: HaWorkloadName
  /** Writes one command carries (batchOps for a batch, 1 otherwise). */
  readonly opsPerCommand: number
  /** Outcome counts: ok, failed, refused:<CODE>, and the workload's own (see above). */
  readonly tally: Record<string, number>
  /** The next command of closed-loop client `client` (one command in flight per client). */
  next: (client: number) => Uint8Array
  /** Records the response to `client`'s last command; true if it succeeded. */
  settle: (client: number, response: HaResponse) => boolean
}

function counter (): { tally: Record<string, number>, count: (key: string) => void } {
  const tally: Record<string, number> = {}
  return { tally, count: (key) => { tally[key] = (tally[key] ?? 0) + 1 } }
}

/** The common part of settle: counts OK / FAILED / REFUSED; true for OK. */
function basicOutcome (count: (key: string) => void, r: HaResponse): boolean {
  if (r.status === STATUS_OK) { count('ok'); return true }
  count(r.status === STATUS_FAILED ? 'failed' : r.status === STATUS_DUPLICATE ? 'unexpectedDuplicate' : `refused:${r.code}`)
  return false
}

export function createWorkload (name: HaWorkloadName, options: HaWorkloadOptions = {}): HaWorkload {
  const o = { ...HA_WORKLOAD_DEFAULTS, ...options }
  const value = new Uint8Array(o.valueBytes).fill(0x61)
  switch (name) {
    case 'emit': return emitWorkload(value, o.retryEvery)
    case 'graph-tx': return graphTxWorkload()
    case 'level-put': return levelWorkload(name, value, 1)
    case 'level-batch': return levelWorkload(name, value, o.batchOps)
    default: throw new Error(`workload must be one of ${HA_WORKLOADS.join(', ')} (got ${JSON.stringify(name)})`)
  }
}

const GRAPH = routePrefix(GRAPH_ROUTE)
const LEVEL = routePrefix(LEVEL_ROUTE)
/** How many recently stored ids a retry picks from. */
const RETRY_POOL = 256

function emitWorkload (payload: Uint8Array, retryEvery: number): HaWorkload {
  const { tally, count } = counter()
  const stored: string[] = []
  const inFlight = new Map<number, { id: string, retry: boolean }>()
  let sent = 0
  return {
    name: 'emit',
    opsPerCommand: 1,
    tally,
    next: (client) => {
      sent++
      const retry = retryEvery > 0 && sent % retryEvery === 0 && stored.length > 0
      const id = retry ? stored[sent % stored.length]! : randomUUID()
      if (retry) count('retries')
      inFlight.set(client, { id, retry })
      return prefixed(GRAPH, encodeCommand({ type: 'emit', time: Date.now(), id, payload }))
    },
    settle: (client, r) => {
      const sentAs = inFlight.get(client)!
      if (r.status === STATUS_OK) {
        if (sentAs.retry) { count('retriesStoredAgain'); return true }
        count('stored')
        if (stored.length < RETRY_POOL) stored.push(sentAs.id)
        else stored[tally.stored! % RETRY_POOL] = sentAs.id
        return true
      }
      if (r.status === STATUS_DUPLICATE) {
        count(sentAs.retry ? 'retriesDuplicate' : 'freshDuplicate')
        return true
      }
      return basicOutcome(count, r)
    }
  }
}

function graphTxWorkload (): HaWorkload {
  const { tally, count } = counter()
  /** Each client's resources' version: the index of its last committed transaction (0: none yet). */
  const versions = new Map<number, number>()
  const seqs = new Map<number, number>()
  return {
    name: 'graph-tx',
    opsPerCommand: 1,
    tally,
    next: (client) => {
      const seq = (seqs.get(client) ?? 0) + 1
      seqs.set(client, seq)
      const version = versions.get(client) ?? 0
      const host = `h${client}`
      const ops: GraphOp[] = [{ op: 'put', id: host, kind: 'host', fields: { address: `10.0.${client}.${seq % 256}` } }]
      for (let i = 1; i < TX_RESOURCES; i++) {
        const disk = `d${client}-${i}`
        ops.push({ op: 'put', id: disk, kind: 'disk', fields: { serial: `S${client}-${i}`, sizeGiB: seq, healthy: seq % 2 === 0 } })
        ops.push({ op: 'connect', relation: 'holds', from: host, to: disk })
      }
      const expect = ops.filter((op) => op.op === 'put').map((op) => ({ id: (op as { id: string }).id, version }))
      return prefixed(GRAPH, encodeCommand({ type: 'tx', time: Date.now(), expect, ops, trim: [] }))
    },
    settle: (client, r) => {
      const ok = basicOutcome(count, r)
      if (ok) versions.set(client, r.index)
      return ok
    }
  }
}

function levelWorkload (name: 'level-put' | 'level-batch', value: Uint8Array, ops: number): HaWorkload {
  const { tally, count } = counter()
  const seqs = new Map<number, number>()
  const key = (client: number, seq: number, i: number): Uint8Array => Buffer.from(ops === 1 ? `k${client}-${seq}` : `b${client}-${seq}-${i}`)
  return {
    name,
    opsPerCommand: ops,
    tally,
    next: (client) => {
      const seq = (seqs.get(client) ?? 0) + 1
      seqs.set(client, seq)
      if (ops === 1) return prefixed(LEVEL, encodeLevelCommand({ op: 'put', key: key(client, seq, 0), value }))
      const batch: LevelBatchOp[] = []
      for (let i = 0; i < ops; i++) batch.push({ type: 'put', key: key(client, seq, i), value })
      return prefixed(LEVEL, encodeLevelCommand({ op: 'batch', ops: batch }))
    },
    settle: (_client, r) => basicOutcome(count, r)
  }
}
