/**
 * `npm start` end to end with its HA story (demo/ha.ts): services placed by the coordinator,
 * a worker SIGKILLed, detected and its services moved, the coordinator's host SIGKILLed and a
 * new coordinator under a higher fencing token, every service running once, no acknowledged
 * write or event lost; then the Raft part (leader killed, new leader before the writes it
 * acknowledged). The lines come in causal order, the run exits 0 and no process — node,
 * agent or service — outlives it. Ctrl-C during the story: demo-ha-interrupt.test.ts.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync } from 'node:fs'
import { noneAlive, nodePids, runDemo, storageDir } from './demo-helpers.js'

/** The index of `re` in `text` at or after `from`; fails the test if it is missing. */
function at (text: string, re: RegExp, from = 0): number {
  const m = re.exec(text.slice(from))
  assert.ok(m !== null, `${String(re)} after offset ${from} in:\n${text}`)
  return from + m.index
}

test('the HA story: placed, worker killed, detected, moved, coordinator host killed, higher token, all running once, nothing lost, exit 0', async () => {
  const run = await runDemo(['--duration', '4'])
  const out = run.stdout
  assert.equal(run.code, 0, out + run.stderr)
  // Causal order of the story.
  const first = at(out, /coordinator started on n\d under lease quorate\/coordinator, fencing token \d+/)
  const placed = at(out, /services placed by the coordinator and running: counter-1 on w\d \(pid \d+\), counter-2 on w\d \(pid \d+\), ticker-1 on w\d \(pid \d+\)/, first)
  const killed = at(out, /SIGKILL worker (w\d): its agent and its services/, placed)
  const victim = /SIGKILL worker (w\d)/.exec(out)![1]!
  const dead = at(out, new RegExp(`${victim} declared dead by \\S+ heartbeat monitor .*, \\d+ ms after the kill`), killed)
  const decided = at(out, new RegExp(`decision #\\d+ \\(token \\d+\\): node-failure: ${victim} dead; ${victim}: moved \\d instance`), dead)
  const moved = at(out, /moved and running again: .* \(decided \d+ ms, running \d+ ms after the kill/, decided)
  const hostKill = at(out, /SIGKILL n\d \(pid \d+\): the coordinator's host \(fencing token (\d+)\)/, moved)
  const takeover = at(out, /new coordinator on n\d: fencing token (\d+) > (\d+), \d+ ms after the kill/, hostKill)
  const [, newer, older] = /new coordinator on n\d: fencing token (\d+) > (\d+)/.exec(out)!
  assert.ok(Number(newer) > Number(older), `tokens increase: ${older!} -> ${newer!}`)
  assert.equal(/the coordinator's host \(fencing token (\d+)\)/.exec(out)![1], older)
  // The Raft part, with the leader line before the first write its term acknowledged.
  const leaderKill = at(out, /SIGKILL leader n\d \(pid \d+\)/, takeover)
  const ack = /writes acknowledged again \(leader (n\d), answered by n\d\)/.exec(out.slice(leaderKill))
  assert.ok(ack !== null, out)
  const elected = out.indexOf(`${ack[1]!} is leader (term`, leaderKill)
  assert.ok(elected >= 0 && elected < leaderKill + ack.index, `the leader line for ${ack[1]!} precedes "writes acknowledged again":\n${out}`)
  at(out, /linearizable read of all \d+ acknowledged keys: every value present/, leaderKill)
  at(out, /all 3 replicas agree at applied index \d+/, leaderKill)
  // The closing checks.
  const once = /every service running exactly once, where the graph places it: counter-1@(w\d), counter-2@(w\d), ticker-1@(w\d)/.exec(out)
  assert.ok(once !== null, out)
  assert.not.ok(once.slice(1).includes(victim), `nothing runs on the killed worker ${victim}`)
  assert.is.not(once[1], once[2], 'anti-affinity: the two counters on different workers')
  assert.match(out, /events: [1-9]\d* acknowledged to the agents, \d+ decisions, 0 still queued, lost: 0/)
  const tokens = /fencing tokens of successive coordinators: ([\d >-]+) \(increasing\)/.exec(out)
  assert.ok(tokens !== null, out)
  assert.match(out, /Summary \(every check passed\)/)
  const pids = nodePids(out)
  assert.ok(pids.length >= 3 + 3 + 3, `nodes, agents and services named: ${pids.join(' ')}`)
  await noneAlive(pids)
  assert.not.ok(existsSync(storageDir(out)), 'the temporary directory was removed')
})

test.run()
