/**
 * A tiny data-driven test format, in the spirit of cockroachdb/datadriven as used by
 * etcd-io/raft's testdata/*.txt: a file is a sequence of cases, each
 *
 *     command arg key=value ...
 *     optional input lines
 *     ----
 *     expected output lines
 *
 * separated by blank lines. Lines starting with `#` between cases are comments. The output
 * of a case may not contain a blank line (the blank line ends it); an empty output is
 * written as `ok`. Rewriting keeps comments and commands as they were and replaces only
 * the outputs, so a golden file can be regenerated and its diff reviewed.
 */

export interface Arg {
  readonly key: string
  /** The part after `=`, or null for a bare word. */
  readonly value: string | null
}

export interface Case {
  /** 1-based line of the command, for error messages. */
  readonly line: number
  readonly command: string
  readonly args: readonly Arg[]
  /** Lines between the command and `----`. */
  readonly input: readonly string[]
  readonly expected: string
}

type Part = { readonly kind: 'text', readonly lines: readonly string[] } | { readonly kind: 'case', readonly c: Case, readonly header: readonly string[] }

const SEPARATOR = '----'

export function parseArgs (line: string): { command: string, args: Arg[] } {
  const [command = '', ...words] = line.trim().split(/\s+/)
  const args = words.map((w) => {
    const at = w.indexOf('=')
    return at < 0 ? { key: w, value: null } : { key: w.slice(0, at), value: w.slice(at + 1) }
  })
  return { command, args }
}

function parse (text: string, file: string): Part[] {
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  const parts: Part[] = []
  let i = 0
  while (i < lines.length) {
    const comments: string[] = []
    while (i < lines.length && (lines[i]!.trim() === '' || lines[i]!.startsWith('#'))) comments.push(lines[i++]!)
    if (comments.length > 0) parts.push({ kind: 'text', lines: comments })
    if (i >= lines.length) break
    const start = i
    const header: string[] = []
    while (i < lines.length && lines[i] !== SEPARATOR) {
      if (lines[i]!.trim() === '') throw new Error(`${file}:${i + 1}: blank line before ${SEPARATOR} (case at line ${start + 1})`)
      header.push(lines[i++]!)
    }
    if (i >= lines.length) throw new Error(`${file}:${start + 1}: case has no ${SEPARATOR} line`)
    i++ // the separator
    const output: string[] = []
    while (i < lines.length && lines[i]!.trim() !== '') output.push(lines[i++]!)
    const { command, args } = parseArgs(header[0]!)
    parts.push({ kind: 'case', header, c: { line: start + 1, command, args, input: header.slice(1), expected: output.join('\n') } })
  }
  return parts
}

/** Outcome of running one file: the text as it is, and as the runner says it should be. */
export interface FileResult {
  readonly actual: string
  readonly expected: string
}

/**
 * Runs every case of `text` through `run` (which returns the case's output) and returns the
 * file as written and the file as the runner would write it; they are equal when every
 * case's output matches. A thrown error fails the file with its case's line.
 */
export function runFile (text: string, file: string, run: (c: Case) => string): FileResult {
  const out: string[] = []
  for (const part of parse(text, file)) {
    if (part.kind === 'text') { out.push(...part.lines); continue }
    let result: string
    try {
      result = run(part.c).trimEnd()
    } catch (err) {
      throw new Error(`${file}:${part.c.line}: ${part.c.command}: ${(err as Error).message}`, { cause: err })
    }
    if (result === '') result = 'ok'
    if (result.split('\n').some((l) => l.trim() === '')) throw new Error(`${file}:${part.c.line}: output has a blank line`)
    out.push(...part.header, SEPARATOR, result)
  }
  return { actual: text, expected: out.join('\n') + '\n' }
}

/** Typed access to a case's arguments; unknown or repeated keys are an error (a typo would otherwise pass silently). */
export class Args {
  readonly #args: readonly Arg[]
  readonly #used = new Set<number>()

  constructor (args: readonly Arg[]) { this.#args = args }

  /** Bare words (no `=`), in order. */
  positional (): string[] {
    const out: string[] = []
    this.#args.forEach((a, i) => { if (a.value === null) { this.#used.add(i); out.push(a.key) } })
    return out
  }

  /** Every argument in order (for commands whose meaning depends on it); marks them all used. */
  ordered (): readonly Arg[] {
    this.#args.forEach((_, i) => this.#used.add(i))
    return this.#args
  }

  #find (key: string): string | undefined {
    const at = this.#args.findIndex((a) => a.key === key && a.value !== null)
    if (at < 0) return undefined
    this.#used.add(at)
    return this.#args[at]!.value!
  }

  string (key: string): string | undefined { return this.#find(key) }

  int (key: string): number | undefined {
    const v = this.#find(key)
    if (v === undefined) return undefined
    if (!/^-?\d+$/.test(v)) throw new Error(`${key}=${v} is not an integer`)
    return Number(v)
  }

  bool (key: string): boolean | undefined {
    const v = this.#find(key)
    if (v === undefined) return undefined
    if (v !== 'true' && v !== 'false') throw new Error(`${key}=${v} is not true or false`)
    return v === 'true'
  }

  /** A comma-separated list (`voters=n1,n2`); `key=` is the empty list. */
  list (key: string): string[] | undefined {
    const v = this.#find(key)
    if (v === undefined) return undefined
    return v === '' ? [] : v.split(',')
  }

  /** Throws on any argument no accessor asked for. */
  done (): void {
    const unused = this.#args.filter((_, i) => !this.#used.has(i))
    if (unused.length > 0) throw new Error(`unknown argument(s): ${unused.map((a) => a.value === null ? a.key : `${a.key}=${a.value}`).join(' ')}`)
  }
}
