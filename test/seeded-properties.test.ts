/**
 * Every fast-check run in the tests and in src/testing passes an explicit `seed`, so a
 * property that fails on one machine fails on every machine, and `npm test` cannot turn red
 * (or green) by the luck of a random seed. This test reads the sources and names each call
 * that leaves the seed out.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Every .ts file below `dir`. */
function sources (dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).sort().map((f) => join(dir, f))
}

/** The text of the call starting at `open` (just after its opening parenthesis), up to its closing one. */
function callArguments (source: string, open: number): string {
  let depth = 1
  let quote: string | null = null
  let i = open
  for (; i < source.length && depth > 0; i++) {
    const c = source[i]!
    if (quote !== null) {
      if (c === '\\') i++
      else if (c === quote) quote = null
    } else if (c === '\'' || c === '"' || c === '`') {
      quote = c
    } else if (c === '(' || c === '{' || c === '[') {
      depth++
    } else if (c === ')' || c === '}' || c === ']') {
      depth--
    }
  }
  return source.slice(open, i - 1)
}

/** Line numbers of fc.assert / fc.check / fc.sample calls whose arguments name no `seed`. */
export function unseededCalls (source: string): number[] {
  const lines: number[] = []
  const call = /\bfc\.(assert|check|sample)\(/g
  for (let m = call.exec(source); m !== null; m = call.exec(source)) {
    const lineStart = source.lastIndexOf('\n', m.index) + 1
    // Examples in doc comments are not runs.
    if (/^\s*(\*|\/\/)/.test(source.slice(lineStart, m.index))) continue
    if (!/\bseed\s*:/.test(callArguments(source, m.index + m[0].length))) {
      lines.push(source.slice(0, m.index).split('\n').length)
    }
  }
  return lines
}

test('the detector finds unseeded calls and accepts seeded ones', () => {
  assert.equal(unseededCalls('fc.assert(fc.property(a, (x) => { f(x) }))'), [1])
  assert.equal(unseededCalls('x\nfc.check(p, { numRuns: 5 })'), [2])
  assert.equal(unseededCalls('fc.sample(arb, 10)'), [1])
  assert.equal(unseededCalls('await fc.assert(fc.asyncProperty(a, async () => { g(")") }), { seed: 3, numRuns: 5 })'), [])
  assert.equal(unseededCalls(' * fc.assert(fc.property(a, f))'), [])
})

test('every fast-check run in test/ and src/testing/ has an explicit seed', () => {
  const found: string[] = []
  const self = join(root, 'test', 'seeded-properties.test.ts')
  // This file's own samples are strings, not runs.
  const files = [...sources(join(root, 'test')), ...sources(join(root, 'src', 'testing'))].filter((f) => f !== self)
  for (const file of files) {
    for (const line of unseededCalls(readFileSync(file, 'utf8'))) found.push(`${relative(root, file)}:${line}`)
  }
  assert.equal(found, [], `pass { seed, numRuns } to: ${found.join(', ')}`)
})

test.run()
