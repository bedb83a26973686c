/**
 * Files the agent must not lose or half-write across its own crash: the fence file (the
 * highest token per lease, and the replies to remembered command ids) and the instance
 * records (pid files). Written to a temporary name, fsync'd, renamed over the old file and the
 * directory fsync'd, so a reader after any crash sees either the old contents or the new, and
 * the new contents are on disk before the caller acts on them (persist before acting).
 */
import { open, rename, readFile, rm } from 'node:fs/promises'
import { dirname, join, basename } from 'node:path'

let sequence = 0

/** Replaces `path` with `data` atomically and durably. */
export async function writeFileDurably (path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${sequence++}.tmp`)
  const file = await open(tmp, 'w', 0o600)
  try {
    await file.writeFile(data)
    await file.sync()
  } finally { await file.close() }
  try {
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  await syncDirectory(dirname(path))
}

/** Makes a rename or unlink in `dir` durable. */
export async function syncDirectory (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try { await handle.sync() } finally { await handle.close() }
}

/** The file's text, or undefined if it does not exist. */
export async function readIfExists (path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}
