/**
 * A state machine that records every applied command, so replicas can be compared; its
 * snapshot is that record, streamed in 4 KiB chunks.
 */
import type { StateMachine } from '../../src/node/state-machine.js'

export class RecordingMachine implements StateMachine<string> {
  log: Array<{ index: number, command: string }> = []
  restores = 0

  apply (command: Uint8Array, index: number): string {
    const text = new TextDecoder().decode(command)
    this.log.push({ index, command: text })
    return `ok:${text}`
  }

  snapshot (): AsyncIterable<Uint8Array> {
    // Serialized eagerly: the snapshot is the state as of this call.
    const bytes = new TextEncoder().encode(JSON.stringify(this.log))
    return (async function * () {
      for (let at = 0; at < bytes.byteLength; at += 4096) yield bytes.subarray(at, at + 4096)
    })()
  }

  async restore (chunks: AsyncIterable<Uint8Array>): Promise<void> {
    const parts: Uint8Array[] = []
    for await (const c of chunks) parts.push(c)
    this.log = JSON.parse(new TextDecoder().decode(Buffer.concat(parts))) as Array<{ index: number, command: string }>
    this.restores++
  }
}
