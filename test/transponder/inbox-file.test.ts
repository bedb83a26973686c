/**
 * The command inbox on disk: an agent that ran a command and restarted answers the replay
 * with the first reply without running it again, keeps the highest fence, drops a torn last
 * line, refuses a damaged earlier one, and keeps the file bounded.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openCommandInbox } from '../../src/transponder/index.js'
import type { AgentCommand, AgentReply } from '../../src/agent/index.js'
import { QuorateError } from '../../src/errors.js'

const cmd = (id: string, token = 1): AgentCommand => ({ kind: 'status', id, fence: { lease: 'quorate/coordinator', token } })

test('a command id survives the agent\'s restart: the replay answers the first reply without running', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-inbox-'))
  const path = join(dir, 'inbox.jsonl')
  let runs = 0
  const run = async (c: AgentCommand): Promise<AgentReply> => { runs++; return { id: c.id, ok: true, instances: [] } }
  const first = await openCommandInbox(path)
  const replies = await Promise.all([first.inbox.execute(cmd('c1', 3), run), first.inbox.execute(cmd('c2', 3), run)])
  await first.close()
  const again = await openCommandInbox(path) // the agent restarted
  assert.equal(await again.inbox.execute(cmd('c1', 3), run), replies[0])
  assert.is(runs, 2)
  assert.is(again.inbox.highestToken('quorate/coordinator'), 3)
  assert.is((await again.inbox.execute(cmd('c9', 2), run)).ok, false, 'an older fence than persisted is refused')
  await again.close()
  await rm(dir, { recursive: true, force: true })
})

test('a torn last line is dropped, a damaged earlier one refuses to open, and the file stays bounded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-inbox-'))
  const path = join(dir, 'inbox.jsonl')
  const run = async (c: AgentCommand): Promise<AgentReply> => ({ id: c.id, ok: true, instances: [] })
  const a = await openCommandInbox(path, { capacity: 3 })
  for (let i = 0; i < 10; i++) await a.inbox.execute(cmd(`c${i}`), run)
  await a.close()
  const lines = (await readFile(path, 'utf8')).trim().split('\n')
  assert.ok(lines.length <= 6, `${lines.length} lines for capacity 3`)
  await appendFile(path, '{"id":"torn","rep')
  const b = await openCommandInbox(path, { capacity: 3 })
  await b.close()
  assert.not.match(await readFile(path, 'utf8'), 'torn')
  await writeFile(path, 'garbage\n' + lines.join('\n') + '\n')
  const err = await openCommandInbox(path).catch((e: unknown) => e)
  assert.ok(err instanceof QuorateError && err.code === 'AGENT_STATE_INVALID', String(err))
  await rm(dir, { recursive: true, force: true })
})

test.run()
