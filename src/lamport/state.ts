/**
 * The in-memory tuple state: positive and negative stamps per tuple, negative rules, the
 * sorted indexes, expiry of cancellation records and the change log that deltas are cut
 * from. Everything here is synchronous and deterministic: the same updates in the same
 * order produce the same state, which the Raft adapter relies on.
 *
 * Visibility: a tuple is visible iff it has a positive stamp `pos`, `pos > neg` (its
 * newest exact negative) and `pos >= ruleNeg` (the newest matching negative rule; equal
 * means "same transaction", where the assertion wins so a transaction can replace).
 *
 * Horizon invariant: every cancellation record with counter < `watermark` has been
 * expired, and every positive it cancelled has been dropped with it. So a positive below
 * the watermark that this replica does not hold may have been cancelled by a record it
 * no longer has; accepting it could resurrect a tuple, so it is refused
 * (TUPLE_HORIZON_EXCEEDED) unless it is cancelled anyway.
 */
import { QuorateError } from '../errors.js'
import { ExpiryHeap, type ExpiryItem } from './expiry-heap.js'
import { SortedKeys } from './sorted-keys.js'
import { compareStamps, formatStamp, maxStamp, type Stamp } from './stamp.js'
import { elementKeys, matches, patternKey, patternShape, tupleKey, type Pattern, type PatternShape, type Tuple } from './tuple.js'

export interface TupleEntry {
  readonly key: string
  readonly tuple: Tuple
  /** Element encodings (for secondary indexes and rule lookup). */
  readonly parts: readonly string[]
  pos: Stamp | null
  neg: Stamp | null
  /** Newest live negative rule matching this tuple (cached; kept current as rules arrive). */
  ruleNeg: Stamp | null
  /** State version of the last replicated change (deltas carry entries with seq > since). */
  seq: number
  /**
   * State version at which `neg` last changed. Expiring the record endangers only peers
   * whose cursor is below this (they never received it), not those that merely missed a
   * later re-assertion of the tuple.
   */
  negSeq: number
}

export interface Rule {
  readonly key: string
  readonly pattern: Pattern
  readonly shape: PatternShape
  /** Encoding of the pattern's leading literal fields: rules are looked up by it. */
  readonly prefix: string
  stamp: Stamp
  seq: number
}

/** An entry as exchanged in deltas and snapshots. */
export interface EntryRecord {
  readonly tuple: Tuple
  readonly pos: Stamp | null
  readonly neg: Stamp | null
}

export interface RuleRecord {
  readonly pattern: Pattern
  readonly stamp: Stamp
}

/** How a query reaches its tuples. `fields` null means the primary (tuple order) index. */
export interface QueryPlan {
  readonly fields: readonly number[] | null
  /** Leading index fields bound by literals: the scan covers only keys with that prefix. */
  readonly boundFields: number
}

export type VisibilityListener = (tuple: Tuple, visible: boolean, stamp: Stamp) => void

export function isVisible (e: TupleEntry): boolean {
  const pos = e.pos
  if (pos === null) return false
  if (e.neg !== null && compareStamps(pos, e.neg) <= 0) return false
  return e.ruleNeg === null || compareStamps(pos, e.ruleNeg) >= 0
}

class SecondaryIndex {
  readonly keys = new SortedKeys()
  readonly byKey = new Map<string, TupleEntry>()
  readonly #minLength: number

  constructor (readonly fields: readonly number[]) {
    this.#minLength = Math.max(...fields) + 1
  }

  keyOf (e: TupleEntry): string | null {
    if (e.parts.length < this.#minLength) return null
    let k = ''
    for (const f of this.fields) k += e.parts[f] as string
    return k + e.key
  }

  add (e: TupleEntry): void {
    const k = this.keyOf(e)
    if (k !== null && this.keys.insert(k)) this.byKey.set(k, e)
  }

  remove (e: TupleEntry): void {
    const k = this.keyOf(e)
    if (k !== null && this.keys.delete(k)) this.byKey.delete(k)
  }
}

export class TupleState {
  readonly #entries = new Map<string, TupleEntry>()
  readonly #primary = new SortedKeys()
  readonly #secondary: SecondaryIndex[]
  readonly #rules = new Map<string, Rule>()
  readonly #rulesByPrefix = new Map<string, Set<Rule>>()
  readonly #heap = new ExpiryHeap()
  readonly #horizon: number
  #visibleCount = 0
  #maxCounter = 0
  #watermark = 0
  #version = 0
  /** Highest seq of any cancellation record expired here: deltas from before it are unsafe. */
  #expiredSeq = 0
  /** Append-only (seq, key) log; an item is stale once its object has a newer seq. */
  #changes: Array<{ seq: number, key: string, rule: boolean }> = []
  readonly dirtyEntries = new Set<string>()
  readonly dirtyRules = new Set<string>()
  readonly #listeners = new Set<VisibilityListener>()

