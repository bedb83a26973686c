/**
 * The fenced code blocks of a markdown file and how test/docs/doc-tests.ts treats each, by the
 * convention in docs/testing.md ("Code blocks in the docs"):
 *  - js / mjs / ts blocks are run, each as its own ES module (ts is transpiled first);
 *  - sh blocks are checked: `npm run X` / `npm start` / `npm test` name package.json scripts
 *    and `node <file>` names a file that exists after the build;
 *  - json blocks must parse;
 *  - any other block (no language, text, mermaid, proto ...) is output or a picture, not code;
 *  - `<!-- not-run: <reason> -->` on the nearest non-blank line above a block skips it, with
 *    the reason shown in the test output.
 */

export type BlockKind = 'run' | 'shell' | 'json' | 'prose'

export interface CodeBlock {
  /** 1-based line of the opening fence. */
  readonly line: number
  readonly lang: string
  readonly code: string
  readonly kind: BlockKind
  /** The reason given by a not-run marker, or null. An empty reason is kept as ''. */
  readonly notRun: string | null
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([\w+-]*)[^\n]*$/
const NOT_RUN = /^\s*<!--\s*not-run:(.*?)-->\s*$/

export function kindOf (lang: string): BlockKind {
  const l = lang.toLowerCase()
  if (l === 'js' || l === 'mjs' || l === 'javascript' || l === 'ts' || l === 'typescript') return 'run'
  if (l === 'sh' || l === 'bash' || l === 'shell' || l === 'console') return 'shell'
  if (l === 'json') return 'json'
  return 'prose'
}

/** Every fenced block, in order (nested fences of another length stay inside their block). */
export function codeBlocks (markdown: string): CodeBlock[] {
  const lines = markdown.split('\n')
  const out: CodeBlock[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!)
    if (open === null) continue
    const [, indent, fence, lang] = open
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length; j++) {
      const l = lines[j]!
      if (l.trim() === fence && l.trimStart().startsWith(fence!)) break
      body.push(l.startsWith(indent!) ? l.slice(indent!.length) : l)
    }
    let k = i - 1
    while (k >= 0 && lines[k]!.trim() === '') k--
    const marker = k >= 0 ? NOT_RUN.exec(lines[k]!) : null
    out.push({ line: i + 1, lang: lang!, code: body.join('\n'), kind: kindOf(lang!), notRun: marker === null ? null : marker[1]!.trim() })
    i = j
  }
  return out
}

/** What a shell block refers to: npm scripts and files given to node. */
export function shellReferences (code: string): { scripts: string[], files: string[] } {
  const scripts: string[] = []
  const files: string[] = []
  for (const raw of code.split('\n')) {
    const line = raw.replace(/(^|\s)#.*$/, '').trim()
    for (const m of line.matchAll(/\bnpm (?:run(?:-script)? )?([\w:-]+)/g)) {
      const s = m[1]!
      if (['install', 'i', 'ci', 'pack', 'publish', 'exec', 'view', 'run'].includes(s)) continue
      scripts.push(s)
    }
    for (const m of line.matchAll(/(?:^|[;&|]\s*|\s)node\s+(?:--\S+\s+)*([\w./-]+\.m?js)\b/g)) files.push(m[1]!)
  }
  return { scripts, files }
}
