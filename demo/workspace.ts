/**
 * The demo's directory: a temporary one it creates and always removes (it holds the cluster
 * CA's private key), or the user's `--dir`, which it keeps.
 *
 * Removal happens on the normal path (`remove()` after the cluster closed) and, as a last
 * resort, synchronously in a process 'exit' hook: that hook also runs on `process.exit()` (a
 * second Ctrl-C) and after an uncaught exception, where no `finally` runs. Before removing
 * the directory there, the hook SIGKILLs the node processes it was told about, so none of
 * them recreates files in it afterwards.
 */
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export class DemoWorkspace {
  readonly dir: string
  /** True when the demo created the directory (and so removes it). */
  readonly owned: boolean
  readonly #pids: () => ReadonlyArray<number | null>
  #removed = false
  readonly #onExit = (): void => { this.removeSync() }

  private constructor (dir: string, owned: boolean, pids: () => ReadonlyArray<number | null>) {
    this.dir = dir
    this.owned = owned
    this.#pids = pids
    if (owned) process.on('exit', this.#onExit)
  }

  /**
   * `dir` if given (kept), else a new temporary directory (removed). `pids` names the node
   * processes still running, for the exit hook.
   */
  static async create (dir: string | undefined, pids: () => ReadonlyArray<number | null> = () => []): Promise<DemoWorkspace> {
    if (dir !== undefined) return new DemoWorkspace(dir, false, pids)
    return new DemoWorkspace(await mkdtemp(join(tmpdir(), 'quorate-demo-')), true, pids)
  }

  /** Removes the directory if the demo created it. Idempotent. */
  async remove (): Promise<void> {
    if (!this.owned || this.#removed) return
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 })
    this.#markRemoved()
  }

  /** The exit hook's path: kill the nodes, then remove the directory synchronously. */
  removeSync (): void {
    if (!this.owned || this.#removed) return
    for (const pid of this.#pids()) {
      if (pid === null) continue
      try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ }
    }
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 })
    this.#markRemoved()
  }

  #markRemoved (): void {
    this.#removed = true
    process.off('exit', this.#onExit)
  }
}
