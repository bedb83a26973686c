/**
 * Ctrl-C during the demo's HA story (demo/ha.ts), once the services run: once (the story stops
 * and cleans up: agents stop their services, nodes stop) or twice (the demo exits at once; its
 * exit hook SIGKILLs the nodes, the agents and the services' process groups). Either way no
 * node, agent or service outlives it and the temporary directory (which holds the CA key) is gone.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync } from 'node:fs'
import { noneAlive, nodePids, runDemo, storageDir } from './demo-helpers.js'

const CASES = [
  { signals: 1, name: 'one SIGINT once the services run stops the story, exits 130' },
  { signals: 2, name: 'a second SIGINT once the services run exits at once, 130, and still' }
]

for (const { signals, name } of CASES) {
  test(`${name} leaves no node, agent or service running, and no directory`, async () => {
    let sent = false
    const run = await runDemo(['--duration', '30'], (line, pid) => {
      if (!sent && /services placed by the coordinator and running/.test(line)) {
        sent = true
        for (let i = 0; i < signals; i++) process.kill(pid, 'SIGINT')
      }
    })
    assert.ok(sent, run.stdout + run.stderr)
    assert.equal(run.code, 130, run.stdout + run.stderr)
    const pids = nodePids(run.stdout)
    assert.ok(pids.length >= 9, `nodes, agents and services named: ${pids.join(' ')}`)
    await noneAlive(pids)
    assert.not.ok(existsSync(storageDir(run.stdout)), 'the temporary directory was removed')
  })
}

test.run()
