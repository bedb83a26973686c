/**
 * ProcessCluster: runs a key-value cluster as node processes (node-process.ts) on one host,
 * and starts, kills (any signal, SIGKILL by default) and restarts them. Each node keeps its
 * ports and its classic-level directory across restarts, like a real server would.
 *
 * Layout of `dir`: `certs/` (development certificates from createDevCertificates, unless
 * insecure), `<id>.json` (each node's config), `data/<id>/` (each node's database).
 *
 * Cleanup: every child gets `--exit-with-stdin` and the launcher's pipe as stdin, so children
 * die with the launcher even if it is SIGKILLed; on a normal exit of the launcher's process
 * the children still running are SIGKILLed synchronously as a second line of defence.
 *
 * @example
 * const cluster = await ProcessCluster.create({ nodes: 3 })
 * try {
 *   await cluster.startAll()
 *   await cluster.client.put('greeting', 'hello')
 *   await cluster.kill('n1')          // SIGKILL
 *   await cluster.start('n1')         // same ports, same data
 * } finally { await cluster.close() }
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { QuorateError } from '../errors.js'
import type { NodeId } from '../raft/types.js'
import { createDevCertificates } from '../transport/tls-certs.js'
import type { TcpAddress } from '../transport/tcp.js'
import { randomInt, systemRandom } from '../util/random.js'
import type { Random } from '../util/random.js'
import { check, checkInt, checkKnownKeys, checkObject } from '../util/validate.js'
import { ClusterClient } from './client.js'
import type { ClusterClientOptions } from './client.js'
import type { ClusterHandle } from './cluster-handle.js'
import { DEFAULT_CLUSTER_ID } from './config.js'
import type { ClusterMemberAddress, ClusterNodeConfig } from './config.js'
import { validateClientTokens } from './auth.js'
import type { ClientToken } from './auth.js'
import { createClientCertificate } from './client-certs.js'
import { httpsClientCaller } from './http-client.js'
import { QuorateClient } from './quorate-client.js'
import type { QuorateClientOptions } from './quorate-client.js'
import type { ClientCredentials } from './stream-connection.js'
import { READY_PREFIX } from './node-process.js'

export const DEFAULT_CLUSTER_NODES = 3
export const DEFAULT_CLUSTER_HOST = '127.0.0.1'
export const DEFAULT_READY_TIMEOUT_MS = 20_000
/** After SIGTERM in close(), a node gets this long before SIGKILL. */
export const DEFAULT_STOP_GRACE_MS = 3000
/**
 * Ports are probed at random in this range, below Linux's ephemeral range (32768+), so a
 * port a node keeps across restarts is not taken meanwhile by some outgoing connection.
 */
const PORT_RANGE = [20_000, 32_000] as const
const STDERR_TAIL_BYTES = 4096

