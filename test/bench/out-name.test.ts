/** A benchmark refuses an `--out` that is not a plain result name at once, not after a long run fails to write it. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const script = (name: string): string => fileURLToPath(new URL(`../../bench/${name}.js`, import.meta.url))

for (const [bench, args] of [['client-cpu', ['--requests', '1']], ['transponder', ['--processes']], ['ha-b2', []]] as const) {
  test(`${bench} refuses --out with a path in it before measuring anything`, () => {
    for (const bad of ['/tmp/x', '../escape', 'a/b']) {
      const run = spawnSync(process.execPath, [script(bench), ...args, '--out', bad], { encoding: 'utf8', timeout: 60_000 })
      assert.ok(run.status !== 0 && run.status !== null, `${bench} --out ${bad}: exit ${String(run.status)}`)
      assert.match(run.stderr, /--out is a result name/)
      assert.match(run.stderr, bad)
    }
  })
}

test.run()
