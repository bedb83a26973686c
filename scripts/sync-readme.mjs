#!/usr/bin/env node
// Regenerates the README's generated parts from their sources (run after `npm run build`):
// the error-code table from ERROR_CODES and the quickstart from examples/quickstart.mjs.
// test/readme.test.ts fails when they drift; run this to fix it.
import { readFileSync, writeFileSync } from 'node:fs'
import { ERROR_CODES } from '../dist/src/errors.js'

const root = new URL('..', import.meta.url).pathname
export function errorTable () {
  const rows = Object.entries(ERROR_CODES).map(([code, meaning]) => `| \`${code}\` | ${meaning} |`)
  return ['| code | meaning |', '| --- | --- |', ...rows].join('\n')
}
export function quickstart () {
  return '```js\n' + readFileSync(root + 'examples/quickstart.mjs', 'utf8').trimEnd() + '\n```'
}
export function graphExample () {
  return '```js\n' + readFileSync(root + 'examples/graph.mjs', 'utf8').trimEnd() + '\n```'
}
export function between (text, name, body) {
  const begin = `<!-- ${name}:begin -->`
  const end = `<!-- ${name}:end -->`
  const a = text.indexOf(begin)
  const b = text.indexOf(end)
  if (a < 0 || b < a) throw new Error(`README has no ${name} markers`)
  return text.slice(0, a + begin.length) + '\n' + body + '\n' + text.slice(b)
}
export function synced (text) {
  return between(between(between(text, 'errors', errorTable()), 'quickstart', quickstart()), 'graph-example', graphExample())
}
if (import.meta.url === `file://${process.argv[1]}`) {
  const path = root + 'README.md'
  writeFileSync(path, synced(readFileSync(path, 'utf8')))
  console.log('README.md synced')
}
