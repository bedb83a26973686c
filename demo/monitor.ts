/**
 * Polls every node's status a few times a second, reports leader changes and a node catching
 * up as events, and renders the progress line.
 *
 * Causal order: the workload learns of a new leader the moment a write is acknowledged, up
 * to a poll interval before this monitor would see it. So the workload hands that evidence to
 * `confirmLeader()` first, which polls at once and announces the leader (dated no later than
 * the acknowledgement) before the workload prints its own line: an acknowledgement by a
 * leader never appears before the line saying that leader was elected.
 */
import type { ClusterHandle } from '../src/cluster/cluster-handle.js'
import type { NodeReport } from '../src/cluster/protocol.js'
import type { NodeId } from '../src/raft/types.js'
import type { Display } from './display.js'

const POLL_MS = 200

interface CatchUp { readonly id: NodeId, readonly target: number, readonly since: number }

export class Monitor {
  readonly #cluster: ClusterHandle
  readonly #display: Display
  readonly #progressExtra: () => string
  readonly #view = new Map<NodeId, NodeReport | null>()
  #leader: NodeReport | null = null
  #announced: { id: NodeId, term: number } | null = null
  #lastKill: { id: NodeId, at: number } | null = null
  #catchUp: CatchUp | null = null
  #timer: NodeJS.Timeout | null = null
  #polling: Promise<void> | null = null
  /** A node known to lead since `at` (it acknowledged a write then), until a poll announces it. */
  #evidence: { id: NodeId, at: number } | null = null
  readonly #waiters: Array<() => void> = []

  constructor (cluster: ClusterHandle, display: Display, progressExtra: () => string) {
    this.#cluster = cluster
    this.#display = display
    this.#progressExtra = progressExtra
  }

  /** The leader as of the last poll (null while none answers as leader). */
  get leader (): NodeReport | null { return this.#leader }

  start (): void {
    this.#timer ??= setInterval(() => { void this.#poll() }, POLL_MS)
  }

  stop (): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
  }

  /** The next leader event will say how long after this kill it came. */
  killed (id: NodeId): void { this.#lastKill = { id, at: performance.now() } }

  /**
   * Reports when `id` has applied what the others had committed when it came back (the
   * highest commit index of the last poll); returns that index.
   */
  watchCatchUp (id: NodeId): number {
    let target = 0
    for (const r of this.#view.values()) if (r !== null && r.id !== id) target = Math.max(target, r.commitIndex)
    this.#catchUp = { id, target, since: performance.now() }
    return target
  }

  /**
   * `id` acknowledged a write at `at` (performance.now()), so it led then: polls now and, if
   * `id` is leader, announces it before resolving (dated `at` if the poll is later).
   */
  async confirmLeader (id: NodeId, at: number): Promise<void> {
    if (this.#announced?.id === id) return
    this.#evidence = { id, at }
    await this.#polling
    if (this.#announced?.id !== id) await this.#poll()
    this.#evidence = null
  }

  /** Resolves after the first poll at which `probe` holds. */
  async until (probe: () => boolean, signal: AbortSignal): Promise<void> {
    while (!probe()) {
      signal.throwIfAborted()
      await new Promise<void>((resolve) => { this.#waiters.push(resolve) })
    }
  }

  async #poll (): Promise<void> {
    if (this.#polling !== null) { await this.#polling; return }
    this.#polling = this.#pollOnce()
    await this.#polling
  }

  async #pollOnce (): Promise<void> {
    try {
      const ids = this.#cluster.ids
      const reports = await Promise.allSettled(ids.map(async (id) => {
        if (!this.#cluster.isRunning(id)) return null
        return await this.#cluster.client.status(id, { hash: false })
      }))
      ids.forEach((id, i) => {
        const r = reports[i]!
        this.#view.set(id, r.status === 'fulfilled' ? r.value : null)
      })
      this.#noticeLeader()
      this.#noticeCatchUp()
      this.#display.progress(this.#render())
    } finally {
      this.#polling = null
      for (const w of this.#waiters.splice(0)) w()
    }
  }

  #noticeLeader (): void {
    let best: NodeReport | null = null
    for (const r of this.#view.values()) {
      if (r !== null && r.role === 'leader' && (best === null || r.term > best.term)) best = r
    }
    this.#leader = best
    if (best === null) return
    const previous = this.#announced
    if (previous !== null && previous.id === best.id && previous.term === best.term) return
    this.#announced = { id: best.id, term: best.term }
    const seen = this.#evidence?.id === best.id ? Math.min(this.#evidence.at, performance.now()) : performance.now()
    let after = ''
    if (this.#lastKill !== null && best.id !== this.#lastKill.id) {
      after = `, ${Math.round(seen - this.#lastKill.at)} ms after ${this.#lastKill.id} was killed`
      this.#lastKill = null
    }
    this.#display.event(`${best.id} is leader (term ${best.term}${after})`)
  }

  #noticeCatchUp (): void {
    const c = this.#catchUp
    if (c === null) return
    const applied = this.#view.get(c.id)?.appliedIndex ?? 0
    if (applied < c.target) return
    this.#catchUp = null
    this.#display.event(`${c.id} caught up: applied index ${applied} >= ${c.target} (the cluster's commit index when it restarted), ${Math.round(performance.now() - c.since)} ms after the restart`)
  }

  #render (): string {
    const nodes = this.#cluster.ids.map((id) => {
      const r = this.#view.get(id)
      if (r === null || r === undefined) return `${id} down`
      const mark = r.role === 'leader' ? '*' : ''
      const behind = this.#catchUp?.id === id ? ' (catching up)' : ''
      return `${id}${mark} ${r.appliedIndex}${behind}`
    }).join('  ')
    const leader = this.#leader === null ? 'leader ?' : `leader ${this.#leader.id} term ${this.#leader.term}`
    return `${this.#progressExtra()} | ${leader} | applied: ${nodes}`
  }
}