export interface ProcessClusterOptions {
  /** Number of nodes (ids n1..nN) or the ids. @default DEFAULT_CLUSTER_NODES (3) */
  readonly nodes?: number | readonly NodeId[]
  /** Directory for certificates, configs and data. @default a new temporary directory, removed by close() */
  readonly dir?: string
  /** Plain TCP between nodes instead of mutual TLS. @default false */
  readonly insecure?: boolean
  /** Host every port listens on. @default DEFAULT_CLUSTER_HOST ('127.0.0.1') */
  readonly host?: string
  /**
   * One host per node, in node order, instead of `host` (e.g. loopback aliases 127.0.0.1,
   * 127.0.0.2, 127.0.0.3 to stand for three machines). @default every node on `host`
   */
  readonly hosts?: readonly string[]
  /** @default DEFAULT_CLUSTER_ID ('quorate-cluster') */
  readonly clusterId?: string
  /** Passed to every node's config. @default DEFAULT_CLUSTER_TICK_MS (50) */
  readonly tickMs?: number
  /** Passed to every node's config. @default DEFAULT_CLUSTER_ELECTION_TICKS (10) */
  readonly electionTicks?: number
  /** Passed to every node's config. @default true */
  readonly sync?: boolean
  /** A started process that has not printed its ready line by then is killed. @default DEFAULT_READY_TIMEOUT_MS (20000) */
  readonly readyTimeoutMs?: number
  /** Client settings (members and call are filled in). @default ClusterClient's defaults */
  readonly client?: Omit<ClusterClientOptions, 'members' | 'call'>
  /** Told every line a node writes to stderr. @default none (kept only for error messages) */
  readonly onStderr?: (id: NodeId, line: string) => void
  /** Picks the ports. @default Math.random */
  readonly random?: Random
  /**
   * More identities to issue certificates for from the same development CA (e.g. node agents),
   * written as `certs/<k>.key` / `.crt` with k counting on after the nodes'. @default none
   */
  readonly extraIdentities?: readonly NodeId[]
  /** More of each node's config (a graph, a coordinator). @default none */
  readonly nodeConfig?: (id: NodeId) => Pick<ClusterNodeConfig, 'graph' | 'coordinator'>
  /** Every node serves the web dashboard (config `dashboard`, docs/dashboard.md). @default false */
  readonly dashboard?: boolean
  /**
   * Bearer tokens every node's client endpoint accepts (config `client.tokens`: hashes from
   * hashClientToken, so the token itself is never written to `dir`). @default none
   */
  readonly tokens?: readonly ClientToken[]
}

const PROCESS_CLUSTER_KEYS = Object.keys({
  nodes: true, dir: true, insecure: true, host: true, hosts: true, clusterId: true, tickMs: true, electionTicks: true, sync: true,
  readyTimeoutMs: true, client: true, onStderr: true, random: true, extraIdentities: true, nodeConfig: true, dashboard: true, tokens: true
} satisfies Record<keyof ProcessClusterOptions, true>)

export function validateProcessClusterOptions (options: ProcessClusterOptions): void {
  const C = 'ProcessCluster'
  checkObject(options as unknown, C, '(options)')
  checkKnownKeys(options, C, PROCESS_CLUSTER_KEYS)
  const nodes = options.nodes ?? DEFAULT_CLUSTER_NODES
  if (typeof nodes === 'number') checkInt(nodes, C, 'nodes', 1, 99)
  else check(Array.isArray(nodes) && nodes.length > 0 && nodes.every((id) => typeof id === 'string' && id.length > 0) && new Set(nodes).size === nodes.length, C, 'nodes', 'a count or distinct non-empty ids', nodes)
  check(options.dir === undefined || (typeof options.dir === 'string' && options.dir.length > 0), C, 'dir', 'a directory path', options.dir)
  check(options.insecure === undefined || typeof options.insecure === 'boolean', C, 'insecure', 'a boolean', options.insecure)
  check(options.host === undefined || (typeof options.host === 'string' && options.host.length > 0), C, 'host', 'a non-empty string', options.host)
  const count = typeof nodes === 'number' ? nodes : nodes.length
  check(options.hosts === undefined || (Array.isArray(options.hosts) && options.hosts.length === count && options.hosts.every((h) => typeof h === 'string' && h.length > 0)), C, 'hosts', `${count} non-empty host names, one per node`, options.hosts)
  checkInt(options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS, C, 'readyTimeoutMs', 1)
  check(options.onStderr === undefined || typeof options.onStderr === 'function', C, 'onStderr', 'a function', typeof options.onStderr)
  check(options.nodeConfig === undefined || typeof options.nodeConfig === 'function', C, 'nodeConfig', 'a function', typeof options.nodeConfig)
  check(options.dashboard === undefined || typeof options.dashboard === 'boolean', C, 'dashboard', 'a boolean', options.dashboard)
  if (options.tokens !== undefined) validateClientTokens(options.tokens, C, 'tokens')
  const extra = options.extraIdentities ?? []
  check(Array.isArray(extra) && extra.every((id) => typeof id === 'string' && id.length > 0) && new Set([...extra, ...(typeof nodes === 'number' ? [] : nodes)]).size === extra.length + (typeof nodes === 'number' ? 0 : nodes.length), C, 'extraIdentities', 'distinct non-empty ids, none a node id', extra)
}

