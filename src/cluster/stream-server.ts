/**
 * The server half of the binary protocol (wire.ts) on a connection the HTTP endpoint upgraded
 * after authenticating it: frames are answered as their proposals and reads complete, in any
 * order, and every answer of one event-loop turn is encoded straight into one buffer and leaves
 * in one socket write (FrameBatch): no Buffer per answer, and a JSON result is stringified once,
 * into that buffer.
 *
 * Invariants: a malformed or refused frame is answered FAILED and the connection lives on; a
 * frame over the size limit is answered CLUSTER_REQUEST_TOO_LARGE and the connection closed
 * (the stream cannot be resynchronised); every request is answered within the service's
 * request timeout (an expired one ABORTED, its late result dropped: deadlines.ts); reads are
 * also cancelled then, and when the connection closes; proposals are never cancelled (they
 * commit, or the node drops them once it learns a newer term's entry, or closes), so their
 * answers to a closed connection are simply not written.
 */
import type { Socket } from 'node:net'
import { QuorateError, isQuorateError } from '../errors.js'
import { RESULT_TAG_BYTES, RESULT_TAG_JSON, RESULT_TAG_UNDEFINED } from '../sessions/codec.js'
import type { Principal } from './auth.js'
import { PendingDeadlines } from './deadlines.js'
import type { KvService } from './kv-service.js'
import { failureResponse, MAX_READ_KEYS } from './protocol.js'
import type { EndpointRejections, RejectionCode } from './rejections.js'
import { FrameBatch, frameReader, OP_PROPOSE, OP_READ, OP_STATUS, STATUS_ERROR_VALUE, STATUS_FAILED, STATUS_OK } from './wire.js'

const UNDEFINED_RESULT = Uint8Array.of(RESULT_TAG_UNDEFINED)
const BYTES_RESULT_TAG = Uint8Array.of(RESULT_TAG_BYTES)

/**
 * Appends the OK answer to `id`: `result` as jsonResultCodec encodes it (what the client's
 * decode expects), written into the batch. A result JSON cannot represent answers FAILED.
 */
function pushResult (batch: FrameBatch, id: number, result: unknown): void {
  if (result === undefined) { batch.push(id, STATUS_OK, UNDEFINED_RESULT); return }
  if (result instanceof Uint8Array) { batch.push(id, STATUS_OK, result, BYTES_RESULT_TAG); return }
  let text: string | undefined
  try { text = JSON.stringify(result) } catch { text = undefined }
  if (typeof text === 'string') batch.pushText(id, STATUS_OK, text, RESULT_TAG_JSON)
  else batch.pushText(id, STATUS_FAILED, JSON.stringify(failureResponse(new QuorateError('NODE_FAILED', 'the state machine answered a result JSON cannot represent'))))
}

/** A request awaiting its answer; reads carry the controller that cancels them at their deadline. */
interface Pending { readonly id: number, readonly controller: AbortController | null }

export function serveStream (service: KvService, socket: Socket, head: Buffer, principal: Principal, maxFrameBytes: number, rejections: EndpointRejections): void {
  const batch = new FrameBatch(socket)
  // Each request's timeout, swept per connection. An expired request is answered ABORTED at
  // once (the command may still commit; the client's retry is deduplicated by its session)
  // and its late result dropped; a read is also cancelled. Proposals get no signal at all:
  // aborting one only settled its promise early, at the price of an AbortController and a
  // listener per proposal. A closed connection expires the rest (their answers are not written).
  const deadlines = new PendingDeadlines<Pending>(service.requestTimeoutMs, (p, reason) => {
    p.controller?.abort(reason)
    batch.pushText(p.id, STATUS_FAILED, JSON.stringify(failureResponse(new QuorateError('ABORTED', `no answer within the node's request timeout of ${service.requestTimeoutMs} ms (a proposal may still commit)`, { cause: reason }))))
  })
  const remote = `${String(socket.remoteAddress)}:${String(socket.remotePort)}`
  socket.setNoDelay(true)
  socket.on('error', () => {})
  socket.once('close', () => { deadlines.expireAll(new QuorateError('ABORTED', 'the client connection closed')) })

  const refuse = (id: number, code: RejectionCode, message: string): void => {
    rejections.record(code, message, remote)
    batch.pushText(id, STATUS_FAILED, JSON.stringify({ ok: false, code, message, leader: null }))
  }
  const answer = (pending: Pending, promise: Promise<unknown>): void => {
    deadlines.start(pending)
    promise.then((result) => {
      if (!deadlines.done(pending)) return
      if (isQuorateError(result)) batch.pushText(pending.id, STATUS_ERROR_VALUE, JSON.stringify({ code: result.code, message: result.message }))
      else pushResult(batch, pending.id, result)
    }, (err: unknown) => {
      if (!deadlines.done(pending)) return
      batch.pushText(pending.id, STATUS_FAILED, JSON.stringify(failureResponse(err)))
    })
  }

  const onFrame = (id: number, op: number, body: Buffer): void => {
    switch (op) {
      case OP_PROPOSE: {
        if (principal.role !== 'read-write') { refuse(id, 'CLUSTER_FORBIDDEN', `${principal.name} (${principal.role}) may not propose`); return }
        if (!service.isRouted(body)) { refuse(id, 'CLUSTER_REQUEST_INVALID', 'the command names no mounted member'); return }
        // The body is a view into a socket chunk; the log keeps what is proposed, so copy it.
        // The request timeout applies to proposals too: without it a proposal made on a leader
        // cut off from its peers would leave its client waiting until the partition heals.
        answer({ id, controller: null }, service.proposeRouted(new Uint8Array(body), null))
        return
      }
      case OP_READ: {
        let keys: unknown
        try { keys = JSON.parse(body.toString('utf8')) } catch { keys = null }
        if (!Array.isArray(keys) || keys.length > MAX_READ_KEYS || !keys.every((k) => typeof k === 'string')) {
          refuse(id, 'CLUSTER_REQUEST_INVALID', `a read names a JSON array of at most ${MAX_READ_KEYS} string keys`)
          return
        }
        const controller = new AbortController()
        answer({ id, controller }, service.readKeys(keys as string[], controller.signal))
        return
      }
      case OP_STATUS:
        answer({ id, controller: null }, Promise.resolve(service.report(body[0] === 1)))
        return
      default:
        refuse(id, 'CLUSTER_REQUEST_INVALID', `unknown op ${op}`)
    }
  }
  const read = frameReader(maxFrameBytes, onFrame, (length) => {
    if (length < 5) refuse(0, 'CLUSTER_REQUEST_INVALID', `a frame length of ${length} is shorter than its header`)
    else refuse(0, 'CLUSTER_REQUEST_TOO_LARGE', `a frame of ${length} bytes is over the limit of ${maxFrameBytes}`)
    batch.end()
  })
  if (head.length > 0) read(head)
  socket.on('data', read)
}
