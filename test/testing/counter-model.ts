/**
 * A user-defined model in its own module, so the worker-thread checker can load it by URL and
 * export name (as a user's model would be): a counter with increments and reads. Also a model
 * whose step throws, to show how a model's error crosses from a worker.
 */
import { QuorateError } from '../../src/errors.js'
import type { Model } from '../../src/testing/model.js'

export type CounterInput = 'inc' | 'read'

export const counterModel: Model<number, CounterInput, number | null> = {
  init: () => 0,
  step: (state, input, output) => {
    const next = input === 'inc' ? state + 1 : state
    if (input === 'read' && typeof output === 'number' && output !== state) return { ok: false }
    return { ok: true, state: next }
  },
  hash: (n) => n
}

export const throwingModel: Model<number, CounterInput, number | null> = {
  init: () => 0,
  step: () => { throw new QuorateError('KV_COMMAND_INVALID', 'this model refuses every step') }
}
