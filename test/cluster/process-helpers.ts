/** Shared by the cluster tests that check no process outlives its test. */

/** True while a process with this PID exists (EPERM: it exists but belongs to someone else). */
export function processAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
