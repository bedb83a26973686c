/** Driving a ManualClock from async tests: timers one at a time, promise chains settled between. */
import type { ManualClock } from '../src/testing/manual-clock.js'

/** Lets every promise chain that can progress without time passing do so (`turns` event-loop turns). */
export async function settleTurns (turns = 1): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => { setImmediate(resolve) })
}

/** Advances `clock` by `ms`, firing timers one at a time and settling after each. */
export async function runVirtual (clock: ManualClock, ms: number, turns = 1): Promise<void> {
  const target = clock.now() + ms
  for (;;) {
    await settleTurns(turns)
    const due = clock.nextDue()
    if (due === undefined || due > target) break
    clock.runNext()
  }
  clock.advance(target - clock.now())
  await settleTurns(turns)
}