  constructor (horizon: number, indexes: ReadonlyArray<readonly number[]>) {
    this.#horizon = horizon
    this.#secondary = indexes.map((f) => new SecondaryIndex(f))
  }

  get version (): number { return this.#version }
  get maxCounter (): number { return this.#maxCounter }
  get watermark (): number { return this.#watermark }
  get expiredSeq (): number { return this.#expiredSeq }
  get visibleCount (): number { return this.#visibleCount }
  get entryCount (): number { return this.#entries.size }
  get ruleCount (): number { return this.#rules.size }

  onVisibility (listener: VisibilityListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /** Starts a batch of changes: they all get one new version. */
  begin (): number {
    return ++this.#version
  }

  entry (key: string): TupleEntry | undefined { return this.#entries.get(key) }
  rule (key: string): Rule | undefined { return this.#rules.get(key) }
  entries (): IterableIterator<TupleEntry> { return this.#entries.values() }
  rules (): IterableIterator<Rule> { return this.#rules.values() }

  // ---- applying updates ------------------------------------------------------------

  /** Raises the highest counter seen (which drives expiry and is persisted). */
  observe (stamp: Stamp): void {
    if (stamp.counter > this.#maxCounter) this.#maxCounter = stamp.counter
  }

  #logChange (key: string, rule: boolean, seq: number): void {
    this.#changes.push({ seq, key, rule })
  }

  #notify (e: TupleEntry, wasVisible: boolean): void {
    const now = isVisible(e)
    if (now === wasVisible) return
    this.#visibleCount += now ? 1 : -1
    const stamp = (now ? e.pos : maxStamp(e.neg, e.ruleNeg)) ?? (e.pos as Stamp)
    for (const l of this.#listeners) l(e.tuple, now, stamp)
  }

  #liveRuleNeg (parts: readonly string[], tuple: Tuple): Stamp | null {
    if (this.#rules.size === 0) return null
    let newest: Stamp | null = null
    let prefix = ''
    for (let i = 0; ; i++) {
      const set = this.#rulesByPrefix.get(prefix)
      if (set !== undefined) {
        for (const r of set) if (matches(r.pattern, tuple)) newest = maxStamp(newest, r.stamp)
      }
      if (i >= parts.length) return newest
      prefix += parts[i] as string
    }
  }

  #getOrCreate (tuple: Tuple, key: string | undefined): TupleEntry {
    const k = key ?? tupleKey(tuple)
    const existing = this.#entries.get(k)
    if (existing !== undefined) return existing
    const parts = elementKeys(tuple)
    const e: TupleEntry = { key: k, tuple, parts, pos: null, neg: null, ruleNeg: this.#liveRuleNeg(parts, tuple), seq: 0, negSeq: 0 }
    this.#entries.set(k, e)
    this.#primary.insert(k)
    for (const idx of this.#secondary) idx.add(e)
    return e
  }

  #deleteEntry (e: TupleEntry): void {
    this.#entries.delete(e.key)
    this.#primary.delete(e.key)
    for (const idx of this.#secondary) idx.remove(e)
    this.dirtyEntries.add(e.key)
  }

  #touch (e: TupleEntry, seq: number): void {
    e.seq = seq
    this.#logChange(e.key, false, seq)
    this.dirtyEntries.add(e.key)
  }

  /** Merges a positive and/or exact negative stamp for one tuple (a join: order-insensitive). */
  mergeEntry (tuple: Tuple, pos: Stamp | null, neg: Stamp | null, seq: number, key?: string): void {
    const e = this.#getOrCreate(tuple, key)
    const was = isVisible(e)
    let changed = false
    if (pos !== null && (e.pos === null || compareStamps(pos, e.pos) > 0)) {
      e.pos = pos
      this.observe(pos)
      changed = true
    }
    let lateCancel = false
    if (neg !== null && (e.neg === null || compareStamps(neg, e.neg) > 0)) {
      e.neg = neg
      e.negSeq = seq
      this.observe(neg)
      this.#heap.push({ counter: neg.counter, kind: 'negative', key: e.key })
      changed = true
      lateCancel = neg.counter < this.#watermark
    }
    // A positive below the watermark that is cancelled anyway is dropped at once: its
    // canceller may already be expired, and then nothing would ever collect it.
    if (e.pos !== null && e.pos.counter < this.#watermark && !isVisible(e)) {
      e.pos = null
      // A record that arrives already expired changes nothing peers could miss unless it
      // cancelled a positive held here (which peers may hold too): only then are their
      // cursors endangered.
      if (lateCancel && was) this.#expiredSeq = Math.max(this.#expiredSeq, seq)
    }
    if (lateCancel) e.neg = null
    if (e.pos === null && e.neg === null) this.#deleteEntry(e)
    else if (changed) this.#touch(e, seq)
    this.#notify(e, was)
  }

  /** Reinstates a stored entry exactly (reopening from storage). */
  restoreEntry (tuple: Tuple, pos: Stamp | null, neg: Stamp | null, seq: number): void {
    const e = this.#getOrCreate(tuple, undefined)
    e.pos = pos
    e.neg = neg
    e.seq = seq
    // The seq the record arrived at is not stored; the entry's seq is an upper bound (safe).
    e.negSeq = seq
    if (pos !== null) this.observe(pos)
    if (neg !== null) {
      this.observe(neg)
      this.#heap.push({ counter: neg.counter, kind: 'negative', key: e.key })
    }
    this.#logChange(e.key, false, seq)
    this.#notify(e, false)
  }

  /** Reinstates a stored rule exactly (reopening from storage). Restore rules before entries. */
  restoreRule (pattern: Pattern, stamp: Stamp, seq: number): void {
    this.applyNegative(pattern, stamp, seq)
  }

  /** After a restore: the change log in seq order, nothing dirty. */
  finishRestore (): void {
    this.#compactLog()
    this.dirtyEntries.clear()
    this.dirtyRules.clear()
  }

  /** Applies a negative: an exact tuple becomes a per-entry negative stamp, a pattern a rule. */
  applyNegative (pattern: Pattern, stamp: Stamp, seq: number, shape = patternShape(pattern)): void {
    if (shape.exactKey !== null) {
      this.mergeEntry(pattern as Tuple, null, stamp, seq, shape.exactKey)
      return
    }
    const key = patternKey(pattern)
    this.observe(stamp)
    if (stamp.counter < this.#watermark) {
      this.#lateRule(pattern, shape, stamp, seq)
      return
    }
    const existing = this.#rules.get(key)
    if (existing !== undefined && compareStamps(existing.stamp, stamp) >= 0) return
    let rule: Rule
    if (existing !== undefined) {
      existing.stamp = stamp
      rule = existing
    } else {
      let prefix = ''
      for (const k of shape.fieldKeys) { if (k === null) break; prefix += k }
      rule = { key, pattern, shape, prefix, stamp, seq }
      this.#rules.set(key, rule)
      let set = this.#rulesByPrefix.get(prefix)
      if (set === undefined) this.#rulesByPrefix.set(prefix, set = new Set())
      set.add(rule)
    }
    rule.seq = seq
    this.#logChange(key, true, seq)
    this.dirtyRules.add(key)
    this.#heap.push({ counter: stamp.counter, kind: 'rule', key })
    for (const e of this.#scan(pattern, shape)) {
      if (e.ruleNeg !== null && compareStamps(e.ruleNeg, stamp) >= 0) continue
      const was = isVisible(e)
      e.ruleNeg = stamp
      this.#notify(e, was)
    }
  }

  /**
   * A rule that arrives already below the watermark: it cancels what it matches and is
   * dropped at once, as if it had expired here. Like a late exact record, it endangers
   * peers' cursors only if it hid a tuple that was visible (peers may still show it).
   */
  #lateRule (pattern: Pattern, shape: PatternShape, stamp: Stamp, seq: number): void {
    for (const e of this.#scan(pattern, shape)) {
      if (e.pos === null || compareStamps(e.pos, stamp) >= 0) continue
      const was = isVisible(e)
      e.pos = null
      if (was) this.#expiredSeq = Math.max(this.#expiredSeq, seq)
      this.#dropIfEmpty(e)
      this.#notify(e, was)
    }
  }

  // ---- horizon -----------------------------------------------------------------------

  /**
   * Throws TUPLE_HORIZON_EXCEEDED if accepting these positives could resurrect a tuple:
   * a positive below the watermark that this replica does not already hold and that
   * nothing (held or arriving in the same batch) cancels.
   */
  checkHorizon (positives: readonly EntryRecord[], rules: readonly RuleRecord[], context: string): void {
    const w = this.#watermark
    for (const p of positives) {
      if (p.pos === null || p.pos.counter >= w) continue
      const key = tupleKey(p.tuple)
      const held = this.#entries.get(key)
      if (held?.pos != null && compareStamps(held.pos, p.pos) >= 0) continue
      let cancel = maxStamp(p.neg, held?.neg ?? null)
      if (cancel !== null && compareStamps(cancel, p.pos) >= 0) continue
      cancel = held !== undefined ? held.ruleNeg : this.#liveRuleNeg(elementKeys(p.tuple), p.tuple)
      for (const r of rules) if (matches(r.pattern, p.tuple)) cancel = maxStamp(cancel, r.stamp)
      if (cancel !== null && compareStamps(cancel, p.pos) > 0) continue
      throw new QuorateError('TUPLE_HORIZON_EXCEEDED',
        `${context} carries a positive stamped ${formatStamp(p.pos)}, older than this replica's cancellation horizon (counter ${w}); resync from a full snapshot`,
        { details: { watermark: w, stamp: p.pos } })
    }
  }

  /** Raises the watermark (to a snapshot's); the next `expire` acts on it. */
  raiseWatermark (w: number): void {
    if (w > this.#watermark) this.#watermark = w
  }

  /** True if this positive is below the watermark and would be invisible: it is dropped. */
  isBelowHorizon (stamp: Stamp): boolean {
    return stamp.counter < this.#watermark
  }

  /**
   * Advances the watermark to `maxCounter - horizon` and expires every cancellation record
   * below it, dropping the positives they cancelled (which are invisible, so no tuple
   * changes visibility).
   */
  expire (): void {
    const target = Math.max(this.#watermark, this.#maxCounter - this.#horizon)
    this.#watermark = target
    for (let item = this.#heap.popBelow(target); item !== undefined; item = this.#heap.popBelow(target)) {
      if (item.kind === 'negative') this.#expireNegative(item.key, target)
      else this.#expireRule(item.key, target)
    }
  }

  /**
   * Expires the records with counter <= `bound` for which `stable` holds (a mirrored
   * store: the rule is causal stability, see progress.ts, and the watermark stays 0).
   */
  expireStable (bound: number, stable: (stamp: Stamp) => boolean): void {
    const later: ExpiryItem[] = []
    for (let item = this.#heap.popBelow(bound + 1); item !== undefined; item = this.#heap.popBelow(bound + 1)) {
      const stamp = item.kind === 'negative' ? this.#entries.get(item.key)?.neg : this.#rules.get(item.key)?.stamp
      if (stamp == null || stamp.counter !== item.counter) continue // superseded or gone
      if (!stable(stamp)) { later.push(item); continue }
      if (item.kind === 'negative') this.#expireNegative(item.key, item.counter + 1)
      else this.#expireRule(item.key, item.counter + 1)
    }
    for (const item of later) this.#heap.push(item)
  }

  #expireNegative (key: string, w: number): void {
    const e = this.#entries.get(key)
    if (e === undefined || e.neg === null || e.neg.counter >= w) return
    if (e.pos !== null && compareStamps(e.pos, e.neg) <= 0) e.pos = null
    e.neg = null
    if (e.negSeq > this.#expiredSeq) this.#expiredSeq = e.negSeq
    this.#dropIfEmpty(e)
  }

  #expireRule (key: string, w: number): void {
    const rule = this.#rules.get(key)
    if (rule === undefined || rule.stamp.counter >= w) return
    const cancelled: TupleEntry[] = []
    for (const e of this.#scan(rule.pattern, rule.shape)) {
      if (e.pos !== null && compareStamps(e.pos, rule.stamp) < 0) cancelled.push(e)
    }
    for (const e of cancelled) {
      e.pos = null
      this.#dropIfEmpty(e)
    }
    this.#rules.delete(key)
    const set = this.#rulesByPrefix.get(rule.prefix)
    set?.delete(rule)
    if (set?.size === 0) this.#rulesByPrefix.delete(rule.prefix)
    if (rule.seq > this.#expiredSeq) this.#expiredSeq = rule.seq
    this.dirtyRules.add(key)
  }

  #dropIfEmpty (e: TupleEntry): void {
    if (e.pos === null && e.neg === null) this.#deleteEntry(e)
    else this.dirtyEntries.add(e.key)
  }

  // ---- queries -----------------------------------------------------------------------

  plan (shape: PatternShape): QueryPlan {
    const keys = shape.fieldKeys
    let boundPrimary = 0
    while (boundPrimary < keys.length && keys[boundPrimary] !== null) boundPrimary++
    let best: QueryPlan = { fields: null, boundFields: boundPrimary }
    for (const idx of this.#secondary) {
      let bound = 0
      for (const f of idx.fields) {
        if (f >= keys.length || keys[f] === null) break
        bound++
      }
      if (bound > best.boundFields) best = { fields: idx.fields, boundFields: bound }
    }
    return best
  }

  /** Every entry (visible or not) matching the pattern, found by an index prefix scan. */
  #scan (pattern: Pattern, shape: PatternShape): TupleEntry[] {
    const out: TupleEntry[] = []
    if (shape.exactKey !== null) {
      const e = this.#entries.get(shape.exactKey)
      if (e !== undefined) out.push(e)
      return out
    }
    const plan = this.plan(shape)
    const keys = shape.fieldKeys
    if (plan.fields === null) {
      let prefix = ''
      for (let i = 0; i < plan.boundFields; i++) prefix += keys[i] as string
      this.#primary.scanPrefix(prefix, (k) => {
        const e = this.#entries.get(k) as TupleEntry
        if (matches(pattern, e.tuple)) out.push(e)
      })
    } else {
      const idx = this.#secondary.find((s) => s.fields === plan.fields) as SecondaryIndex
      let prefix = ''
      for (let i = 0; i < plan.boundFields; i++) prefix += keys[plan.fields[i] as number] as string
      idx.keys.scanPrefix(prefix, (k) => {
        const e = idx.byKey.get(k) as TupleEntry
        if (matches(pattern, e.tuple)) out.push(e)
      })
    }
    return out
  }

  /** Visible entries matching the pattern, in index order. */
  query (pattern: Pattern, shape: PatternShape, limit = Infinity): TupleEntry[] {
    const out: TupleEntry[] = []
    for (const e of this.#scan(pattern, shape)) {
      if (out.length >= limit) break
      if (isVisible(e)) out.push(e)
    }
    return out
  }

  // ---- deltas ------------------------------------------------------------------------

  /** Entries and rules changed after version `since`, oldest change first. */
  changedSince (since: number): { entries: TupleEntry[], rules: Rule[] } {
    const log = this.#changes
    let lo = 0
    let hi = log.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((log[mid] as { seq: number }).seq <= since) lo = mid + 1
      else hi = mid
    }
    const entries: TupleEntry[] = []
    const rules: Rule[] = []
    for (let i = lo; i < log.length; i++) {
      const c = log[i] as { seq: number, key: string, rule: boolean }
      if (c.rule) {
        const r = this.#rules.get(c.key)
        if (r !== undefined && r.seq === c.seq) rules.push(r)
      } else {
        const e = this.#entries.get(c.key)
        if (e !== undefined && e.seq === c.seq) entries.push(e)
      }
    }
    if (log.length > 1024 && log.length > 2 * (this.#entries.size + this.#rules.size)) this.#compactLog()
    return { entries, rules }
  }

  #compactLog (): void {
    const live: Array<{ seq: number, key: string, rule: boolean }> = []
    for (const e of this.#entries.values()) if (e.seq > 0) live.push({ seq: e.seq, key: e.key, rule: false })
    for (const r of this.#rules.values()) live.push({ seq: r.seq, key: r.key, rule: true })
    live.sort((a, b) => a.seq - b.seq)
    this.#changes = live
  }

  // ---- restore -----------------------------------------------------------------------

  /** Drops everything (before loading a snapshot or reopening from storage). */
  reset (): void {
    for (const key of this.#entries.keys()) this.dirtyEntries.add(key)
    for (const key of this.#rules.keys()) this.dirtyRules.add(key)
    this.#entries.clear()
    this.#primary.clear()
    for (const idx of this.#secondary) { idx.keys.clear(); idx.byKey.clear() }
    this.#rules.clear()
    this.#rulesByPrefix.clear()
    this.#heap.clear()
    this.#changes = []
    this.#visibleCount = 0
    this.#maxCounter = 0
    this.#watermark = 0
  }

  /** Restores counters saved with the data (version never goes backwards). */
  restoreMeta (meta: { version: number, maxCounter: number, watermark: number, expiredSeq: number }): void {
    this.#version = Math.max(this.#version, meta.version)
    this.#maxCounter = Math.max(this.#maxCounter, meta.maxCounter)
    this.#watermark = Math.max(this.#watermark, meta.watermark)
    this.#expiredSeq = Math.max(this.#expiredSeq, meta.expiredSeq)
  }
}