/** What a node process announced in its ready line. */
export interface NodeProcessInfo {
  readonly id: NodeId
  readonly pid: number
  readonly raft: TcpAddress
  readonly client: TcpAddress
}

/** How a node process ended: its exit code, or the signal that ended it. */
export interface NodeExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

interface Member {
  readonly id: NodeId
  readonly address: ClusterMemberAddress
  readonly configPath: string
  child: ChildProcess | null
  exited: Promise<NodeExit | null>
}

const NODE_PROCESS_SCRIPT = fileURLToPath(new URL('./node-process.js', import.meta.url))

/** Children still running, SIGKILLed if the launcher's process exits with them alive. */
const liveChildren = new Set<ChildProcess>()
let exitHookInstalled = false
function trackChild (child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.on('exit', () => { for (const c of liveChildren) c.kill('SIGKILL') })
  }
  liveChildren.add(child)
  child.once('exit', () => { liveChildren.delete(child) })
}

async function canListen (host: string, port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => { resolve(false) })
    server.listen(port, host, () => { server.close(() => { resolve(true) }) })
  })
}

/** `count` distinct ports that were free on `host` a moment ago. */
export async function findFreePorts (count: number, host: string, random: Random = systemRandom): Promise<number[]> {
  const ports = new Set<number>()
  for (let tries = 0; ports.size < count; tries++) {
    if (tries > count * 50) throw new QuorateError('CLUSTER_PROCESS_FAILED', `no ${count} free ports found on ${host} in ${PORT_RANGE.join('-')}`)
    const port = randomInt(random, PORT_RANGE[0], PORT_RANGE[1])
    if (!ports.has(port) && await canListen(host, port)) ports.add(port)
  }
  return [...ports]
}

export class ProcessCluster implements ClusterHandle {
  readonly ids: readonly NodeId[]
  /** Where certificates, configs and data live. */
  readonly dir: string
  /** A client for the whole cluster (the JSON protocol over each node's endpoint). */
  readonly client: ClusterClient
  /**
   * What a client of this cluster presents: the cluster CA and a read-write client
   * certificate (`certs/client-launcher.{key,crt}`) issued at create(), or `{ insecure: true }`.
   */
  readonly credentials: ClientCredentials
  readonly #members: ReadonlyMap<NodeId, Member>
  readonly #ownsDir: boolean
  readonly #readyTimeoutMs: number
  readonly #onStderr: ((id: NodeId, line: string) => void) | undefined
  readonly #spawned: number[] = []
  #closing: Promise<void> | null = null

  private constructor (ids: readonly NodeId[], dir: string, ownsDir: boolean, members: Map<NodeId, Member>, credentials: ClientCredentials, options: ProcessClusterOptions) {
    this.ids = ids
    this.credentials = credentials
    this.dir = dir
    this.#ownsDir = ownsDir
    this.#members = members
    this.#readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS
    this.#onStderr = options.onStderr
    const call = httpsClientCaller(credentials)
    this.client = new ClusterClient({
      ...options.client,
      members: ids,
      call: async (id, request, signal) => await call(id, this.clientAddress(id), request, signal)
    })
  }

  /** A QuorateClient (binary protocol, sessions) for this cluster, with `credentials`. */
  quorateClient (options: Omit<QuorateClientOptions, 'nodes' | 'credentials'> & { credentials?: ClientCredentials } = {}): QuorateClient {
    return new QuorateClient({ ...options, credentials: options.credentials ?? this.credentials, nodes: Object.fromEntries(this.ids.map((id) => [id, this.clientAddress(id)])) })
  }

