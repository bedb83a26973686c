/**
 * A tape-compatible `test` for abstract-level's own suite (`abstract-level/test`), hosted on
 * uvu: each tape test becomes one uvu test, so the suite's results are counted in uvu's
 * summary like every other test. Only what the suite uses is implemented: t.is, isNot,
 * same, ok, pass, fail, throws, doesNotThrow, plan and end, with tape's ending rules (a
 * test ends at t.end(), when its plan is met, or when its returned promise settles if it
 * has no plan). Assertion counts are kept so the summary can report them too.
 */
import * as assert from 'node:assert/strict'
import type { Test } from 'uvu'

export interface TapeCounts { tests: number, assertions: number }

interface Assertions {
  plan (n: number): void
  end (err?: unknown): void
  is (a: unknown, b: unknown, msg?: string): void
  isNot (a: unknown, b: unknown, msg?: string): void
  same (a: unknown, b: unknown, msg?: string): void
  ok (value: unknown, msg?: string): void
  pass (msg?: string): void
  fail (msg?: string | Error): void
  throws (fn: () => unknown, expected?: unknown, msg?: string): void
  doesNotThrow (fn: () => unknown, msg?: string): void
}

type TapeBody = (t: Assertions) => unknown

/** Runs one tape test body; resolves when it ended, rejects with its first failure. */
function runTape (name: string, body: TapeBody, counts: TapeCounts): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let planned: number | null = null
    let count = 0
    let ended = false
    const finish = (err?: unknown): void => {
      if (ended) return
      ended = true
      if (err !== undefined) reject(err)
      else resolve()
    }
    const failed = (err: unknown): void => {
      if (ended) return
      if (err instanceof Error) err.message = `${name}: ${err.message}`
      finish(err ?? new Error(`${name}: failed`))
    }
    const counted = (check: () => void): void => {
      if (ended) { failed(new Error(`assertion after the test ended (${planned === null ? 'end' : `plan ${planned}`})`)); return }
      count++
      counts.assertions++
      try { check() } catch (err) { failed(err); return }
      if (planned !== null && count > planned) failed(new Error(`plan ${planned} exceeded`))
      else if (planned !== null && count === planned) finish()
    }
    const t: Assertions = {
      plan: (n) => { planned = n; if (n === 0) finish() },
      end: (err) => {
        if (err !== undefined && err !== null) { failed(err); return }
        if (planned !== null && count !== planned) { failed(new Error(`plan ${planned} != count ${count}`)); return }
        finish()
      },
      is: (a, b, msg) => { counted(() => assert.ok(Object.is(a, b), `${msg ?? 'should be equal'}: ${String(a)} !== ${String(b)}`)) },
      isNot: (a, b, msg) => { counted(() => assert.ok(!Object.is(a, b), msg ?? 'should not be equal')) },
      same: (a, b, msg) => { counted(() => assert.deepStrictEqual(a, b, msg)) },
      ok: (value, msg) => { counted(() => assert.ok(value, msg ?? 'should be truthy')) },
      pass: () => { counted(() => {}) },
      fail: (msg) => { counted(() => { throw msg instanceof Error ? msg : new Error(msg ?? 'fail') }) },
      throws: (fn, expected, msg) => {
        counted(() => {
          let threw = false
          try { fn() } catch (err) {
            threw = true
            if (typeof expected === 'function' && !(expected as (e: unknown) => boolean)(err)) throw new Error(`${msg ?? 'throws'}: unexpected error ${String(err)}`)
          }
          if (!threw) throw new Error(msg ?? 'should throw')
        })
      },
      doesNotThrow: (fn, msg) => { counted(() => { try { fn() } catch (err) { throw new Error(`${msg ?? 'should not throw'}: ${String(err)}`) } }) }
    }
    let returned: unknown
    try { returned = body(t) } catch (err) { failed(err); return }
    if (returned instanceof Promise) {
      returned.then(() => { if (planned === null) finish() }, failed)
    }
  })
}

/** A tape-like `test(name, body)` that registers each test on `suite` (a uvu suite); `afterEach` runs after every test. */
export function tapeOnUvu (suite: Test, counts: TapeCounts, afterEach: () => Promise<void>): (name: string, body: TapeBody) => void {
  return (name, body) => {
    counts.tests++
    suite(name, async () => {
      try {
        await runTape(name, body, counts)
      } finally {
        await afterEach()
      }
    })
  }
}
