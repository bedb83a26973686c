/** FrameBatch: the frames of one turn leave in one socket write, read back intact by frameReader (text bodies with multi-byte UTF-8 too), past its initial size, and never after the socket stopped being writable. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Socket } from 'node:net'
import { FrameBatch, frameReader } from '../../src/cluster/wire.js'

/**
 * A stand-in for a socket that keeps every buffer it is handed (not a copy) and reports
 * `pending` bytes still queued after each write, as a socket does that could not send at once.
 */
function recordingSocket (): { socket: Socket, writes: Buffer[], state: { pending: number, writable: boolean } } {
  const writes: Buffer[] = []
  const state = { pending: 0, writable: true }
  const socket = {
    get writable () { return state.writable },
    get writableLength () { return state.pending },
    write (chunk: Buffer) { writes.push(chunk); return true },
    end () { state.writable = false }
  }
  return { socket: socket as unknown as Socket, writes, state }
}

function decode (bytes: Buffer): Array<[number, number, string]> {
  const frames: Array<[number, number, string]> = []
  frameReader(1 << 20, (id, kind, body) => { frames.push([id, kind, body.toString('latin1')]) }, () => { throw new Error('oversized') })(bytes)
  return frames
}

const tick = async (): Promise<void> => { await new Promise((resolve) => setImmediate(resolve)) }

test('every frame of one turn leaves in one write, in order, and reads back intact', async () => {
  const { socket, writes } = recordingSocket()
  const batch = new FrameBatch(socket, 64)
  batch.push(1, 7, Buffer.from('body'), Buffer.from('pre-'))
  batch.pushText(2, 8, '{"v":"é€😀"}', 2)
  batch.pushText(3, 9, 'plain')
  const big = 'x'.repeat(500)
  batch.push(4, 1, Buffer.from(big))
  assert.is(writes.length, 0, 'nothing is written within the turn')
  await tick()
  assert.is(writes.length, 1, 'one write for the whole turn')
  assert.equal(decode(writes[0]!), [
    [1, 7, 'pre-body'],
    [2, 8, '\u0002' + Buffer.from('{"v":"é€😀"}', 'utf8').toString('latin1')],
    [3, 9, 'plain'],
    [4, 1, big]
  ])
  batch.push(5, 1, Buffer.from('next'))
  await tick()
  assert.equal([writes.length, decode(writes[1]!)], [2, [[5, 1, 'next']]], 'the next turn is its own write')
})

test('a buffer the socket still holds is never written again', async () => {
  const { socket, writes, state } = recordingSocket()
  const batch = new FrameBatch(socket, 64)
  state.pending = 10
  batch.push(1, 1, Buffer.from('queued'))
  await tick()
  batch.push(2, 1, Buffer.from('second'))
  await tick()
  assert.equal(writes.map(decode), [[[1, 1, 'queued']], [[2, 1, 'second']]])
})

test('frames pushed once the socket stopped being writable are dropped', async () => {
  const { socket, writes, state } = recordingSocket()
  const batch = new FrameBatch(socket)
  state.writable = false
  batch.push(1, 1, Buffer.from('late'))
  await tick()
  assert.is(writes.length, 0)
})

test('end() writes the frames pushed this turn before it ends the socket, so a closing answer is not dropped', async () => {
  const { socket, writes, state } = recordingSocket()
  const batch = new FrameBatch(socket, 64)
  batch.pushText(0, 1, '{"code":"CLUSTER_REQUEST_TOO_LARGE"}')
  batch.end()
  assert.is(state.writable, false, 'the socket was ended')
  assert.is(writes.length, 1, 'the answer was written first')
  assert.equal(decode(writes[0]!), [[0, 1, '{"code":"CLUSTER_REQUEST_TOO_LARGE"}']])
  await tick()
  assert.is(writes.length, 1, 'the scheduled flush writes nothing more')
})

test.run()
