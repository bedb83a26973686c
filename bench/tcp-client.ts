/**
 * The B2 load generator, in its own process: closed-loop clients over the benchmark's client
 * protocol (client-wire.ts) to the leader's client port, over `connections` TCP connections
 * (clients are spread round-robin). Started by cluster-tcp.ts with `fork()`; reports
 * `{ window: 'start' | 'end' }` and finally `{ result }` over IPC.
 */
import { closedLoop } from './closed-loop.js'
import { encodeFrame, openFrameConnection, STATUS_OK } from './client-wire.js'

interface ClientConfig { port: number, concurrency: number, warmupMs: number, measureMs: number, connections: number }
const config = JSON.parse(process.argv[2] ?? '{}') as ClientConfig

type Waiter = { resolve: () => void, reject: (err: Error) => void }
const waiters = new Map<number, Waiter>()
let nextId = 1
let closed = false

const open = async (): ReturnType<typeof openFrameConnection> => await openFrameConnection(config.port, (id, body) => {
  const w = waiters.get(id)
  if (w === undefined) return
  waiters.delete(id)
  if (body[0] === STATUS_OK) w.resolve()
  else w.reject(new Error('proposal failed'))
}, () => {
  // The node went away: fail what waits and every later command (closedLoop counts them).
  closed = true
  for (const w of waiters.values()) w.reject(new Error('the connection to the leader closed'))
  waiters.clear()
})

const writers = await Promise.all(Array.from({ length: config.connections }, open))
let turn = 0
const result = await closedLoop(async (cmd) => {
  if (closed) throw new Error('the connection to the leader closed')
  const id = nextId++
  const writer = writers[turn++ % writers.length]!
  await new Promise<void>((resolve, reject) => {
    waiters.set(id, { resolve, reject })
    writer.push(encodeFrame(id, cmd))
  })
}, {
  concurrency: config.concurrency,
  warmupMs: config.warmupMs,
  measureMs: config.measureMs,
  onWindow: (phase) => process.send?.({ window: phase })
})

process.send?.({ result }, () => process.exit(0))
