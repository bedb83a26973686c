/**
 * Demo service: appends a heartbeat line to $QUORATE_PARAM_BEATS/<instance>.log every 200 ms
 * (its "work", which survives it moving between nodes since the directory is shared), and
 * prints "ready" once it has written the first (its readiness check is that stdout line).
 */
import { appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { startBeats } from './beat-file.js'

const log = join(process.env.QUORATE_PARAM_BEATS ?? '.', `${process.env.QUORATE_INSTANCE ?? 'ticker'}.log`)
let lines = 0
const tick = (): void => {
  appendFileSync(log, `${new Date().toISOString()} ${process.env.QUORATE_NODE ?? '?'} pid ${process.pid} token ${process.env.QUORATE_FENCE_TOKEN ?? '?'}\n`)
  lines++
}
tick()
setInterval(tick, 200)
startBeats(() => `${lines} lines written here`)
process.stdout.write('ready\n')
process.on('SIGTERM', () => { process.exit(0) })
