/**
 * The agent simulator's agenda: events ordered by virtual time, ties broken by the order
 * they were scheduled, so one seed always replays the same interleaving.
 */
export interface Scheduled<T> { readonly at: number, readonly seq: number, readonly item: T }

export class Agenda<T> {
  readonly #heap: Array<Scheduled<T>> = []
  #seq = 0

  get size (): number { return this.#heap.length }

  /** Schedules `item` at `at`; `seq` keeps an event's place when it is postponed. */
  add (at: number, item: T, seq = this.#seq++): void {
    const h = this.#heap
    const entry = { at, seq, item }
    h.push(entry)
    let i = h.length - 1
    while (i > 0) {
      const up = (i - 1) >> 1
      if (!before(entry, h[up]!)) break
      h[i] = h[up]!
      i = up
    }
    h[i] = entry
  }

  take (): Scheduled<T> | undefined {
    const h = this.#heap
    if (h.length === 0) return undefined
    const first = h[0]!
    const last = h.pop()!
    if (h.length > 0) {
      let i = 0
      for (;;) {
        let child = 2 * i + 1
        if (child >= h.length) break
        if (child + 1 < h.length && before(h[child + 1]!, h[child]!)) child++
        if (!before(h[child]!, last)) break
        h[i] = h[child]!
        i = child
      }
      h[i] = last
    }
    return first
  }
}

function before (a: Scheduled<unknown>, b: Scheduled<unknown>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}
