/**
 * What every demo service does besides its job: every BEAT_MS it rewrites
 * `$QUORATE_PARAM_BEATS/<instance>@<node>.json` with its pid, node, the fencing token it was
 * started under and the time. The demo counts the fresh records of live processes to check
 * that each service runs exactly once, and kills a dead worker's services by their pids.
 * A record is written to a temporary name and renamed, so a reader never sees half of one.
 */
import { renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const BEAT_MS = 100

export interface BeatRecord {
  readonly instance: string
  readonly node: string
  readonly pid: number
  readonly token: number
  readonly at: number
  readonly detail: string
}

/** Starts beating; `detail()` adds what the service wants to show (its counter, its line count). */
export function startBeats (detail: () => string): void {
  const dir = process.env.QUORATE_PARAM_BEATS
  const instance = process.env.QUORATE_INSTANCE ?? 'unknown'
  const node = process.env.QUORATE_NODE ?? 'unknown'
  if (dir === undefined) throw new Error('demo service: the "beats" parameter is missing')
  const file = join(dir, `${instance}@${node}.json`)
  const beat = (): void => {
    const record: BeatRecord = { instance, node, pid: process.pid, token: Number(process.env.QUORATE_FENCE_TOKEN ?? 0), at: Date.now(), detail: detail() }
    writeFileSync(`${file}.tmp`, JSON.stringify(record))
    renameSync(`${file}.tmp`, file)
  }
  beat()
  setInterval(beat, BEAT_MS)
}
