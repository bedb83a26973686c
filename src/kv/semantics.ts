/**
 * The key-value machine's semantics, shared by the sequential model the checker uses
 * (`kvModel`) and the replicated state machine the simulator runs (`KvStateMachine`), so
 * that what the state machine returns can be recorded into a history unchanged.
 *
 * - `get` returns the value, or null if the key was never written.
 * - `put` sets the value.
 * - `cas` sets the value only if the current value equals `expected` (null: key absent);
 *   returns whether it did.
 * - `append` appends to the value (an absent key counts as '') and returns the new value,
 *   which makes the order of appends visible to the checker.
 */

export type KvInput =
  | { readonly op: 'get', readonly key: string }
  | { readonly op: 'put', readonly key: string, readonly value: string }
  | { readonly op: 'cas', readonly key: string, readonly expected: string | null, readonly value: string }
  | { readonly op: 'append', readonly key: string, readonly value: string }

export type KvOutput =
  | { readonly op: 'get', readonly value: string | null }
  | { readonly op: 'put' }
  | { readonly op: 'cas', readonly ok: boolean }
  | { readonly op: 'append', readonly value: string }
  /** A command the state machine could not decode. A correct system never returns it. */
  | { readonly op: 'error', readonly message: string }

/** The whole store: key to value. Never mutated; a write makes a new map. */
export type KvState = ReadonlyMap<string, string>

export interface KvTransition {
  /** The key's value after the operation (null: absent). */
  readonly value: string | null
  readonly output: KvOutput
}

const PUT_OUTPUT: KvOutput = Object.freeze({ op: 'put' })
const CAS_OK: KvOutput = Object.freeze({ op: 'cas', ok: true })
const CAS_FAILED: KvOutput = Object.freeze({ op: 'cas', ok: false })

/** What `input` does to a key whose value is `current`. */
export function kvTransition (current: string | null, input: KvInput): KvTransition {
  switch (input.op) {
    case 'get': return { value: current, output: { op: 'get', value: current } }
    case 'put': return { value: input.value, output: PUT_OUTPUT }
    case 'cas':
      return current === input.expected
        ? { value: input.value, output: CAS_OK }
        : { value: current, output: CAS_FAILED }
    case 'append': {
      const value = (current ?? '') + input.value
      return { value, output: { op: 'append', value } }
    }
  }
}

export function kvOutputsEqual (a: KvOutput, b: KvOutput): boolean {
  switch (a.op) {
    case 'get': return b.op === 'get' && a.value === b.value
    case 'put': return b.op === 'put'
    case 'cas': return b.op === 'cas' && a.ok === b.ok
    case 'append': return b.op === 'append' && a.value === b.value
    case 'error': return b.op === 'error' && a.message === b.message
  }
}
