#!/usr/bin/env node
// Measures the memory a LevelStateMachine snapshot needs: fills a classic-level database with
// --mib MiB of 1 KiB values, then streams snapshot() into restore() of a second machine over
// its own classic-level database, as a snapshot transfer to a new follower does, sampling the
// process's resident set size. Prints the RSS before the transfer, the peak during it and their
// ratio. Run after `npm run build`: node scripts/level-snapshot-memory.mjs --mib 1024
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ClassicLevel } from 'classic-level'
import { LevelStateMachine, encodeLevelCommand } from '../dist/src/level/index.js'

const { values } = parseArgs({ options: { mib: { type: 'string', default: '1024' } } })
const mib = Number(values.mib)
const dirs = [mkdtempSync(join(tmpdir(), 'quorate-snap-src-')), mkdtempSync(join(tmpdir(), 'quorate-snap-dst-'))]
const source = new LevelStateMachine({ db: new ClassicLevel(dirs[0]) })
const target = new LevelStateMachine({ db: new ClassicLevel(dirs[1]) })
const MiB = 1024 * 1024
try {
  const value = new Uint8Array(1024).fill(7)
  let index = 0
  for (let written = 0; written < mib * MiB;) {
    const ops = []
    for (let i = 0; i < 1024; i++, written += 1024) ops.push({ type: 'put', key: new TextEncoder().encode(`key${String(index * 1024 + i).padStart(12, '0')}`), value })
    await source.apply(encodeLevelCommand({ op: 'batch', ops }), ++index)
  }
  global.gc?.()
  const before = process.memoryUsage().rss
  let peak = before
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 20)
  const t0 = performance.now()
  let bytes = 0
  await target.restore((async function * () { for await (const chunk of source.snapshot()) { bytes += chunk.length; yield chunk } })())
  clearInterval(sampler)
  peak = Math.max(peak, process.memoryUsage().rss)
  const seconds = (performance.now() - t0) / 1000
  console.log(JSON.stringify({ databaseMiB: mib, streamedMiB: +(bytes / MiB).toFixed(1), seconds: +seconds.toFixed(1), rssBeforeMiB: +(before / MiB).toFixed(1), rssPeakMiB: +(peak / MiB).toFixed(1), peakOverBefore: +(peak / before).toFixed(2), restoredIndex: target.lastIndex }))
} finally {
  await source.close()
  await target.close()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
}
