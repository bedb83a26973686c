/**
 * A min-heap of items keyed by due time, shared by `MemoryNetwork` (messages in flight) and
 * `ManualClock` (pending timers).
 *
 * Items due at the same time come out in the order they were pushed (a sequence number
 * breaks ties), which is what makes a seeded simulation replay exactly. The heap lives in
 * three parallel arrays so that a push allocates nothing once the arrays have grown.
 */
export class DueQueue<T> {
  readonly #due: number[] = []
  readonly #seq: number[] = []
  readonly #items: Array<T | undefined> = []
  #nextSeq = 0

  get size (): number { return this.#items.length }

  /** Due time of the earliest item, or Infinity if empty. */
  peekDue (): number {
    return this.#items.length === 0 ? Infinity : this.#due[0]!
  }

  /** The earliest item without removing it; undefined if empty. */
  peek (): T | undefined { return this.#items[0] }

  push (due: number, item: T): void {
    let i = this.#items.length
    this.#due.push(due)
    this.#seq.push(this.#nextSeq++)
    this.#items.push(item)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.#before(i, parent)) break
      this.#swap(i, parent)
      i = parent
    }
  }

  /** Removes and returns the earliest item; undefined if empty. */
  pop (): T | undefined {
    const n = this.#items.length
    if (n === 0) return undefined
    const top = this.#items[0]
    this.#swap(0, n - 1)
    this.#due.pop()
    this.#seq.pop()
    this.#items.pop()
    this.#siftDown(0)
    return top
  }

  /** Removes every item and returns how many there were. */
  clear (): number {
    const n = this.#items.length
    this.#due.length = 0
    this.#seq.length = 0
    this.#items.length = 0
    return n
  }

  #siftDown (i: number): void {
    const n = this.#items.length
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) return
      const right = left + 1
      const child = right < n && this.#before(right, left) ? right : left
      if (!this.#before(child, i)) return
      this.#swap(i, child)
      i = child
    }
  }

  #before (i: number, j: number): boolean {
    const di = this.#due[i]!
    const dj = this.#due[j]!
    return di < dj || (di === dj && this.#seq[i]! < this.#seq[j]!)
  }

  #swap (i: number, j: number): void {
    if (i === j) return
    const d = this.#due[i]!; this.#due[i] = this.#due[j]!; this.#due[j] = d
    const s = this.#seq[i]!; this.#seq[i] = this.#seq[j]!; this.#seq[j] = s
    const t = this.#items[i]; this.#items[i] = this.#items[j]; this.#items[j] = t
  }
}
