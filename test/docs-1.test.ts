/**
 * Every code block in README.md and the first half of docs/*.md runs, or says why not
 * (docs/testing.md, "Code blocks in the docs"; the runner is test/docs/doc-tests.ts); also the
 * block reader and the runner themselves.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { codeBlocks, shellReferences } from './docs/code-blocks.js'
import { DOC_FILES, docFileTests, runBlock } from './docs/doc-tests.js'

docFileTests(test, DOC_FILES.slice(0, Math.ceil(DOC_FILES.length / 2)))

test('the block reader finds fences, languages and not-run markers', () => {
  const md = ['text', '<!-- not-run: needs etcd -->', '', '```js', 'a()', '```', '```sh', 'npm run sim -- --seeds 5  # comment: npm run nothing', 'node dist/x.js', '```', '<!-- not-run: -->', '```ts', '```', '```', 'output', '```'].join('\n')
  const blocks = codeBlocks(md)
  assert.equal(blocks.map((b) => [b.line, b.lang, b.kind, b.notRun]), [[4, 'js', 'run', 'needs etcd'], [7, 'sh', 'shell', null], [12, 'ts', 'run', ''], [14, '', 'prose', null]])
  assert.equal(shellReferences(blocks[1]!.code), { scripts: ['sim'], files: ['dist/x.js'] })
})

test('a block that throws is reported with its file and line (the runner is not a rubber stamp)', async () => {
  const failure = await runBlock('docs/example.md', { line: 3, lang: 'js', code: "throw new Error('boom')", kind: 'run', notRun: null })
  assert.ok(failure !== null && failure.startsWith('docs/example.md:3 (js) failed') && failure.includes('boom'), String(failure))
  const ok = await runBlock('docs/example.md', { line: 9, lang: 'ts', code: "import { QuorateError } from 'quorate'\nconst e: QuorateError = new QuorateError('OPTIONS_INVALID', 'x')\nif (e.code !== 'OPTIONS_INVALID') process.exit(1)", kind: 'run', notRun: null })
  assert.is(ok, null, 'a ts block importing the package by name runs')
})

test.run()
