/**
 * Every code block in the second half of docs/*.md runs, or says why not (docs/testing.md,
 * "Code blocks in the docs"; the runner is test/docs/doc-tests.ts).
 */
import { test } from 'uvu'
import { DOC_FILES, docFileTests } from './docs/doc-tests.js'

docFileTests(test, DOC_FILES.slice(Math.ceil(DOC_FILES.length / 2)))

test.run()
