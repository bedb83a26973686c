/**
 * The failure detector in the seeded simulator (virtual time, 3 to 7 nodes per seed): gray
 * failures give no false death and no accusation by the starved node, a partition shorter
 * than the grace period kills nobody and a longer one exactly one node once, process and
 * machine crashes are detected, failover holds deaths back, and the checker catches both
 * deliberately broken detectors. A run is a pure function of its seed.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import {
  checkDetectorRun, crashScenario, grayFailureScenario, longPartitionScenario, runDetectorSim, shortPartitionScenario, withSingleton
} from '../../src/testing/agent-sim/index.js'
import type { DetectorSimOptions } from '../../src/testing/agent-sim/index.js'

const SEEDS = Array.from({ length: 25 }, (_, i) => 1600 + i)

function problemsOver (scenario: (seed: number) => DetectorSimOptions, mutations?: DetectorSimOptions['mutations']): string[] {
  const out: string[] = []
  for (const seed of SEEDS) {
    const options = scenario(seed)
    for (const p of checkDetectorRun(runDetectorSim(mutations === undefined ? options : { ...options, mutations })).problems) out.push(`seed ${seed}: ${p}`)
  }
  return out
}

test('gray failures (a 3 s CPU stall on one node, 5% loss on one node\'s links): no false death, no accusation by the starved node', () => {
  assert.equal(problemsOver(grayFailureScenario), [])
  // The stall is noticed: the stalled node is suspected (and not killed) in every seed.
  for (const seed of SEEDS.slice(0, 5)) {
    const options = grayFailureScenario(seed)
    const stalled = options.faults!.find((f) => f.kind === 'stall')! as { node: string }
    assert.ok(runDetectorSim(options).verdicts.some((v) => v.node === stalled.node && v.status === 'suspect'), `seed ${seed}`)
  }
})

test('a partition shorter than the grace period gives no death', () => {
  assert.equal(problemsOver(shortPartitionScenario), [])
  for (const seed of SEEDS) assert.not.ok(runDetectorSim(shortPartitionScenario(seed)).verdicts.some((v) => v.status === 'dead'), `seed ${seed}`)
})

test('a partition longer than the grace period gives exactly one death, and the node is alive again after it heals', () => {
  assert.equal(problemsOver(longPartitionScenario), [])
  for (const seed of SEEDS) {
    const options = longPartitionScenario(seed)
    const run = runDetectorSim(options)
    const check = checkDetectorRun(run)
    assert.equal(check.partitionDeaths.map((p) => p.deaths), [1], `seed ${seed}`)
    const p = options.faults![0]! as { node: string, at: number, ms: number }
    const last = run.verdicts.filter((v) => v.node === p.node).at(-1)!
    assert.is(last.status, 'alive', `seed ${seed}: ${p.node} is alive after the partition`)
  }
})

test('a killed process (connections refused) is declared dead within 1.5 s; a silent machine within deadAfterSilenceMs + 1 s', () => {
  assert.equal(problemsOver(crashScenario), [])
  assert.equal(problemsOver((s) => crashScenario(s, 'machine')), [])
  const process = SEEDS.map((s) => checkDetectorRun(runDetectorSim(crashScenario(s))).detection[0]!.ms!)
  const machine = SEEDS.map((s) => checkDetectorRun(runDetectorSim(crashScenario(s, 'machine'))).detection[0]!.ms!)
  assert.ok(Math.max(...process) <= 1500, `process crashes: ${process.join(',')}`)
  assert.ok(Math.max(...machine) <= 6000, `machine crashes: ${machine.join(',')}`)
})

test('after a coordinator failover, a crash is not declared dead before the grace period ends', () => {
  for (const seed of SEEDS.slice(0, 10)) {
    const base = crashScenario(seed)
    const crash = base.faults![0]!
    const run = runDetectorSim({ ...base, faults: [...base.faults!, { kind: 'failover', at: crash.at }] })
    const dead = run.verdicts.find((v) => v.status === 'dead')!
    assert.ok(dead.at >= crash.at + 5000, `seed ${seed}: dead ${dead.at - crash.at} ms after the crash`)
  }
})

test('a singleton: no replacement for a short partition or gray failure, exactly one for a long partition or a crash, and one instance kept after reconnect', () => {
  for (const scenario of [shortPartitionScenario, grayFailureScenario, longPartitionScenario, crashScenario]) assert.equal(problemsOver((s) => withSingleton(scenario(s))), [])
  for (const seed of SEEDS.slice(0, 10)) {
    const short = runDetectorSim(withSingleton(shortPartitionScenario(seed))).singleton!
    assert.equal([short.replacements, short.runningAtEnd.length], [0, 1], `seed ${seed} short`)
    const long = runDetectorSim(withSingleton(longPartitionScenario(seed)))
    const host = long.options.singleton!.host
    assert.is(long.singleton!.replacements, 1, `seed ${seed} long`)
    assert.equal(long.singleton!.runningAtEnd.length, 1)
    assert.not.ok(long.singleton!.runningAtEnd.includes(host), 'the instance kept is the replacement, the old host\'s was stopped')
    assert.ok(long.singleton!.timeline.some((t) => t.node === host && !t.running), 'the old host stopped its instance after reconnecting')
  }
  // A coordinator that forgets to stop the old instance leaves two running: caught.
  assert.ok(problemsOver((s) => withSingleton(longPartitionScenario(s), 'no-stop-on-reconnect')).some((p) => p.includes('runs on 2 nodes')))
})

test('one seed reproduces a run exactly', () => {
  assert.equal(runDetectorSim(grayFailureScenario(7)), runDetectorSim(grayFailureScenario(7)))
  assert.not.equal(runDetectorSim(grayFailureScenario(7)).verdicts, runDetectorSim(grayFailureScenario(8)).verdicts)
})

test('mutants: the checker catches a detector without local-health awareness, one that kills on suspicion, one that flaps and one that never confirms', () => {
  const noLocal = problemsOver(grayFailureScenario, { noLocalHealth: true })
  assert.ok(noLocal.some((p) => p.includes('starved accusation')), 'a starved node accusing others is caught')
  const eager = problemsOver(grayFailureScenario, { deadOnSuspicion: true })
  assert.ok(eager.some((p) => p.includes('false death')), 'a death on suspicion alone is caught')
  const eagerPartition = problemsOver(shortPartitionScenario, { deadOnSuspicion: true })
  assert.ok(eagerPartition.some((p) => p.includes('false death')), 'a death inside a short partition is caught')
  const flapping = problemsOver(longPartitionScenario, { flapping: true })
  assert.ok(flapping.some((p) => /partition of .* deaths, expected exactly 1/.test(p)), 'a node declared dead again and again is caught')
  const deaf = problemsOver(crashScenario, { ignoreGossip: true })
  assert.ok(deaf.some((p) => p.includes('never declared dead')), 'a detector that never confirms is caught')
})

test.run()
