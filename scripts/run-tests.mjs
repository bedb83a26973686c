#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) in its own process, two at a
// time (CI has 2 cores), and ends with the one line CI reads: `N passed, M failed`.
// A file that dies before printing uvu's summary counts as one failure. Each file's duration
// is printed; one above SLOW_FILE_S is flagged, long before it nears the kill limit. A file
// that printed its summary but does not exit within EXIT_GRACE_MS left a handle open (a
// socket, a timer, a child): it is killed and fails with that said, not left to the kill limit.
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { availableParallelism } from 'node:os'

const root = new URL('..', import.meta.url).pathname
const testRoot = join(root, 'dist', 'test')
const filter = process.argv.slice(2)

function collect (dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...collect(path))
    else if (name.endsWith('.test.js')) out.push(path)
  }
  return out
}

const files = collect(testRoot).filter((f) => filter.length === 0 || filter.some((p) => f.includes(p)))
const parallel = Math.max(1, Math.min(2, availableParallelism()))
// A test file that hangs must fail CI, not stall it.
const FILE_TIMEOUT_MS = Number(process.env.QUORATE_TEST_FILE_TIMEOUT_MS ?? 300_000)
/** A file slower than this is warned about: split it (the limit is for a busy machine). */
const SLOW_FILE_S = 60
/** How long a file may take to exit after uvu printed its summary. */
const EXIT_GRACE_MS = Number(process.env.QUORATE_TEST_EXIT_GRACE_MS ?? 30_000)
const slow = []
let passed = 0
let failed = 0
let skipped = 0
const failures = []

function runFile (file) {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(process.execPath, ['--enable-source-maps', file], {
      env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    const killer = setTimeout(() => {
      out += `\n[run-tests] killed after ${FILE_TIMEOUT_MS} ms\n`
      child.kill('SIGKILL')
    }, FILE_TIMEOUT_MS)
    let lingering = null
    child.stdout.on('data', (d) => {
      out += d
      if (lingering === null && /Total:\s+\d+/.test(out)) {
        lingering = setTimeout(() => {
          out += `\n[run-tests] printed its summary but did not exit within ${EXIT_GRACE_MS} ms: a handle (socket, timer, child process) was left open; killed\n`
          child.kill('SIGKILL')
        }, EXIT_GRACE_MS)
      }
    })
    child.stderr.on('data', (d) => { out += d })
    child.on('close', (code) => {
      clearTimeout(killer)
      if (lingering !== null) clearTimeout(lingering)
      const total = /Total:\s+(\d+)/.exec(out)
      const pass = /Passed:\s+(\d+)/.exec(out)
      const skip = /Skipped:\s+(\d+)/.exec(out)
      const name = relative(root, file)
      const elapsed = (Date.now() - started) / 1000
      const secs = elapsed.toFixed(1)
      const warn = elapsed > SLOW_FILE_S ? ` WARNING: over ${SLOW_FILE_S}s` : ''
      if (warn !== '') slow.push(`${name} (${secs}s)`)
      if (total && pass) {
        const t = Number(total[1])
        const p = Number(pass[1])
        const s = skip ? Number(skip[1]) : 0
        passed += p
        skipped += s
        const f = Math.max(0, t - p - s)
        failed += f
        if (f > 0 || code !== 0) {
          if (f === 0) failed += 1
          failures.push({ name, out })
        }
        console.log(`${f > 0 || code !== 0 ? 'FAIL' : 'ok  '} ${name} (${p}/${t} in ${secs}s)${warn}`)
      } else {
        failed += 1
        failures.push({ name, out })
        console.log(`FAIL ${name} (no summary, exit ${code}, ${secs}s)${warn}`)
      }
      resolve()
    })
  })
}

const queue = files.slice()
await Promise.all(Array.from({ length: parallel }, async () => {
  while (queue.length > 0) await runFile(queue.shift())
}))

if (slow.length > 0) {
  console.log(`\nWARNING: ${slow.length} file(s) took more than ${SLOW_FILE_S}s; split them: ${slow.join(', ')}`)
}
for (const { name, out } of failures) {
  console.log(`\n===== ${name} =====\n${out}`)
}
console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`)
process.exitCode = failed > 0 || files.length === 0 ? 1 : 0
