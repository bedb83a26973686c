/** Shared by the cluster tests that check no process outlives its test. */
import { readFileSync } from 'node:fs'

/**
 * True while a process with this PID runs (EPERM: it exists but belongs to someone else).
 *
 * A zombie counts as dead: it has exited and holds nothing but its PID until its parent reaps
 * it. When the demo exits at once (second Ctrl-C), its SIGKILLed nodes are reparented to PID 1,
 * and in a container whose PID 1 is not an init that reaps orphans they stay zombies forever;
 * `kill(pid, 0)` still succeeds on them.
 */
export function processAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  return !isZombie(pid)
}

/** Linux: the state field of /proc/PID/stat (after the parenthesised command name) is Z or X. */
function isZombie (pid: number): boolean {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return false // no /proc (not Linux), or the process vanished between the two calls
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
  return state === 'Z' || state === 'X'
}
