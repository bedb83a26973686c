/**
 * The B2 load generator, in its own process: closed-loop clients over the benchmark's client
 * protocol (client-wire.ts) to the leader's client port, over `connections` TCP connections
 * (clients are spread round-robin). Started by cluster-tcp.ts with `fork()`; reports
 * `{ window: 'start' | 'end' }` and finally `{ result }` over IPC.
 */
import { connect } from 'node:net'
import { closedLoop } from './closed-loop.js'
import { encodeFrame, FrameWriter, frameReader, STATUS_OK } from './client-wire.js'

interface ClientConfig { port: number, concurrency: number, warmupMs: number, measureMs: number, connections: number }
const config = JSON.parse(process.argv[2] ?? '{}') as ClientConfig

type Waiter = { resolve: () => void, reject: (err: Error) => void }
const waiters = new Map<number, Waiter>()
let nextId = 1

async function open (): Promise<FrameWriter> {
  const socket = connect({ port: config.port, host: '127.0.0.1', noDelay: true })
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  socket.on('data', frameReader((id, body) => {
    const w = waiters.get(id)
    if (w === undefined) return
    waiters.delete(id)
    if (body[0] === STATUS_OK) w.resolve()
    else w.reject(new Error('proposal failed'))
  }))
  return new FrameWriter(socket)
}

const writers = await Promise.all(Array.from({ length: config.connections }, open))
let turn = 0
const result = await closedLoop(async (cmd) => {
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
