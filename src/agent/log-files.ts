/**
 * Where an instance's stdout and stderr go: files the process writes itself (opened with
 * O_APPEND and passed as its stdio), not pipes through the agent, so a service keeps running
 * and logging while the agent restarts and a re-adopted process needs nothing from the agent.
 * Rotation is copy-truncate (as logrotate's copytruncate): `x.log` is copied to `x.log.1`
 * (older ones shifted, `maxFiles` kept) and truncated; O_APPEND makes the process's next write
 * land at the new end. Lines written between the copy and the truncate are lost — the price of
 * not having to signal the service (documented in docs/agent.md).
 */
import { copyFile, open, rename, rm, stat, truncate } from 'node:fs/promises'

/** Opens `path` for appending and returns its fd (for spawn's stdio). */
export async function openLog (path: string): Promise<{ fd: number, close: () => Promise<void> }> {
  const handle = await open(path, 'a', 0o640)
  return { fd: handle.fd, close: async () => { await handle.close() } }
}

/** Rotates `path` if it is larger than `maxBytes`; true if it rotated. */
export async function rotateIfLarge (path: string, maxBytes: number, maxFiles: number): Promise<boolean> {
  let size: number
  try { size = (await stat(path)).size } catch { return false }
  if (size <= maxBytes) return false
  if (maxFiles <= 0) {
    await truncate(path, 0)
    return true
  }
  await rm(`${path}.${maxFiles}`, { force: true })
  for (let i = maxFiles - 1; i >= 1; i--) {
    try { await rename(`${path}.${i}`, `${path}.${i + 1}`) } catch {}
  }
  await copyFile(path, `${path}.1`)
  await truncate(path, 0)
  return true
}
