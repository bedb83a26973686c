/**
 * Shared pieces for the session tests: an inner machine that counts how often each payload
 * was applied (and whose results would differ on a second apply), and an in-process "log"
 * that appends and applies proposals so attempts can be lost after they committed.
 */
import { SessionStateMachine } from '../../src/sessions/state-machine.js'
import type { SessionStateMachineOptions } from '../../src/sessions/state-machine.js'
import type { StateMachine } from '../../src/node/state-machine.js'

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b)

/** Result `payload@index#n`: a second application of the same payload gives a different n and index. */
export class CountingMachine implements StateMachine<string> {
  applied = new Map<string, number>()
  total = 0

  apply (command: Uint8Array, index: number): string {
    const key = dec(command)
    const n = (this.applied.get(key) ?? 0) + 1
    this.applied.set(key, n)
    this.total++
    return `${key}@${index}#${this.total}`
  }

  async * snapshot (): AsyncIterable<Uint8Array> {
    yield enc(JSON.stringify({ applied: [...this.applied], total: this.total }))
  }

  async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const state = JSON.parse(dec(await collect(chunks))) as { applied: Array<[string, number]>, total: number }
    this.applied = new Map(state.applied)
    this.total = state.total
  }
}

/** A log in memory: every proposal is appended at the next index and applied at once. */
export class LocalLog {
  readonly inner = new CountingMachine()
  readonly machine: SessionStateMachine<string>
  readonly entries: Uint8Array[] = []

  constructor (options: SessionStateMachineOptions<string> = {}) {
    this.machine = new SessionStateMachine(this.inner, options)
  }

  append (command: Uint8Array): unknown {
    this.entries.push(command)
    return this.machine.apply(command, this.entries.length)
  }

  /** A ProposeFn that commits every attempt. */
  readonly propose = async (command: Uint8Array): Promise<unknown> => this.append(command)
}

/** Collects an async iterable of chunks into one array. */
export async function collect (chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of chunks) parts.push(c)
  return Buffer.concat(parts)
}

/** Replays `bytes` as `size`-byte chunks, to exercise framing across chunk boundaries. */
export async function * rechunk (bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size)
}
