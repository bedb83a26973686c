/**
 * The public surface: what `package.json` "exports" lets a user import. Test-only hooks
 * (mutants, the core behind a node) live in `quorate/testing` only, internals (argument
 * parsers, hashes, byte readers) in no entry, and the package ships no test code.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { RaftNode } from '../src/node/node.js'
import { RaftLog } from '../src/raft/log.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string, default: string }>
  files: string[]
  bin: Record<string, string>
  dependencies: Record<string, string>
  peerDependenciesMeta?: Record<string, { optional?: boolean }>
}

/** Names no public entry may export: test hooks outside quorate/testing, internals anywhere. */
const TEST_HOOKS = ['withMutations', 'coreOf', 'MUTANTS', 'searchMutant']
const INTERNALS = ['parseNodeProcessArgs', 'READY_PREFIX', 'kvStateHash', 'findFreePorts', 'ByteWriter', 'ByteReader', 'fnv1a', 'combineHashes', 'hashString', 'parseCommandLine']

function entries (): Array<[string, string]> {
  return Object.entries(pkg.exports).flatMap(([name, target]) => typeof target === 'string' ? [] : [[name, target.default] as [string, string]])
}

test('every export target and bin exists in the build', () => {
  for (const [name, file] of entries()) assert.ok(existsSync(join(root, file)), `${name} -> ${file}`)
  for (const [name, file] of Object.entries(pkg.bin)) {
    assert.ok(existsSync(join(root, file)), `${name} -> ${file}`)
    assert.ok(readFileSync(join(root, file), 'utf8').startsWith('#!/usr/bin/env node\n'), `${name} starts with a shebang`)
  }
})

test('no public entry exports internals, and only quorate/testing exports the test hooks', async () => {
  const found: string[] = []
  for (const [name, file] of entries()) {
    const names = Object.keys(await import(pathToFileURL(join(root, file)).href) as object)
    const forbidden = name === './testing' ? INTERNALS : [...INTERNALS, ...TEST_HOOKS]
    for (const n of names) if (forbidden.includes(n)) found.push(`${name} exports ${n}`)
  }
  assert.equal(found, [])
})

test('the node and the log carry no test-only members', () => {
  assert.not.ok('debugCore' in RaftNode.prototype)
  assert.is(RaftLog.prototype.truncate.length, 1, 'truncate takes no unsafe flag')
  const mainTypes = readFileSync(join(root, 'src', 'index.ts'), 'utf8')
  assert.not.match(mainTypes, /Mutations|test-hooks/)
  const nodeTypes = readFileSync(join(root, 'dist', 'src', 'node', 'node.d.ts'), 'utf8')
  assert.not.match(nodeTypes, /mutations\??:|debugCore/)
  const tupleTypes = readFileSync(join(root, 'dist', 'src', 'lamport', 'options.d.ts'), 'utf8')
  assert.not.match(/interface TupleStoreOptions \{[^}]*\}/.exec(tupleTypes)?.[0] ?? '', /mutations/, 'TupleStoreOptions has no test-only mutations field')
})

test('the package ships no test output and fast-check is an optional peer', () => {
  assert.ok(pkg.files.every((f) => !f.startsWith('dist/test') && f !== 'dist'), pkg.files.join(', '))
  assert.is(pkg.peerDependenciesMeta?.['fast-check']?.optional, true)
  for (const dev of ['fast-check', 'protobufjs']) assert.is(pkg.dependencies[dev], undefined, `${dev} is not a runtime dependency`)
})

/** Every package the compiled library imports at run time (type-only imports are erased by then). */
function runtimePackages (dir: string): Set<string> {
  const found = new Set<string>()
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) { for (const p of runtimePackages(path)) found.add(p); continue }
    if (!name.endsWith('.js')) continue
    const source = readFileSync(path, 'utf8')
    for (const m of source.matchAll(/^(?:import|export)\s[^'\n]*?from\s*['"]([^'"]+)['"]|^import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
      const spec = (m[1] ?? m[2] ?? m[3])!
      if (spec.startsWith('.')) continue
      if (spec.startsWith('node:')) continue
      found.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!)
    }
  }
  return found
}

test('the dependencies are exactly the packages the compiled library imports at run time (optional peers aside)', () => {
  const imported = runtimePackages(join(root, 'dist', 'src'))
  const optional = new Set(Object.keys(pkg.peerDependenciesMeta ?? {}))
  const declared = new Set(Object.keys(pkg.dependencies))
  assert.equal([...imported].filter((p) => !declared.has(p) && !optional.has(p)).sort(), [], 'imported but not a dependency')
  assert.equal([...declared].filter((p) => !imported.has(p)).sort(), [], 'a dependency nothing imports')
})

test.run()
