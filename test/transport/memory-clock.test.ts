import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isQuorateError } from '../../src/errors.js'
import { ManualClock } from '../../src/testing/manual-clock.js'

test('ManualClock: time moves only when advanced, and timers fire at their due time', () => {
  const clock = new ManualClock(100)
  const fired: number[] = []
  clock.setTimeout(() => fired.push(clock.now()), 10)
  clock.setTimeout(() => fired.push(clock.now()), 5)
  assert.is(clock.now(), 100)
  clock.advance(7)
  assert.equal(fired, [105])
  assert.is(clock.now(), 107)
  clock.advance(3)
  assert.equal(fired, [105, 110])
})

test('ManualClock: timers due at the same instant fire in the order they were set', () => {
  const clock = new ManualClock()
  const fired: string[] = []
  for (const name of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) clock.setTimeout(() => fired.push(name), 3)
  clock.setTimeout(() => fired.push('early'), 1)
  clock.runUntilIdle()
  assert.equal(fired, ['early', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'])
})

test('ManualClock: a zero-delay timer set by a firing timer runs at the same instant, after those already due', () => {
  const clock = new ManualClock()
  const fired: string[] = []
  clock.setTimeout(() => { fired.push('first'); clock.setTimeout(() => fired.push(`nested@${clock.now()}`), 0) }, 2)
  clock.setTimeout(() => fired.push('second'), 2)
  clock.advance(2)
  assert.equal(fired, ['first', 'second', 'nested@2'])
})

test('ManualClock: cleared timers never fire and are not pending', () => {
  const clock = new ManualClock()
  let fired = 0
  const t = clock.setTimeout(() => { fired++ }, 1)
  clock.setTimeout(() => { fired += 10 }, 2)
  clock.clearTimeout(t)
  clock.clearTimeout(t)
  assert.is(clock.pendingTimers, 1)
  assert.is(clock.nextDue(), 2)
  clock.runUntilIdle()
  assert.is(fired, 10)
  assert.is(clock.pendingTimers, 0)
  assert.is(clock.nextDue(), undefined)
})

test('ManualClock: runNext jumps to the earliest timer; runUntilIdle stops a periodic timer with CLOCK_NOT_IDLE', () => {
  const clock = new ManualClock()
  const tick = (): void => { clock.setTimeout(tick, 10) }
  tick()
  assert.ok(clock.runNext())
  assert.is(clock.now(), 10)
  try {
    clock.runUntilIdle({ limit: 50 })
    assert.unreachable('a periodic timer never goes idle')
  } catch (err) {
    assert.ok(isQuorateError(err, 'CLOCK_NOT_IDLE'))
  }
  assert.is(clock.now(), 510)
  assert.not.ok(new ManualClock().runNext())
})

test('ManualClock: a negative or non-finite advance is refused with OPTIONS_INVALID', () => {
  const clock = new ManualClock()
  for (const bad of [-1, Number.NaN, Infinity]) {
    try {
      clock.advance(bad)
      assert.unreachable(`advance(${bad})`)
    } catch (err) {
      assert.ok(isQuorateError(err, 'OPTIONS_INVALID'))
    }
  }
  assert.is(clock.now(), 0)
})

test('ManualClock: a timer that advances the clock itself never makes time go back', () => {
  const clock = new ManualClock()
  clock.setTimeout(() => { clock.advance(50) }, 5)
  clock.advance(10)
  assert.is(clock.now(), 55)
})

test.run()
