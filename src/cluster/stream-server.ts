/**
 * The server half of the binary protocol (wire.ts) on a connection the HTTP endpoint upgraded
 * after authenticating it: frames are answered as their proposals and reads complete, in any
 * order, and every answer of one event-loop turn leaves in one socket write (CorkedWriter).
 *
 * Invariants: a malformed or refused frame is answered FAILED and the connection lives on; a
 * frame over the size limit is answered CLUSTER_REQUEST_TOO_LARGE and the connection closed
 * (the stream cannot be resynchronised); reads have the service's request timeout and are
 * aborted when the connection closes; proposals are never aborted (they commit, or the node
 * drops them once it learns a newer term's entry, or closes), so their answers to a closed
 * connection are simply not written.
 */
import type { Socket } from 'node:net'
import { QuorateError, isQuorateError } from '../errors.js'
import { jsonResultCodec } from '../sessions/codec.js'
import type { Principal } from './auth.js'
import { PendingDeadlines } from './deadlines.js'
import type { KvService } from './kv-service.js'
import { failureResponse, MAX_READ_KEYS } from './protocol.js'
import type { EndpointRejections, RejectionCode } from './rejections.js'
import { CorkedWriter, encodeFrame, frameReader, OP_PROPOSE, OP_READ, OP_STATUS, STATUS_ERROR_VALUE, STATUS_FAILED, STATUS_OK } from './wire.js'

const encoder = new TextEncoder()

function json (value: unknown): Uint8Array { return encoder.encode(JSON.stringify(value)) }

export function serveStream (service: KvService, socket: Socket, head: Buffer, principal: Principal, maxFrameBytes: number, rejections: EndpointRejections): void {
  const writer = new CorkedWriter(socket)
  // Each request's timeout, swept per connection; a closed connection aborts all it had pending.
  const deadlines = new PendingDeadlines(service.requestTimeoutMs)
  const remote = `${String(socket.remoteAddress)}:${String(socket.remotePort)}`
  socket.setNoDelay(true)
  socket.on('error', () => {})
  socket.once('close', () => { deadlines.abortAll(new QuorateError('ABORTED', 'the client connection closed')) })

  const refuse = (id: number, code: RejectionCode, message: string): void => {
    rejections.record(code, message, remote)
    writer.push(encodeFrame(id, STATUS_FAILED, json({ ok: false, code, message, leader: null })))
  }
  const answer = (id: number, controller: AbortController | null, promise: Promise<unknown>): void => {
    promise.then((result) => {
      if (controller !== null) deadlines.done(controller)
      if (isQuorateError(result)) writer.push(encodeFrame(id, STATUS_ERROR_VALUE, json({ code: result.code, message: result.message })))
      else writer.push(encodeFrame(id, STATUS_OK, jsonResultCodec.encode(result)))
    }, (err: unknown) => {
      if (controller !== null) deadlines.done(controller)
      writer.push(encodeFrame(id, STATUS_FAILED, json(failureResponse(err))))
    })
  }

  const onFrame = (id: number, op: number, body: Buffer): void => {
    switch (op) {
      case OP_PROPOSE: {
        if (principal.role !== 'read-write') { refuse(id, 'CLUSTER_FORBIDDEN', `${principal.name} (${principal.role}) may not propose`); return }
        if (!service.isRouted(body)) { refuse(id, 'CLUSTER_REQUEST_INVALID', 'the command names no mounted member'); return }
        // The body is a view into a socket chunk; the log keeps what is proposed, so copy it.
        // The request timeout applies to proposals too: without it a proposal made on a leader
        // cut off from its peers would stay pending until the partition heals. The sweep is one
        // timer per connection, not one per request; on timeout the answer is ABORTED (the
        // command may still commit, and the client's retry is deduplicated by its session).
        const controller = deadlines.start()
        answer(id, controller, service.proposeRouted(new Uint8Array(body), controller.signal))
        return
      }
      case OP_READ: {
        let keys: unknown
        try { keys = JSON.parse(body.toString('utf8')) } catch { keys = null }
        if (!Array.isArray(keys) || keys.length > MAX_READ_KEYS || !keys.every((k) => typeof k === 'string')) {
          refuse(id, 'CLUSTER_REQUEST_INVALID', `a read names a JSON array of at most ${MAX_READ_KEYS} string keys`)
          return
        }
        const controller = deadlines.start()
        answer(id, controller, service.readKeys(keys as string[], controller.signal))
        return
      }
      case OP_STATUS:
        answer(id, null, Promise.resolve(service.report(body[0] === 1)))
        return
      default:
        refuse(id, 'CLUSTER_REQUEST_INVALID', `unknown op ${op}`)
    }
  }
  const read = frameReader(maxFrameBytes, onFrame, (length) => {
    if (length < 5) refuse(0, 'CLUSTER_REQUEST_INVALID', `a frame length of ${length} is shorter than its header`)
    else refuse(0, 'CLUSTER_REQUEST_TOO_LARGE', `a frame of ${length} bytes is over the limit of ${maxFrameBytes}`)
    socket.end()
  })
  if (head.length > 0) read(head)
  socket.on('data', read)
}
