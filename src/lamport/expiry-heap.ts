/**
 * A binary min-heap of cancellation records by Lamport counter, so that expiring every
 * record below the watermark costs O(log n) per record instead of a scan. Items can go
 * stale (the record was superseded or already removed); the consumer re-checks each one.
 */
export interface ExpiryItem {
  readonly counter: number
  readonly kind: 'negative' | 'rule'
  readonly key: string
}

export class ExpiryHeap {
  #items: ExpiryItem[] = []

  get size (): number { return this.#items.length }

  push (item: ExpiryItem): void {
    const a = this.#items
    a.push(item)
    let i = a.length - 1
    while (i > 0) {
      const parent = (i - 1) >>> 1
      if ((a[parent] as ExpiryItem).counter <= item.counter) break
      a[i] = a[parent] as ExpiryItem
      i = parent
    }
    a[i] = item
  }

  /** Removes and returns the smallest item if its counter is below `limit`. */
  popBelow (limit: number): ExpiryItem | undefined {
    const a = this.#items
    const top = a[0]
    if (top === undefined || top.counter >= limit) return undefined
    const last = a.pop() as ExpiryItem
    if (a.length > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= a.length) break
        const r = l + 1
        const c = r < a.length && (a[r] as ExpiryItem).counter < (a[l] as ExpiryItem).counter ? r : l
        if ((a[c] as ExpiryItem).counter >= last.counter) break
        a[i] = a[c] as ExpiryItem
        i = c
      }
      a[i] = last
    }
    return top
  }

  clear (): void { this.#items = [] }
}
