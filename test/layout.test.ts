/**
 * The layering rule: every folder of src/ states in its index.ts header which folders it may
 * import ("May import: a, b, errors."), and this test parses every import in src/ and fails
 * on an arrow the header does not allow. The headers are the single source of the rules, so
 * the documentation cannot drift from what is enforced.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const srcRoot = join(root, 'src')

interface FolderRule {
  /** Folders (and 'errors' for src/errors.ts) this folder may import; null: any but `forbidden`. */
  readonly allowed: ReadonlySet<string> | null
  readonly forbidden: ReadonlySet<string>
  /** False when the header says "Packages: none". */
  readonly packages: boolean
}

const NONE: ReadonlySet<string> = new Set()
const TESTING: ReadonlySet<string> = new Set(['testing'])

interface Arrow { readonly file: string, readonly specifier: string }

function walk (dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) out.push(...walk(path))
    else if (name.endsWith('.ts')) out.push(path)
  }
  return out
}

/** Every import, export-from and dynamic import specifier in a TypeScript source. */
export function importSpecifiers (source: string): string[] {
  const out: string[] = []
  const re = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*'([^']+)'|(?:^|\n)\s*import\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g
  for (const m of source.matchAll(re)) out.push((m[1] ?? m[2] ?? m[3])!)
  return out
}

/** Parses "May import: a, b, errors." (and an optional "Packages: none") from a header. */
export function parseRule (header: string): FolderRule | undefined {
  const m = /May import:\s*([^\n]*)/.exec(header)
  if (m === null) return undefined
  const text = m[1]!
  const packages = !/Packages:\s*none/.test(text)
  if (/^anything/.test(text)) return { allowed: null, forbidden: NONE, packages }
  if (/^every folder except testing/.test(text)) return { allowed: null, forbidden: TESTING, packages }
  const list = text.split(/\.\s|\.$/)[0]!.split(',').map((s) => s.trim()).filter((s) => s.length > 0)
  return { allowed: new Set(list), forbidden: NONE, packages }
}

/** The top-level unit of src/ a file belongs to: a folder name, or 'errors' / 'index'. */
function unitOf (file: string): string {
  const rel = relative(srcRoot, file).split(sep)
  return rel.length === 1 ? rel[0]!.replace(/\.[jt]s$/, '') : rel[0]!
}

/** The violations of `rules` among `arrows` (pure, so a broken layout can be fed to it). */
export function violations (arrows: readonly Arrow[], rules: ReadonlyMap<string, FolderRule>): string[] {
  const out: string[] = []
  for (const { file, specifier } of arrows) {
    const from = unitOf(file)
    const rule = rules.get(from)
    if (rule === undefined) { out.push(`${relative(root, file)}: folder '${from}' has no "May import:" rule`); continue }
    if (!specifier.startsWith('.')) {
      if (!rule.packages) out.push(`${relative(root, file)} imports '${specifier}'; ${from}/ may import no packages`)
      continue
    }
    const target = unitOf(resolve(dirname(file), specifier))
    if (target === from) continue
    if (rule.forbidden.has(target)) out.push(`${relative(root, file)} imports ${target}/ ('${specifier}'); ${from}/ may not`)
    else if (rule.allowed !== null && !rule.allowed.has(target)) {
      out.push(`${relative(root, file)} imports ${target}/ ('${specifier}'); ${from}/ may import only ${[...rule.allowed].join(', ')}`)
    }
  }
  return out
}

function loadRules (): Map<string, FolderRule> {
  const rules = new Map<string, FolderRule>()
  rules.set('errors', { allowed: NONE, forbidden: NONE, packages: true })
  rules.set('index', { allowed: null, forbidden: TESTING, packages: true })
  for (const name of readdirSync(srcRoot)) {
    const dir = join(srcRoot, name)
    if (!statSync(dir).isDirectory()) continue
    const header = readFileSync(join(dir, 'index.ts'), 'utf8').split('*/')[0]!
    const rule = parseRule(header)
    if (rule !== undefined) rules.set(name, rule)
  }
  return rules
}

function arrowsOf (files: readonly string[]): Arrow[] {
  return files.flatMap((file) => importSpecifiers(readFileSync(file, 'utf8')).map((specifier) => ({ file, specifier })))
}

test('every folder of src/ has an index.ts whose header states what it may import', () => {
  const missing: string[] = []
  for (const name of readdirSync(srcRoot)) {
    const dir = join(srcRoot, name)
    if (!statSync(dir).isDirectory()) continue
    let header = ''
    try { header = readFileSync(join(dir, 'index.ts'), 'utf8').split('*/')[0]! } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    if (parseRule(header) === undefined) missing.push(`src/${name}/index.ts`)
  }
  assert.equal(missing, [])
})

test('no import in src/ crosses a layer its folder header forbids', () => {
  const found = violations(arrowsOf(walk(srcRoot)), loadRules())
  assert.equal(found, [], found.join('\n'))
})

test('the checker catches forbidden arrows (production importing testing, the core importing the shell or a package)', () => {
  const rules = loadRules()
  const bad: Arrow[] = [
    { file: join(srcRoot, 'cluster', 'x.ts'), specifier: '../testing/kv-model.js' },
    { file: join(srcRoot, 'raft', 'x.ts'), specifier: '../node/node.js' },
    { file: join(srcRoot, 'raft', 'x.ts'), specifier: 'node:timers' },
    { file: join(srcRoot, 'util', 'x.ts'), specifier: '../raft/types.js' },
    { file: join(srcRoot, 'index.ts'), specifier: './testing/index.js' }
  ]
  assert.is(violations(bad, rules).length, bad.length)
  const good: Arrow[] = [
    { file: join(srcRoot, 'testing', 'sim', 'x.ts'), specifier: '../../node/node.js' },
    { file: join(srcRoot, 'node', 'x.ts'), specifier: '../raft/raft.js' },
    { file: join(srcRoot, 'raft', 'x.ts'), specifier: './quorum.js' }
  ]
  assert.equal(violations(good, rules), [])
})

test('import parsing sees static, re-export, side-effect and dynamic imports', () => {
  const src = "import { a } from './a.js'\nexport * from '../b.js'\nimport type { C } from \"x\"\nimport './d.js'\nconst e = await import('../e.js')\n"
  assert.equal(importSpecifiers(src), ['./a.js', '../b.js', './d.js', '../e.js'])
})

test.run()