  /** Picks ports, writes certificates and configs. Starts no process (see start / startAll). */
  static async create (options: ProcessClusterOptions = {}): Promise<ProcessCluster> {
    validateProcessClusterOptions(options)
    const nodes = options.nodes ?? DEFAULT_CLUSTER_NODES
    const ids = typeof nodes === 'number' ? Array.from({ length: nodes }, (_, i) => `n${i + 1}`) : [...nodes]
    const hostOf = (i: number): string => options.hosts?.[i] ?? options.host ?? DEFAULT_CLUSTER_HOST
    const ownsDir = options.dir === undefined
    const dir = options.dir ?? await mkdtemp(join(tmpdir(), 'quorate-cluster-'))
    try {
      await mkdir(join(dir, 'data'), { recursive: true })
      const addresses: Record<NodeId, ClusterMemberAddress> = {}
      // Probed on each node's own host, and distinct across nodes (hosts may coincide).
      const taken = new Set<number>()
      for (const [i, id] of ids.entries()) {
        let pair: number[]
        do pair = await findFreePorts(2, hostOf(i), options.random)
        while (pair.some((p) => taken.has(p)))
        pair.forEach((p) => taken.add(p))
        addresses[id] = { host: hostOf(i), raftPort: pair[0]!, clientPort: pair[1]! }
      }
      const certDir = join(dir, 'certs')
      let credentials: ClientCredentials = { insecure: true }
      if (options.insecure !== true) {
        await createDevCertificates({ nodeIds: [...ids, ...(options.extraIdentities ?? [])], dir: certDir })
        const files = await createClientCertificate({ dir: certDir, caCertFile: join(certDir, 'ca.crt'), caKeyFile: join(certDir, 'ca.key'), name: 'launcher', role: 'read-write', file: 'client-launcher' })
        const [ca, cert, key] = await Promise.all([files.caFile, files.certFile, files.keyFile].map(async (f) => await readFile(f, 'utf8')))
        credentials = { ca: ca!, cert: cert!, key: key! }
      }
      const members = new Map<NodeId, Member>()
      const tokens = options.tokens === undefined ? {} : { tokens: options.tokens }
      for (const [i, id] of ids.entries()) {
        const config: ClusterNodeConfig = {
          id,
          clusterId: options.clusterId ?? DEFAULT_CLUSTER_ID,
          dataDir: join(dir, 'data', id),
          members: addresses,
          ...(options.insecure === true
            ? { insecure: true, client: { insecure: true, ...tokens } }
            : { tls: { keyFile: join(certDir, `${i}.key`), certFile: join(certDir, `${i}.crt`), caFile: join(certDir, 'ca.crt') }, ...(options.tokens === undefined ? {} : { client: tokens }) }),
          tickMs: options.tickMs,
          electionTicks: options.electionTicks,
          sync: options.sync,
          ...(options.dashboard === undefined ? {} : { dashboard: options.dashboard }),
          ...options.nodeConfig?.(id)
        }
        const configPath = join(dir, `${id}.json`)
        await writeFile(configPath, JSON.stringify(config, null, 2) + '\n')
        members.set(id, { id, address: addresses[id]!, configPath, child: null, exited: Promise.resolve(null) })
      }
      return new ProcessCluster(ids, dir, ownsDir, members, credentials, options)
    } catch (err) {
      if (ownsDir) await rm(dir, { recursive: true, force: true })
      throw err
    }
  }

