/**
 * The tracking station's front for the process-level transponder benchmark: a TrackingStation
 * whose events go into the graph's events queue of a real cluster (3 node processes) through
 * a QuorateClient, with LivenessEvents turning silent agents into committed `node-dead` events.
 *
 * Two ways in, one per mode, over the same station code:
 * - 'relay': a StationServer (the uplink listener) for the quorate-transponder processes;
 *   the core's inbound messages are the uplink batches it receives, counted per relay;
 * - 'direct': the agents connect to the core itself, a TransponderServer ('core') in this
 *   process whose uplink is an in-process call to the station; the core's inbound messages are
 *   every heartbeat and every event frame its agents' sockets deliver.
 *
 * Invariant: a death is recorded when its node-dead event is committed by the cluster (the
 * emit through the client resolved), which is when the graph shows it.
 */
import { setMaxListeners } from 'node:events'
import { decodeHaEvent } from '../src/agent/protocol.js'
import type { QuorateClient } from '../src/cluster/quorate-client.js'
import { coordinatorSchema } from '../src/coordinator/index.js'
import type { GraphEvent } from '../src/graph/index.js'
import { LivenessEvents, RelayedCommandChannel, StationServer, TrackingStation, TransponderServer } from '../src/transponder/index.js'
import type { KeyRing, Signer, TransponderDeliver } from '../src/transponder/index.js'
import type { TcpAddress, TcpTlsOptions } from '../src/transport/tcp.js'

export type FrontMode = 'relay' | 'direct'

export interface StationFrontOptions {
  readonly mode: FrontMode
  readonly client: QuorateClient
  readonly keys: KeyRing
  /** The coordinator that signs the fan-out. */
  readonly coordinator: Signer
  /** This process's certificates: 'station' (the uplink listener) and 'core' (direct downlinks); absent: plain TCP. */
  readonly tls?: { readonly station: TcpTlsOptions, readonly core: TcpTlsOptions }
}

export interface StationFront {
  readonly station: TrackingStation
  /** relay: the uplink listener the relays dial; direct: undefined. */
  readonly uplinkAddress: TcpAddress | undefined
  /** direct: where agents connect (`{ core: address }`); relay: undefined. */
  readonly coreAddress: Readonly<Record<string, TcpAddress>> | undefined
  /** Messages received over the network so far, by sender (a relay id, or 'agents' in direct mode). */
  inbound (): ReadonlyMap<string, number>
  /** Event ids committed in the cluster's queue through this front. */
  readonly committed: Set<string>
  /** Agent → wall-clock ms its node-dead event was committed. */
  readonly deaths: Map<string, number>
  /** The fan-out path: commands grouped per transponder (or to the core's own sockets). */
  readonly channel: RelayedCommandChannel
  close (): Promise<void>
}

export async function openStationFront (o: StationFrontOptions): Promise<StationFront> {
  const graph = o.client.graph(coordinatorSchema())
  const committed = new Set<string>()
  const deaths = new Map<string, number>()
  // No retry loop here: a refused emit fails the batch, and the relay (or LivenessEvents) retries.
  const emit = async (event: GraphEvent, options?: { signal?: AbortSignal }): Promise<'stored' | 'duplicate'> => {
    const status = await graph.emit(event, options)
    committed.add(event.id)
    const decoded = decodeHaEvent(event.payload)
    if (!(decoded instanceof Error) && decoded.type === 'node-dead' && !deaths.has(decoded.node)) deaths.set(decoded.node, Date.now())
    return status
  }
  const liveness = new LivenessEvents({ observer: 'station', events: { emit } })
  await liveness.open()
  const station = new TrackingStation({ id: 'station', keys: o.keys, emit, onLiveness: liveness.onLiveness })
  await station.open()
  const inbound = new Map<string, number>()
  const count = (from: string): void => { inbound.set(from, (inbound.get(from) ?? 0) + 1) }
  const security = (which: 'station' | 'core'): { tls: TcpTlsOptions } | { insecure: true } => o.tls === undefined ? { insecure: true } : { tls: o.tls[which] }

  let uplinks: StationServer | undefined
  let core: TransponderServer | undefined
  let deliverVia: (t: string) => TransponderDeliver | undefined
  if (o.mode === 'relay') {
    // Counted where the StationServer hands each received batch (first attempts and retries) to the station.
    const receive = station.receive.bind(station)
    station.receive = async (batch, options) => { count(batch.transponder); await receive(batch, options) }
    uplinks = new StationServer({ listen: { host: '127.0.0.1', port: 0 }, station, ...security('station') })
    await uplinks.open()
    deliverVia = uplinks.deliverVia
  } else {
    core = new TransponderServer({
      listen: { host: '127.0.0.1', port: 0 },
      ...security('core'),
      transponder: {
        id: 'core',
        uplink: async (batch, { signal }) => {
          // One signal for every event of the batch: each emit through the client listens on it.
          setMaxListeners(0, signal)
          await station.receive(batch, { signal })
        }
      }
    })
    // Every frame an agent's socket delivers to the core is one inbound message.
    const t = core.transponder
    const heartbeat = t.heartbeat.bind(t)
    const submit = t.submit.bind(t)
    t.heartbeat = (agent) => { count('agents'); heartbeat(agent) }
    t.submit = async (agent, envelope) => { count('agents'); return await submit(agent, envelope) }
    await core.open()
    const server = core
    deliverVia = (id) => id === 'core' ? async (commands, options) => await server.transponder.deliver(commands, options) : undefined
  }
  const channel = new RelayedCommandChannel({ signer: o.coordinator, keys: o.keys, route: (a) => station.routeOf(a), transponder: deliverVia })
  return {
    station,
    uplinkAddress: uplinks?.address(),
    coreAddress: core === undefined ? undefined : { core: core.address() },
    inbound: () => inbound,
    committed,
    deaths,
    channel,
    close: async () => {
      await uplinks?.close()
      await core?.close()
      await station.close()
      await liveness.close()
    }
  }
}
