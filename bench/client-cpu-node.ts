/**
 * The fake node of bench/client-cpu.ts, in its own process: a plaintext endpoint that upgrades
 * every connection to the binary protocol (wire.ts) and answers every frame at once with OK
 * and the number 1 (a valid registration answer, and an ignorable kv output), all answers of
 * a tick in one write. No Raft, no storage: what the client costs is all that is left to
 * measure. Reports `{ port }` over IPC.
 */
import { createServer } from 'node:net'
import { jsonResultCodec } from '../src/sessions/codec.js'
import { CorkedWriter, encodeFrame, frameReader, STATUS_OK, STREAM_PROTOCOL } from '../src/cluster/wire.js'

const ONE = jsonResultCodec.encode(1)
const server = createServer({ noDelay: true }, (socket) => {
  socket.on('error', () => {})
  socket.once('data', () => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ${STREAM_PROTOCOL}\r\n\r\n`)
    const writer = new CorkedWriter(socket)
    socket.on('data', frameReader(1 << 20, (id) => { writer.push(encodeFrame(id, STATUS_OK, ONE)) }, () => { socket.destroy() }))
  })
})
server.listen(0, '127.0.0.1', () => { process.send?.({ port: (server.address() as { port: number }).port }) })
process.on('disconnect', () => { process.exit(0) })
