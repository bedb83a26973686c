/**
 * Runs scenario files (test/raft/testdata/*.txt) against pure Raft cores on the synchronous
 * CoreNetwork: the test drives every tick, every Ready and every delivery, so a scenario is
 * a readable, deterministic trace (no clock, no randomness: the election timeout jitter is
 * one tick, so `tick-election` makes a node campaign exactly then).
 *
 * Commands (ids are n1, n2, ... in the order nodes are added):
 *   add-nodes N [voters=..] [learners=..] [log=1,1,2 term=T commit=C] [jitter=K] [preVote= checkQuorum=
 *             electionTicks= heartbeatTicks= maxMessageBytes= readMode= forwardProposals=]
 *   campaign ID | transfer-leadership FROM TO
 *   tick ID..|all [n=K] | tick-election ID..|all | tick-heartbeat ID..|all
 *   process-ready ID..|all      one Ready each: persist, apply, queue its messages
 *   deliver-msgs [ID..]         deliver the queued messages (to ID.. only); replies stay queued
 *   drop [ID..]                 discard the queued messages (to ID.. only)
 *   stabilize                   process-ready + deliver until nothing moves
 *   elapse N                    N times: tick every live node, stabilize (prints state changes only)
 *   isolate ID | cut A B | heal | crash ID | restart ID
 *   propose ID DATA.. | propose-conf-change ID [add=X] [learner=X] [remove=X] [joint] [leave-joint]
 *   read-index ID CTX | send FROM->TO TYPE term=.. [index= logTerm= commit= reject= context= entries=T,T..]
 *   raft-state | status [ID..] | log ID | applied ID | reads ID (read states so far)
 * and the quorum and configuration tables of tables.ts. Every action reports the role, term
 * and leader changes it caused (`n1 -> candidate term=1 leader=-`).
 */
import { CoreNetwork, entriesWithTerms } from '../harness.js'
import type { RaftOptions } from '../../../src/raft/options.js'
import { message, MESSAGE_TYPES } from '../../../src/raft/types.js'
import type { Entry, Message, MessageType, NodeId } from '../../../src/raft/types.js'
import { Args } from './datadriven.js'
import type { Case } from './datadriven.js'
import { expectedError, formatConfig, formatEntry, formatMessage, formatSoft, formatStatus } from './format.js'
import { parseConfigChange, TableScenario } from './tables.js'

const BOOL_OPTIONS = ['preVote', 'checkQuorum', 'forwardProposals'] as const
const INT_OPTIONS = ['electionTicks', 'heartbeatTicks', 'maxMessageBytes'] as const

export class ScenarioRunner {
  #net: CoreNetwork | null = null
  /** Messages produced by process-ready and not yet delivered or dropped. */
  #queue: Message[] = []
  readonly #soft = new Map<NodeId, string>()
  readonly #ticks = new Map<NodeId, { election: number, heartbeat: number }>()
  readonly #tables = new TableScenario()
  /** Voters of the first add-nodes: the configuration every later joiner starts from. */
  #initialVoters: readonly NodeId[] | undefined

  run (c: Case): string {
    const table = this.#tables.run(c)
    if (table !== null) return table
    const args = new Args(c.args)
    const out: string[] = []
    this.#dispatch(c.command, args, out)
    args.done()
    this.#noteChanges(out)
    return out.join('\n')
  }

  get #network (): CoreNetwork {
    if (this.#net === null) throw new Error('no nodes yet: start with add-nodes')
    return this.#net
  }

  #nodes (args: Args): NodeId[] {
    const named = args.positional()
    if (named.length === 1 && named[0] === 'all') return this.#network.ids.filter((id) => !this.#network.down.has(id))
    for (const id of named) if (!this.#network.cores.has(id)) throw new Error(`no node ${id}`)
    return named
  }

