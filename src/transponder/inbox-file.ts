/**
 * The CommandInbox's persistence hook on disk: one JSON line per finished command, appended
 * and fsync'd before the reply leaves the agent (persist before acknowledging), so an agent
 * that replied and then restarted answers a replayed command id with the same reply instead
 * of running it again, and never admits an older fence than one it acted on.
 *
 * Writes are group-committed: records finished while a write is in flight go out together in
 * the next append + fsync. A torn last line (a crash mid-append) is dropped on load — its
 * reply never left the agent; a damaged line before it is AGENT_STATE_INVALID (the agent
 * refuses to guess). When the file holds twice `capacity` records it is rewritten (atomically,
 * writeFileDurably) with the newest `capacity`, the ones the inbox remembers.
 *
 * Invariant: an fsync error rejects every record of that write, so their replies are not sent
 * (the inbox forgets those ids and a resend runs again) — the agent never acknowledges what
 * it could not make durable.
 */
import { open } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { QuorateError } from '../errors.js'
import { readIfExists, writeFileDurably } from '../agent/durable-file.js'
import { CommandInbox, COMMAND_INBOX_DEFAULTS } from './command-inbox.js'
import type { InboxRecord } from './command-inbox.js'

function parseRecords (text: string, path: string): InboxRecord[] {
  const lines = text.split('\n')
  const records: InboxRecord[] = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line === '') continue
    try {
      const r = JSON.parse(line) as InboxRecord
      if (typeof r.id !== 'string' || typeof r.lease !== 'string' || !Number.isSafeInteger(r.token) || typeof r.reply !== 'object' || r.reply === null) throw new Error('not an inbox record')
      records.push(r)
    } catch (err) {
      if (i === lines.length - 1) break // a torn append: its reply never left the agent
      throw new QuorateError('AGENT_STATE_INVALID', `Command inbox file ${path}: line ${i + 1} is damaged`, { cause: err })
    }
  }
  return records
}

/** A CommandInbox restored from `path` (created if absent) whose records are persisted there. */
export async function openCommandInbox (path: string, options: { capacity?: number } = {}): Promise<{ inbox: CommandInbox, close: () => Promise<void> }> {
  const capacity = options.capacity ?? COMMAND_INBOX_DEFAULTS.capacity
  const records = parseRecords(await readIfExists(path) ?? '', path)
  const recent = records.slice(-capacity)
  // Start from a clean file holding what the inbox remembers (drops a torn tail and old records).
  await writeFileDurably(path, recent.map((r) => JSON.stringify(r) + '\n').join(''))
  let file: FileHandle = await open(path, 'a', 0o600)
  let lines = recent.length
  let kept: InboxRecord[] = [...recent]
  let queued: Array<{ record: InboxRecord, resolve: () => void, reject: (e: unknown) => void }> = []
  let writing: Promise<void> | undefined

  const writeQueued = async (): Promise<void> => {
    while (queued.length > 0) {
      const group = queued
      queued = []
      try {
        await file.appendFile(group.map((q) => JSON.stringify(q.record) + '\n').join(''))
        await file.datasync()
        lines += group.length
        kept.push(...group.map((q) => q.record))
        if (lines >= 2 * capacity) {
          kept = kept.slice(-capacity)
          await file.close()
          await writeFileDurably(path, kept.map((r) => JSON.stringify(r) + '\n').join(''))
          file = await open(path, 'a', 0o600)
          lines = kept.length
        }
        for (const q of group) q.resolve()
      } catch (err) {
        for (const q of group) q.reject(err)
      }
    }
    writing = undefined
  }

  const inbox = new CommandInbox({
    capacity,
    persist: async (record) => await new Promise<void>((resolve, reject) => {
      queued.push({ record, resolve, reject })
      writing ??= writeQueued()
    })
  })
  inbox.restore(recent)
  return { inbox, close: async () => { await writing; await file.close() } }
}
