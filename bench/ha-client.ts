/**
 * The HA benchmarks' load generator, in its own process (as tcp-client.ts is for plain B2):
 * closed-loop clients (closed-loop.ts) sending one workload's commands (ha-workloads.ts) to
 * the leader's client port over `connections` TCP connections, each response checked by the
 * workload. A response that is not a success fails the command (closedLoop counts it and
 * backs off). Started by ha-cluster.ts with `fork()`; reports `{ window }` and finally
 * `{ result }` (the ClosedLoopResult plus the workload's outcome counts) over IPC.
 */
import { closedLoop } from './closed-loop.js'
import { encodeFrame, openFrameConnection } from './client-wire.js'
import { decodeHaResponse, STATUS_FAILED, type HaResponse } from './ha-wire.js'
import { createWorkload, HA_WORKLOAD_DEFAULTS, type HaWorkloadName, type HaWorkloadOptions } from './ha-workloads.js'

export interface HaClientConfig {
  readonly port: number
  readonly concurrency: number
  readonly warmupMs: number
  readonly measureMs: number
  readonly connections: number
  readonly workload: HaWorkloadName
  readonly workloadOptions?: HaWorkloadOptions
}

const config = JSON.parse(process.argv[2] ?? '{}') as HaClientConfig
const workload = createWorkload(config.workload, config.workloadOptions)
const waiters = new Map<number, (r: HaResponse) => void>()
let nextId = 1
const NO_ANSWER: HaResponse = { status: STATUS_FAILED, index: -1, code: '' }
let closed = false

const open = async (): ReturnType<typeof openFrameConnection> => await openFrameConnection(config.port, (id, body) => {
  const w = waiters.get(id)
  if (w === undefined) return
  waiters.delete(id)
  w(decodeHaResponse(body))
}, () => {
  // A node that went away answers nothing more: fail what waits (no command hangs) and all later ones.
  closed = true
  for (const w of waiters.values()) w(NO_ANSWER)
  waiters.clear()
})

const writers = await Promise.all(Array.from({ length: config.connections }, open))
let turn = 0
const result = await closedLoop(async (seed) => {
  // closedLoop's command carries the client's number in its first 4 bytes (valueBytes >= 8).
  const client = new DataView(seed.buffer, seed.byteOffset, 4).getUint32(0)
  const command = workload.next(client)
  if (closed) throw new Error('the connection to the leader closed')
  const id = nextId++
  const writer = writers[turn++ % writers.length]!
  const response = await new Promise<HaResponse>((resolve) => {
    waiters.set(id, resolve)
    writer.push(encodeFrame(id, command))
  })
  if (!workload.settle(client, response)) throw new Error(`command failed (status ${response.status} ${response.code})`)
}, {
  concurrency: config.concurrency,
  valueBytes: 8,
  warmupMs: config.warmupMs,
  measureMs: config.measureMs,
  onWindow: (phase) => process.send?.({ window: phase })
})

process.send?.({ result: { ...result, valueBytes: config.workloadOptions?.valueBytes ?? HA_WORKLOAD_DEFAULTS.valueBytes, opsPerCommand: workload.opsPerCommand, tally: workload.tally } }, () => process.exit(0))