  /** Every PID this cluster has spawned, in order (to check that none survives close()). */
  get spawnedPids (): readonly number[] { return this.#spawned }

  /** The address of a node's client endpoint. */
  clientAddress (id: NodeId): TcpAddress {
    const { host, clientHost, clientPort } = this.#member(id).address
    return { host: clientHost ?? host, port: clientPort }
  }

  isRunning (id: NodeId): boolean { return this.#member(id).child !== null }

  /** PID of the node's running process, or null. */
  pid (id: NodeId): number | null { return this.#member(id).child?.pid ?? null }

  /**
   * Spawns the node's process and resolves once it printed its ready line. Rejects with
   * CLUSTER_PROCESS_FAILED (and kills it) if it exits or stays silent for readyTimeoutMs.
   */
  async start (id: NodeId): Promise<NodeProcessInfo> {
    const member = this.#member(id)
    if (this.#closing !== null) throw new QuorateError('NODE_CLOSED', 'ProcessCluster is closed')
    if (member.child !== null) throw new QuorateError('OPTIONS_INVALID', `node ${id} is already running (pid ${String(member.child.pid)})`)
    const child = spawn(process.execPath, [NODE_PROCESS_SCRIPT, '--config', member.configPath, '--exit-with-stdin'], { stdio: ['pipe', 'pipe', 'pipe'] })
    trackChild(child)
    child.stdin!.on('error', () => {})
    member.child = child
    member.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (member.child === child) member.child = null
        resolve({ code, signal })
      })
    })
    if (child.pid !== undefined) this.#spawned.push(child.pid)
    let stderrTail = ''
    readLines(child.stderr!, (line) => {
      stderrTail = (stderrTail + line + '\n').slice(-STDERR_TAIL_BYTES)
      this.#onStderr?.(id, line)
    })
    try {
      return await new Promise<NodeProcessInfo>((resolve, reject) => {
        const failed = (why: string): void => {
          reject(new QuorateError('CLUSTER_PROCESS_FAILED', `node ${id} ${why}${stderrTail.length > 0 ? `; stderr:\n${stderrTail}` : ''}`))
        }
        const timer = setTimeout(() => { failed(`printed no ready line within ${this.#readyTimeoutMs} ms`) }, this.#readyTimeoutMs)
        child.once('error', (err) => { clearTimeout(timer); failed(`could not be spawned: ${err.message}`) })
        child.once('exit', (code, signal) => {
          clearTimeout(timer)
          // Let the stderr pipe drain so the message carries the reason.
          setImmediate(() => { failed(`exited before it was ready (code ${String(code)}, signal ${String(signal)})`) })
        })
        readLines(child.stdout!, (line) => {
          if (!line.startsWith(READY_PREFIX)) return
          clearTimeout(timer)
          resolve(JSON.parse(line.slice(READY_PREFIX.length)) as NodeProcessInfo)
        })
      })
    } catch (err) {
      child.kill('SIGKILL')
      await member.exited
      throw err
    }
  }

  async startAll (): Promise<NodeProcessInfo[]> {
    return await Promise.all(this.ids.filter((id) => !this.isRunning(id)).map(async (id) => await this.start(id)))
  }

  /** Sends `signal` to the node's process and resolves with how it ended; null if it was not running. */
  async kill (id: NodeId, signal: NodeJS.Signals = 'SIGKILL'): Promise<NodeExit | null> {
    const member = this.#member(id)
    const child = member.child
    if (child === null) return null
    child.kill(signal)
    return await member.exited
  }

  /** Stops every node (SIGTERM, SIGKILL after a grace period) and removes `dir` if it created it. Idempotent. */
  async close (): Promise<void> {
    this.#closing ??= this.#doClose()
    await this.#closing
  }

  async #doClose (): Promise<void> {
    await Promise.all([...this.#members.values()].map(async (m) => {
      const child = m.child
      if (child === null) return
      const force = setTimeout(() => { child.kill('SIGKILL') }, DEFAULT_STOP_GRACE_MS)
      child.kill('SIGTERM')
      await m.exited
      clearTimeout(force)
    }))
    if (this.#ownsDir) await rm(this.dir, { recursive: true, force: true })
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.close() }

  #member (id: NodeId): Member {
    const m = this.#members.get(id)
    if (m === undefined) throw new QuorateError('OPTIONS_INVALID', `unknown node ${JSON.stringify(id)} (members: ${this.ids.join(', ')})`)
    return m
  }
}

/** Calls `onLine` with each complete line of `stream` (utf8). */
export function readLines (stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffered = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk: string) => {
    buffered += chunk
    let nl: number
    while ((nl = buffered.indexOf('\n')) >= 0) {
      onLine(buffered.slice(0, nl))
      buffered = buffered.slice(nl + 1)
    }
  })
}
