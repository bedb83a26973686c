/**
 * The operator views a node's client endpoint mounts (http-endpoint.ts), all `GET`:
 *
 * - `/view` (any role): the ClusterView (view.ts) as this node sees it;
 * - `/graph`, `/events` (any role): this replica's resource graph and events queue (graph-query.ts);
 * - with `dashboard: true` only: `/dashboard`, the page (page.ts; no credentials, it holds no
 *   data), and `/dashboard/stream` (any role), the view as server-sent events: one `view`
 *   event at once, then one whenever what it shows changed (checked every `intervalMs`), and
 *   a comment line every KEEPALIVE_MS so proxies keep the connection.
 *
 * Peers are asked for `/health` (no credentials needed) with this node's CA, at most once per
 * `intervalMs` however many viewers there are; the poll runs only while someone watches.
 */
import type * as http from 'node:http'
import { QuorateError } from '../../errors.js'
import type { GraphStateMachine } from '../../graph/state-machine.js'
import type { LeaseTable } from '../../lease/table.js'
import type { RaftNode } from '../../node/node.js'
import type { NodeId } from '../../raft/types.js'
import type { TcpAddress } from '../../transport/tcp.js'
import { check, checkInt, checkKnownKeys, checkObject } from '../../util/validate.js'
import type { ClientCredentials } from '../stream-connection.js'
import { getJson } from './get-json.js'
import { answerEventsQuery, answerGraphQuery } from './graph-query.js'
import { DASHBOARD_HEADERS, DASHBOARD_HTML } from './page.js'
import { composeClusterView, viewFingerprint } from './view.js'
import type { ClusterView, PeerHealth } from './view.js'

/** How often the stream looks for a change, and how long a peer's `/health` may take. */
export const DEFAULT_VIEW_INTERVAL_MS = 500
const KEEPALIVE_MS = 15_000

export interface ViewRoutesOptions {
  readonly node: RaftNode
  readonly lease: LeaseTable
  readonly graph: GraphStateMachine | null
  /** Every member's client endpoint address, this node's included. */
  readonly members: Readonly<Record<NodeId, TcpAddress>>
  /** How to reach peers' `/health`: `{ ca }` (TLS, checking node certificates) or `{ insecure: true }`. */
  readonly peerCredentials: ClientCredentials
  /** Serve the page and its stream. @default false */
  readonly dashboard?: boolean
  /** @default DEFAULT_VIEW_INTERVAL_MS (500) */
  readonly intervalMs?: number
}

const KEYS = Object.keys({ node: true, lease: true, graph: true, members: true, peerCredentials: true, dashboard: true, intervalMs: true } satisfies Record<keyof ViewRoutesOptions, true>)

export type ViewRouteKind = 'public' | 'private'

function sendJson (res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' })
  res.end(text)
}

export class ViewRoutes {
  readonly #o: ViewRoutesOptions
  readonly #intervalMs: number
  readonly #viewers = new Set<http.ServerResponse>()
  #timer: NodeJS.Timeout | null = null
  #last = ''
  #lastSent = 0
  #polling = false
  /** One peer poll shared by concurrent callers. */
  #inflight: Promise<ClusterView> | null = null

  constructor (options: ViewRoutesOptions) {
    const C = 'ViewRoutes'
    checkObject(options as unknown, C, '(options)')
    checkKnownKeys(options, C, KEYS)
    check(typeof options.members === 'object' && options.members !== null && Object.hasOwn(options.members, options.node?.id), C, 'members', 'addresses including this node', options.members)
    check(options.dashboard === undefined || typeof options.dashboard === 'boolean', C, 'dashboard', 'a boolean', options.dashboard)
    checkInt(options.intervalMs ?? DEFAULT_VIEW_INTERVAL_MS, C, 'intervalMs', 10)
    this.#o = options
    this.#intervalMs = options.intervalMs ?? DEFAULT_VIEW_INTERVAL_MS
  }

