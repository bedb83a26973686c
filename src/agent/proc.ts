/**
 * What the agent asks the operating system about processes it did not necessarily spawn in
 * this life: whether a pid is still the process it started (pid plus the kernel's start time,
 * so a recycled pid is never adopted or signalled), and signals to a whole process group.
 *
 * Linux-specific where it reads /proc; elsewhere `processStartTime` returns undefined and the
 * agent falls back to pid liveness alone (documented in docs/agent.md).
 */
import { readFile } from 'node:fs/promises'

/**
 * The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat), or
 * undefined if the process does not exist (or /proc is unavailable). The command name (field
 * 2) may contain spaces and parentheses, so fields are counted from the last ')'.
 */
export async function processStartTime (pid: number): Promise<string | undefined> {
  let stat: string
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  } catch { return undefined }
  return parseStartTime(stat)
}

/** Field 22 (starttime) of a /proc/<pid>/stat line, or undefined if the line is malformed. */
export function parseStartTime (stat: string): string | undefined {
  const close = stat.lastIndexOf(')')
  if (close < 0) return undefined
  // After ") " come fields 3 (state), 4, ...; starttime is field 22, so index 19.
  const fields = stat.slice(close + 2).split(' ')
  const value = fields[19]
  return value !== undefined && /^\d+$/.test(value) ? value : undefined
}

/** The state letter of /proc/<pid>/stat (Z for a zombie), or undefined. */
export async function processState (pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
  } catch { return undefined }
}

/** True if a process with this pid exists (even if owned by another user). */
export function pidExists (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * True if `pid` is still the process that was started at `startTime` (undefined: unknown,
 * where /proc is unavailable — then pid existence alone decides) and not a zombie.
 */
export async function isSameProcess (pid: number, startTime: string | undefined): Promise<boolean> {
  const now = await processStartTime(pid)
  if (now === undefined) return startTime === undefined && pidExists(pid)
  if (startTime !== undefined && now !== startTime) return false
  return (await processState(pid)) !== 'Z'
}

/** True if any process is left in process group `pgid`. */
export function groupExists (pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Sends `signal` to every process of group `pgid`; false if the group is gone. */
export function signalGroup (pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch {
    return false
  }
}
