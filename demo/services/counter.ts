/**
 * Demo service: serves a counter over HTTP on 127.0.0.1:$QUORATE_PARAM_PORT (each GET adds
 * one and answers the count and who served it). Its readiness check is the TCP port.
 */
import { createServer } from 'node:http'
import { startBeats } from './beat-file.js'

let count = 0
const port = Number(process.env.QUORATE_PARAM_PORT)
const server = createServer((_req, res) => {
  count++
  res.end(JSON.stringify({ count, node: process.env.QUORATE_NODE, pid: process.pid }) + '\n')
})
server.listen(port, '127.0.0.1', () => { startBeats(() => `port ${port}, ${count} requests`) })
process.on('SIGTERM', () => { server.close(); process.exit(0) })