  /** 'public': answered without credentials; 'private': after authentication (any role); null: not a view route. */
  kind (method: string | undefined, path: string | undefined): ViewRouteKind | null {
    if (method !== 'GET') return null
    if (path === '/view' || path === '/graph' || path === '/events') return 'private'
    if (this.#o.dashboard !== true) return null
    if (path === '/dashboard') return 'public'
    if (path === '/dashboard/stream') return 'private'
    return null
  }

  /** Answers a route `kind` accepted. Throws CLUSTER_REQUEST_INVALID / CLUSTER_ROUTE_UNKNOWN for the endpoint to refuse. */
  async answer (req: http.IncomingMessage, res: http.ServerResponse, path: string | undefined): Promise<void> {
    const params = new URL(req.url ?? '/', 'http://local').searchParams
    if (path === '/dashboard') {
      res.writeHead(200, { ...DASHBOARD_HEADERS, 'content-length': Buffer.byteLength(DASHBOARD_HTML) })
      res.end(DASHBOARD_HTML)
      return
    }
    if (path === '/graph' || path === '/events') {
      const graph = this.#o.graph
      if (graph === null) throw new QuorateError('CLUSTER_ROUTE_UNKNOWN', `${path}: node ${this.#o.node.id} mounts no graph (config "graph")`)
      sendJson(res, 200, path === '/graph' ? answerGraphQuery(graph, params) : answerEventsQuery(graph, params))
      return
    }
    if ([...params.keys()].length > 0) throw new QuorateError('CLUSTER_REQUEST_INVALID', `${String(path)} takes no parameters`)
    if (path === '/view') { sendJson(res, 200, await this.view()); return }
    this.#watch(res)
  }

  /** The view now (peers asked, at most one poll in flight). */
  async view (): Promise<ClusterView> {
    this.#inflight ??= this.#compose().finally(() => { this.#inflight = null })
    return await this.#inflight
  }

  /** Ends every stream and stops polling. */
  close (): void {
    for (const res of this.#viewers) res.end()
    this.#viewers.clear()
    this.#stop()
  }

  async #compose (): Promise<ClusterView> {
    const self = this.#o.node.id
    const peers = new Map<NodeId, PeerHealth | null>()
    await Promise.all(Object.entries(this.#o.members).filter(([id]) => id !== self).map(async ([id, address]) => {
      try {
        const { status, body } = await getJson(address, '/health', this.#o.peerCredentials, this.#intervalMs, id)
        // 503 is a live node without a leader: still an answer.
        peers.set(id, status === 200 || status === 503 ? body as PeerHealth : null)
      } catch {
        peers.set(id, null)
      }
    }))
    const graph = this.#o.graph
    return composeClusterView({ status: this.#o.node.status(), members: this.#o.members, peers, leases: this.#o.lease.records(), graph, at: Date.now() })
  }

  #watch (res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' })
    res.socket?.setNoDelay(true)
    this.#viewers.add(res)
    res.once('close', () => {
      this.#viewers.delete(res)
      if (this.#viewers.size === 0) this.#stop()
    })
    // The newcomer gets the current view at once, the others only if it changed.
    this.#last = ''
    if (this.#timer === null) {
      this.#timer = setInterval(() => { void this.#poll() }, this.#intervalMs)
      this.#timer.unref()
    }
    void this.#poll()
  }

  async #poll (): Promise<void> {
    if (this.#polling) return
    this.#polling = true
    try {
      const view = await this.view()
      const print = viewFingerprint(view)
      const now = Date.now()
      if (print !== this.#last) {
        this.#last = print
        this.#lastSent = now
        const frame = `event: view\ndata: ${JSON.stringify(view)}\n\n`
        for (const res of this.#viewers) res.write(frame)
      } else if (now - this.#lastSent >= KEEPALIVE_MS) {
        this.#lastSent = now
        for (const res of this.#viewers) res.write(': keepalive\n\n')
      }
    } catch {
      // A view that cannot be built now (node closing) is tried again at the next tick.
    } finally {
      this.#polling = false
    }
  }

  #stop (): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }
}