  #one (args: Args): NodeId {
    const [id, ...rest] = this.#nodes(args)
    if (id === undefined || rest.length > 0) throw new Error('needs exactly one node id')
    return id
  }

  /** Reports role/term/leader changes since the last report, in node order. */
  #noteChanges (out: string[]): void {
    if (this.#net === null) return
    for (const id of this.#net.ids) {
      const now = this.#net.down.has(id) ? 'down' : formatSoft(this.#net.core(id))
      if (this.#soft.get(id) !== now) out.push(`${id} -> ${now}`)
      this.#soft.set(id, now)
    }
  }

  #dispatch (command: string, args: Args, out: string[]): void {
    switch (command) {
      case 'add-nodes': this.#addNodes(args, out); return
      case 'campaign': this.#network.core(this.#one(args)).campaign(); return
      case 'transfer-leadership': {
        const [from, to] = args.positional()
        try { this.#network.core(from!).transferLeadership(to!) } catch (err) { out.push(expectedError(err)) }
        return
      }
      case 'tick': case 'tick-election': case 'tick-heartbeat': this.#tick(command, args); return
      case 'process-ready': for (const id of this.#nodes(args)) this.#processReady(id, out); return
      case 'deliver-msgs': this.#deliver(args.positional(), out); return
      case 'drop': this.#drop(args.positional(), out); return
      case 'stabilize': this.#stabilize(out, true); return
      case 'elapse': this.#elapse(args, out); return
      case 'isolate': this.#network.isolate(this.#one(args)); return
      case 'cut': {
        const [a, b] = args.positional()
        this.#network.cut.add(`${a}->${b}`); this.#network.cut.add(`${b}->${a}`)
        return
      }
      case 'heal': this.#network.heal(); return
      case 'crash': {
        const id = this.#one(args)
        this.#network.crash(id)
        this.#queue = this.#queue.filter((m) => m.from !== id)
        return
      }
      case 'restart': this.#network.start(this.#one(args)); return
      case 'propose': this.#propose(args, out); return
      case 'propose-conf-change': this.#proposeConfChange(args, out); return
      case 'read-index': {
        const [id, ctx] = args.positional()
        try { this.#network.core(id!).readIndex(Number(ctx)) } catch (err) { out.push(expectedError(err)) }
        return
      }
      case 'send': this.#send(args, out); return
      case 'raft-state':
        for (const id of this.#network.ids) out.push(`${id}: ${this.#network.down.has(id) ? 'down' : formatSoft(this.#network.core(id))}`)
        return
      case 'status': {
        const named = args.positional()
        for (const id of named.length > 0 ? named : this.#network.ids) {
          const core = this.#network.core(id)
          out.push(...formatStatus(core.status(), core.config))
        }
        return
      }
      case 'log': {
        const core = this.#network.core(this.#one(args))
        out.push(`committed=${core.log.committed}`)
        for (let i = core.log.snapshotIndex + 1; i <= core.log.lastIndex(); i++) out.push(formatEntry(core.log.entry(i)!))
        return
      }
      case 'reads': {
        const reads = this.#network.reads.get(this.#one(args))!
        out.push(reads.length === 0 ? 'none' : reads.map((r) => `ctx=${r.context} index=${r.index}`).join('\n'))
        return
      }
      case 'applied': {
        const applied = this.#network.applied.get(this.#one(args))!
        out.push(applied.length === 0 ? 'nothing' : applied.map((e) => formatEntry(e)).join('\n'))
        return
      }
      default: throw new Error(`unknown command ${command}`)
    }
  }

  #addNodes (args: Args, out: string[]): void {
    const [count] = args.positional()
    const n = Number(count)
    if (!Number.isInteger(n) || n < 1) throw new Error('add-nodes needs a node count')
    const first = this.#net === null ? 0 : this.#net.ids.length
    const added = Array.from({ length: n }, (_, i) => `n${first + i + 1}`)
    // Jitter 1 unless asked: the timeout is then exactly electionTicks, so traces do not depend
    // on the seeded random stream; jitter=K restores randomized timeouts to break split votes.
    const options: Partial<RaftOptions> = { electionJitterTicks: args.int('jitter') ?? 1 }
    for (const key of BOOL_OPTIONS) { const v = args.bool(key); if (v !== undefined) options[key] = v }
    for (const key of INT_OPTIONS) { const v = args.int(key); if (v !== undefined) options[key] = v }
    const readMode = args.string('readMode')
    if (readMode !== undefined) options.readMode = readMode as RaftOptions['readMode']
    // The first nodes form the cluster; later ones are joiners that start, like every node,
    // with the cluster's initial voters unless told otherwise (an empty voter set is refused:
    // such a node could never elect). They are not among them, so they cannot campaign until
    // a configuration change adds them.
    this.#initialVoters ??= args.list('voters') ?? added
    options.voters = args.list('voters') ?? this.#initialVoters
    options.learners = args.list('learners') ?? []
    const terms = (args.list('log') ?? []).map(Number)
    const entries: Entry[] = entriesWithTerms(terms)
    const hardState = { term: args.int('term') ?? terms.at(-1) ?? 0, vote: null, commit: args.int('commit') ?? 0 }
    this.#net ??= new CoreNetwork([], {}, 1)
    for (const id of added) {
      try {
        this.#net.add(id, options, { hardState, entries })
      } catch (err) {
        out.push(expectedError(err))
        return
      }
      const election = options.electionTicks ?? 10
      this.#ticks.set(id, { election, heartbeat: options.heartbeatTicks ?? 1 })
      const core = this.#net.core(id)
      out.push(`${id}: ${formatSoft(core)} last=${core.log.lastTerm()}/${core.log.lastIndex()} ${formatConfig(core.config)}`)
      this.#soft.set(id, formatSoft(core))
    }
  }

  #tick (command: string, args: Args): void {
    const k = args.int('n')
    for (const id of this.#nodes(args)) {
      const t = this.#ticks.get(id)!
      const times = command === 'tick-election' ? t.election : command === 'tick-heartbeat' ? t.heartbeat : k ?? 1
      for (let i = 0; i < times; i++) this.#network.core(id).tick()
    }
  }

  #processReady (id: NodeId, out: string[]): void {
    const net = this.#network
    const core = net.core(id)
    if (net.down.has(id) || !core.hasReady()) { out.push(`${id}: nothing ready`); return }
    const rd = net.handleReady(id)!
    const lines: string[] = []
    if (rd.hardState !== null) lines.push(`hard-state term=${rd.hardState.term} vote=${rd.hardState.vote ?? '-'} commit=${rd.hardState.commit}`)
    if (rd.mustSync) lines.push('sync')
    if (rd.truncateFrom !== 0) lines.push(`truncate from=${rd.truncateFrom}`)
    for (const e of rd.entries) lines.push(`persist ${formatEntry(e)}`)
    for (const e of rd.committed) lines.push(`apply ${formatEntry(e)}`)
    if (rd.committed.some((e) => e.type === 'config')) lines.push(`config ${formatConfig(core.config)}`)
    for (const r of rd.readStates) lines.push(`read ctx=${r.context} index=${r.index}`)
    const msgs = [...rd.earlyMessages, ...rd.messages]
    for (const m of msgs) lines.push(`send ${formatMessage(m)}`)
    this.#queue.push(...msgs)
    out.push(`${id}:`, ...lines.map((l) => `  ${l}`))
  }

  #take (to: readonly NodeId[]): Message[] {
    const picked = this.#queue.filter((m) => to.length === 0 || to.includes(m.to))
    this.#queue = this.#queue.filter((m) => !picked.includes(m))
    return picked
  }

  #deliver (to: readonly NodeId[], out: string[]): void {
    for (const m of this.#take(to)) {
      const delivered = this.#network.deliver(m)
      out.push(`${formatMessage(m)}${delivered ? '' : ' (dropped)'}`)
      this.#noteChanges(out)
    }
  }

  #drop (to: readonly NodeId[], out: string[]): void {
    for (const m of this.#take(to)) out.push(`dropped ${formatMessage(m)}`)
  }

  /** Drains and delivers until quiet; with `trace` every delivered message is printed. */
  #stabilize (out: string[], trace: boolean): number {
    const net = this.#network
    let count = 0
    for (let round = 0; round < 10_000; round++) {
      for (const id of net.ids) this.#queue.push(...net.drain(id))
      if (this.#queue.length === 0) return count
      for (const m of this.#take([])) {
        const delivered = net.deliver(m)
        count++
        if (trace) out.push(`${formatMessage(m)}${delivered ? '' : ' (dropped)'}`)
        this.#noteChanges(out)
      }
    }
    throw new Error('network did not stabilize')
  }

  #elapse (args: Args, out: string[]): void {
    const [count] = args.positional()
    const net = this.#network
    let messages = 0
    for (let i = 0; i < Number(count); i++) {
      for (const id of net.ids) if (!net.down.has(id)) net.core(id).tick()
      this.#noteChanges(out)
      messages += this.#stabilize(out, false)
    }
    out.push(`${messages} messages`)
  }

  #propose (args: Args, out: string[]): void {
    const [id, ...data] = args.positional()
    try {
      const pos = this.#network.core(id!).propose(data.map((d) => new TextEncoder().encode(d)))
      out.push(`index=${pos.index} term=${pos.term}`)
    } catch (err) {
      out.push(expectedError(err))
    }
  }

  #proposeConfChange (args: Args, out: string[]): void {
    const [first, ...rest] = args.ordered()
    if (first === undefined || first.value !== null) throw new Error('propose-conf-change needs the leader id first')
    const change = parseConfigChange(rest)
    try {
      const pos = this.#network.core(first.key).proposeConfigChange(change)
      out.push(`index=${pos.index} term=${pos.term}`)
    } catch (err) {
      out.push(expectedError(err))
    }
  }

  #send (args: Args, out: string[]): void {
    const [route, type] = args.positional()
    const [from, to] = (route ?? '').split('->')
    if (from === undefined || to === undefined || !MESSAGE_TYPES.includes(type as MessageType)) throw new Error('send FROM->TO TYPE term=..')
    const m = message({
      type: type as MessageType,
      from,
      to,
      term: args.int('term') ?? 0,
      index: args.int('index') ?? 0,
      logTerm: args.int('logTerm') ?? 0,
      commit: args.int('commit') ?? 0,
      // entries=3,3: entries of those terms right after `index`, with made-up payloads.
      entries: (args.list('entries') ?? []).map((t, i) => ({ term: Number(t), index: (args.int('index') ?? 0) + i + 1, type: 'command' as const, data: new TextEncoder().encode(`t${t}`) })),
      reject: args.bool('reject') ?? false,
      context: args.int('context') ?? 0
    })
    out.push(formatMessage(m))
    this.#network.core(to).step(m)
  }
}
