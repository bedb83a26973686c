/**
 * One load process of the process-level transponder benchmark (bench/transponder-real.ts):
 * many real agents (AgentRelayClient over SocketAgentLinks, one socket each) heartbeating once
 * a second to the transponders (or straight to the core) named in its spec file.
 *
 *   node dist/bench/transponder-load.js '"<spec.json>"'     (forked with IPC by transponder-real, bench/proc.ts forkScript)
 *
 * IPC, parent → child: `{ emit: { tag, spreadMs, deadlineMs } }` (every agent emits one event
 * at a seeded offset within spreadMs, answered `{ emitted: { latencies, failed, timedOut } }`
 * with each acknowledgement's latency, ms; an emit not acknowledged deadlineMs after the
 * message is abandoned and counted timedOut, so the answer always comes), `{ runs: id }` (answered `{ runs: { agent: epochMs } }`, when
 * each agent first ran command `id`: the same machine's clock as the parent's), `{ close: true }`.
 * The child exits when its parent disconnects. It first answers `{ ready: { opened, fdLimit } }`.
 *
 * Agents are opened in chunks so their heartbeats (and TLS handshakes) are spread, not a herd.
 */
import { readFileSync } from 'node:fs'
import { SeededRandom } from '../src/util/random.js'
import { AgentRelayClient, KeyRing, SocketAgentLinks, signer } from '../src/transponder/index.js'
import type { TcpAddress } from '../src/transport/tcp.js'
import { sleep } from './measure.js'
import { openFileLimit } from './proc.js'

/** What the parent writes for one load process. */
export interface LoadSpec {
  readonly seed: number
  readonly agents: ReadonlyArray<{ readonly id: string, readonly privateKey: string, readonly tls?: { readonly key: string, readonly cert: string } }>
  /** CA of the downlinks' certificates; absent: plain TCP (hello names the agent). */
  readonly ca?: string
  /** Public keys the agents verify commands with (the coordinator's). */
  readonly publicKeys: Readonly<Record<string, string>>
  readonly transponders: Readonly<Record<string, TcpAddress>>
  readonly heartbeatMs: number
  /** Agents opened per chunk, and the pause between chunks, ms. */
  readonly chunk: number
  readonly chunkPauseMs: number
}

async function main (): Promise<void> {
  // forkScript hands its argument over as JSON: here, the spec file's path.
  const spec = JSON.parse(readFileSync(JSON.parse(process.argv[2]!) as string, 'utf8')) as LoadSpec
  const ring = new KeyRing(spec.publicKeys)
  const random = new SeededRandom(spec.seed)
  const ids = Object.keys(spec.transponders)
  const firstRun = new Map<string, Map<string, number>>()
  const clients: AgentRelayClient[] = []
  const links: SocketAgentLinks[] = []
  let opened = 0
  for (const [i, a] of spec.agents.entries()) {
    const security = spec.ca === undefined || a.tls === undefined ? { insecure: true as const } : { tls: { ...a.tls, ca: spec.ca } }
    const l = new SocketAgentLinks({ id: a.id, transponders: spec.transponders, ...security })
    const client = new AgentRelayClient({
      signer: signer(a.id, a.privateKey), keys: ring, station: 'station', transponders: ids, links: l, heartbeatMs: spec.heartbeatMs,
      execute: async (c) => {
        let runs = firstRun.get(c.id)
        if (runs === undefined) { runs = new Map(); firstRun.set(c.id, runs) }
        if (!runs.has(a.id)) runs.set(a.id, Date.now())
        return { id: c.id, ok: true, instances: [] }
      }
    })
    l.serve(async (bytes) => await client.handleCommand(bytes))
    await client.open()
    clients.push(client); links.push(l)
    opened++
    if ((i + 1) % spec.chunk === 0) await sleep(spec.chunkPauseMs)
  }
  const send = (m: unknown): void => { process.send?.(m) }
  process.on('message', (m: { emit?: { tag: string, spreadMs: number, deadlineMs: number }, runs?: string, close?: true }) => {
    if (m.emit !== undefined) {
      const { tag, spreadMs, deadlineMs } = m.emit
      const end = performance.now() + deadlineMs
      const latencies: number[] = []
      let failed = 0
      let timedOut = 0
      void Promise.all(clients.map(async (client) => {
        await sleep(Math.floor(random.next() * spreadMs))
        const start = performance.now()
        // emit retries until acknowledged: its own deadline is what bounds it (ABORTED).
        const signal = AbortSignal.timeout(Math.max(1, Math.ceil(end - start)))
        await client.emit({ id: `${tag}-${client.id}`, payload: new TextEncoder().encode('{}') }, { signal }).then(
          () => { latencies.push(performance.now() - start) },
          () => { if (signal.aborted) timedOut++; else failed++ })
      })).then(() => { send({ emitted: { latencies, failed, timedOut } }) })
    } else if (m.runs !== undefined) {
      send({ runs: Object.fromEntries(firstRun.get(m.runs) ?? []) })
    } else if (m.close === true) {
      void Promise.all(clients.map(async (c) => { await c.close() })).then(() => {
        for (const l of links) l.close()
        send({ closed: true })
      })
    }
  })
  process.on('disconnect', () => { process.exit(0) })
  send({ ready: { opened, fdLimit: openFileLimit() } })
}

await main()
