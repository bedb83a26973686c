/**
 * A singleton service under the failure detector, for the simulator: what the detector's
 * verdicts lead to end to end. A minimal coordinator on one node places the singleton on a
 * host; when its detector declares the host dead it raises the fencing token and starts the
 * singleton on another live node; when the old host is alive again it stops the instance
 * there with the new token. Each node's agent is modelled by what the agent guarantees
 * (src/agent/node-agent.ts): a FencingGuard per node (an older token is refused) and replies
 * remembered by command id (a resent command is not run twice). Commands and replies travel
 * the simulated network and are resent every `retryMs` until answered.
 *
 * This is a model of the coordinator's side, not quorate's coordinator: it exists to check
 * that the detector's verdicts, fencing and idempotent commands compose — a partition shorter
 * than the grace period gives no replacement, a longer one exactly one, and after reconnect
 * exactly one instance is kept.
 */
import { FencingGuard } from '../../lease/fencing.js'
import type { Transition } from '../../agent/failure-detector.js'

export interface SingletonOptions {
  /** Where the singleton runs at first. */
  readonly host: string
  /** The node the coordinator runs on (its detector's verdicts drive it). */
  readonly coordinator: string
  /** Resend period for unanswered commands, ms. @default 500 */
  readonly retryMs?: number
  /** A deliberately broken coordinator: never stops the instance on a host that comes back. */
  readonly mutant?: 'no-stop-on-reconnect'
}

export interface SingletonCommand { readonly id: string, readonly kind: 'start' | 'stop', readonly token: number, readonly to: string }

export interface SingletonReport {
  /** Starts on a new host after the first placement. */
  readonly replacements: number
  /** Nodes running the singleton at the end (crashed nodes run nothing). */
  readonly runningAtEnd: readonly string[]
  /** Commands an agent refused as fenced. */
  readonly fenced: number
  readonly timeline: ReadonlyArray<{ readonly at: number, readonly node: string, readonly running: boolean }>
}

/** What the model needs from the simulator: sending over its network, and a timer on the coordinator. */
export interface SingletonNetwork {
  send: (from: string, to: string, message: { command: SingletonCommand } | { reply: SingletonCommand }) => void
  retryLater: (ms: number, command: SingletonCommand) => void
}

const LEASE = 'quorate/coordinator'

export class SingletonModel {
  readonly #o: SingletonOptions
  readonly #net: SingletonNetwork
  readonly #guards = new Map<string, FencingGuard>()
  readonly #answered = new Map<string, Set<string>>()
  readonly #running = new Set<string>()
  readonly #pending = new Map<string, SingletonCommand>()
  readonly #stale = new Set<string>()
  readonly #timeline: Array<{ at: number, node: string, running: boolean }> = []
  #token = 1
  #placement: string
  #replacements = 0
  #fenced = 0
  #ids = 0

  constructor (options: SingletonOptions, net: SingletonNetwork) {
    this.#o = options
    this.#net = net
    this.#placement = options.host
    this.#running.add(options.host)
    this.#timeline.push({ at: 0, node: options.host, running: true })
  }

  /** The coordinator's detector reported transitions (`alive` tells which nodes it believes live). */
  onVerdicts (transitions: readonly Transition[], alive: (node: string) => boolean, nodes: readonly string[]): void {
    for (const t of transitions) {
      if (t.status === 'dead' && t.node === this.#placement) {
        const next = nodes.find((n) => n !== t.node && alive(n))
        if (next === undefined) continue
        this.#token++
        this.#stale.add(t.node)
        this.#placement = next
        this.#replacements++
        this.#issue({ id: `c${++this.#ids}`, kind: 'start', token: this.#token, to: next })
      } else if (t.status === 'alive' && this.#stale.has(t.node) && this.#o.mutant !== 'no-stop-on-reconnect') {
        this.#stale.delete(t.node)
        this.#issue({ id: `c${++this.#ids}`, kind: 'stop', token: this.#token, to: t.node })
      }
    }
  }

  /** A command reached node `at` (its agent): fenced, deduplicated by id, executed; the reply goes back. */
  deliverCommand (node: string, command: SingletonCommand, now: number): void {
    const answered = this.#answered.get(node) ?? new Set<string>()
    this.#answered.set(node, answered)
    if (!answered.has(command.id)) {
      answered.add(command.id)
      const guard = this.#guards.get(node) ?? new FencingGuard()
      this.#guards.set(node, guard)
      if (!guard.wouldAdmit(LEASE, command.token)) this.#fenced++
      else {
        guard.admit(LEASE, command.token)
        const running = command.kind === 'start'
        if (this.#running.has(node) !== running) {
          if (running) this.#running.add(node)
          else this.#running.delete(node)
          this.#timeline.push({ at: now, node, running })
        }
      }
    }
    this.#net.send(node, this.#o.coordinator, { reply: command })
  }

  /** A reply reached the coordinator. */
  deliverReply (command: SingletonCommand): void { this.#pending.delete(command.id) }

  /** The coordinator's resend timer for `command` fired. */
  retry (command: SingletonCommand): void {
    if (!this.#pending.has(command.id)) return
    this.#net.send(this.#o.coordinator, command.to, { command })
    this.#net.retryLater(this.#o.retryMs ?? 500, command)
  }

  /** A node crashed: its processes are gone. */
  crashed (node: string, now: number): void {
    if (this.#running.delete(node)) this.#timeline.push({ at: now, node, running: false })
  }

  report (): SingletonReport {
    return { replacements: this.#replacements, runningAtEnd: [...this.#running].sort(), fenced: this.#fenced, timeline: this.#timeline }
  }

  #issue (command: SingletonCommand): void {
    this.#pending.set(command.id, command)
    this.#net.send(this.#o.coordinator, command.to, { command })
    this.#net.retryLater(this.#o.retryMs ?? 500, command)
  }
}
