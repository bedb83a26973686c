/**
 * scripts/bench-report.mjs: docs/benchmarks.md's measured tables are generated from
 * bench/results. The peers section comes from the current bench:peers result
 * (peers-runs.json), the round-1 peers table is gone, text outside the markers is kept, and an
 * unknown option is refused.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

const root = new URL('../../../', import.meta.url).pathname
const script = join(root, 'scripts', 'bench-report.mjs')
const run = promisify(execFile)

interface PeersRuns { systems: Record<string, { runs: Array<Array<{ concurrency: number, commitsPerSec: number }>> }> }

test('the peers section is rendered from peers-runs.json, and a changed result changes it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-bench-report-'))
  try {
    for (const f of ['peers-runs.json', 'storage-append.json', 'b2-tcp.json']) copyFileSync(join(root, 'bench', 'results', f), join(dir, f))
    const doc = join(dir, 'benchmarks.md')
    writeFileSync(doc, '# Benchmarks\n\nkept above\n\n<!-- bench:generated:start -->\nold\n<!-- bench:generated:end -->\n\n<!-- bench:peers:start -->\nold\n<!-- bench:peers:end -->\n\nkept below\n')
    const peers = JSON.parse(readFileSync(join(dir, 'peers-runs.json'), 'utf8')) as PeersRuns
    // Every round's row, so the median over the rounds is the changed figure.
    for (const round of peers.systems.quorate!.runs) round.find((r) => r.concurrency === 256)!.commitsPerSec = 123_457
    writeFileSync(join(dir, 'peers-runs.json'), JSON.stringify(peers))
    await run(process.execPath, [script, '--results', dir, '--doc', doc])
    const out = readFileSync(doc, 'utf8')
    assert.match(out, /kept above/)
    assert.match(out, /kept below/)
    assert.not.match(out, /\nold\n/)
    const section = out.slice(out.indexOf('<!-- bench:peers:start -->'))
    assert.match(section, /123,457\/s/, 'the changed B2 figure is in the peers table')
    assert.match(section, /#### Targets \(issue 20\)/)
    assert.not.match(out, /Peers side by side/, 'the round-1 table is no longer rendered')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('an unknown option is refused', async () => {
  const failed = await run(process.execPath, [script, '--help']).then(() => null, (err: { code: number, stderr: string }) => err)
  assert.ok(failed !== null && failed.code !== 0)
  assert.match(failed.stderr, /unknown option/)
})

test.run()
