/**
 * Runs the code blocks of the docs (docs/testing.md, "Code blocks in the docs"): js/ts blocks
 * as ES modules importing the built package by name, each in a fresh temporary working
 * directory; sh blocks checked for scripts and files that exist; json blocks parsed;
 * `<!-- not-run: reason -->` skips a block and needs a reason. A block that is
 * examples/<name>.mjs verbatim is run by test/readme.test.ts instead. The test files
 * test/docs-*.test.ts each take a share of the markdown files.
 */
import * as assert from 'uvu/assert'
import type { Test } from 'uvu'
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import ts from 'typescript'
import { codeBlocks, shellReferences } from './code-blocks.js'
import type { CodeBlock } from './code-blocks.js'

const root = new URL('../../../', import.meta.url).pathname
const scratch = join(root, 'dist', 'doc-blocks')
const BLOCK_TIMEOUT_MS = 90_000
const scripts = Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts)
const examples = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.mjs')).map((f) => readFileSync(join(root, 'examples', f), 'utf8').trim())
/** README.md and every docs/*.md, in order. */
export const DOC_FILES = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)]

function toModule (block: CodeBlock): string {
  if (!/^(ts|typescript)$/i.test(block.lang)) return block.code
  return ts.transpileModule(block.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false } }).outputText
}

/** Runs one block as a module inside the package (so `import 'quorate/...'` resolves to dist). */
export async function runBlock (file: string, block: CodeBlock): Promise<string | null> {
  mkdirSync(scratch, { recursive: true })
  const name = `${file.replace(/[/.]/g, '_')}-L${block.line}.mjs`
  const path = join(scratch, name)
  writeFileSync(path, toModule(block))
  const cwd = mkdtempSync(join(tmpdir(), 'quorate-doc-block-'))
  try {
    return await new Promise((resolve) => {
      execFile(process.execPath, [path], { cwd, timeout: BLOCK_TIMEOUT_MS, env: { ...process.env, FORCE_COLOR: '0' } }, (err, _stdout, stderr) => {
        resolve(err === null ? null : `${file}:${block.line} (${block.lang}) failed: ${err.message.split('\n')[0]!}\n${String(stderr).slice(-1500)}`)
      })
    })
  } finally {
    rmSync(cwd, { recursive: true, force: true })
  }
}

function checkShell (file: string, block: CodeBlock): string[] {
  const { scripts: used, files: paths } = shellReferences(block.code)
  return [
    ...used.filter((s) => !scripts.includes(s)).map((s) => `${file}:${block.line}: npm script "${s}" is not in package.json`),
    ...paths.filter((p) => !existsSync(join(root, p))).map((p) => `${file}:${block.line}: node ${p}: no such file after the build`)
  ]
}

/** One test per file of `files`: every block runs, is checked, or is marked not-run with a reason. */
export function docFileTests (test: Test, files: readonly string[]): void {
  for (const file of files) {
    test(`${file}: every code block runs, is checked, or is marked not-run with a reason`, async () => {
      const blocks = codeBlocks(readFileSync(join(root, file), 'utf8'))
      const problems: string[] = []
      for (const block of blocks) {
        if (block.kind === 'prose') continue
        if (block.notRun !== null) {
          if (block.notRun.length === 0) problems.push(`${file}:${block.line}: a not-run marker needs a reason`)
          continue
        }
        if (block.kind === 'json') {
          try { JSON.parse(block.code) } catch (err) { problems.push(`${file}:${block.line}: json does not parse: ${(err as Error).message}`) }
        } else if (block.kind === 'shell') {
          problems.push(...checkShell(file, block))
        } else if (!examples.includes(block.code.trim())) {
          const failure = await runBlock(file, block)
          if (failure !== null) problems.push(failure)
        }
      }
      assert.ok(problems.length === 0, problems.join('\n\n'))
    })
  }
}
