/**
 * The benchmarks' state machine: counts applied commands. It supports snapshots (8 bytes),
 * so the node compacts its log as it would in production and memory stays bounded.
 */
import type { StateMachine } from '../src/node/state-machine.js'

export class CounterMachine implements StateMachine<null> {
  applied = 0

  apply (): null {
    this.applied++
    return null
  }

  async * snapshot (): AsyncIterable<Uint8Array> {
    const bytes = new Uint8Array(8)
    new DataView(bytes.buffer).setFloat64(0, this.applied)
    yield bytes
  }

  async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    for await (const c of chunks) this.applied = new DataView(c.buffer, c.byteOffset, c.byteLength).getFloat64(0)
  }
}
