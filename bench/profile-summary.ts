/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per source
 * file, as a share of busy time and in microseconds per committed entry.
 *
 *   node dist/bench/profile-summary.js <file.cpuprofile> [--commits N] [--top 25] [--json out.json]
 */
import { readFileSync, writeFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string, url: string, lineNumber: number }
  children?: number[]
}
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

export interface ProfileRow { readonly name: string, readonly selfMs: number, readonly sharePct: number, readonly usPerCommit: number | null }
export interface ProfileSummary { readonly busyMs: number, readonly idleMs: number, readonly functions: ProfileRow[], readonly files: ProfileRow[] }

function shortUrl (url: string): string {
  if (url === '') return ''
  const m = /\/(src|bench|test|node_modules)\/(.*)$/.exec(url)
  if (m !== null) return `${m[1]}/${m[2]}`
  return url.replace(/^node:/, 'node:')
}

export function summarizeProfile (profile: Profile, commits: number | null, top: number): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
  }
  const fn = new Map<string, number>()
  const file = new Map<string, number>()
  let idle = 0
  let busy = 0
  for (const [id, us] of self) {
    const cf = byId.get(id)!.callFrame
    if (cf.functionName === '(idle)') { idle += us; continue }
    busy += us
    const where = shortUrl(cf.url)
    const name = where === '' ? cf.functionName : `${cf.functionName || '(anonymous)'} ${where}:${cf.lineNumber + 1}`
    fn.set(name, (fn.get(name) ?? 0) + us)
    const fileName = where === '' ? cf.functionName : where.replace(/^node_modules\/([^/]+).*/, 'node_modules/$1')
    file.set(fileName, (file.get(fileName) ?? 0) + us)
  }
  const rows = (m: Map<string, number>): ProfileRow[] => [...m.entries()]
    .sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([name, us]) => ({
      name,
      selfMs: Math.round(us / 100) / 10,
      sharePct: Math.round(us / busy * 1000) / 10,
      usPerCommit: commits === null || commits === 0 ? null : Math.round(us / commits * 1000) / 1000
    }))
  return { busyMs: Math.round(busy / 1000), idleMs: Math.round(idle / 1000), functions: rows(fn), files: rows(file) }
}

if (process.argv[1]?.endsWith('profile-summary.js') === true) {
  const argv = process.argv.slice(2)
  const flag = (f: string): string | undefined => { const i = argv.indexOf(f); return i >= 0 ? argv[i + 1] : undefined }
  const path = argv[0]
  if (path === undefined) throw new Error('usage: profile-summary <file.cpuprofile> [--commits N] [--top 25] [--json out]')
  const commits = flag('--commits') === undefined ? null : Number(flag('--commits'))
  const summary = summarizeProfile(JSON.parse(readFileSync(path, 'utf8')) as Profile, commits, Number(flag('--top') ?? 25))
  console.log(`busy ${summary.busyMs} ms, idle ${summary.idleMs} ms${commits === null ? '' : `, ${commits} commits`}`)
  const print = (title: string, rows: ProfileRow[]): void => {
    console.log(`\n${title}`)
    for (const r of rows) console.log(`${String(r.sharePct).padStart(5)}%  ${String(r.selfMs).padStart(8)} ms  ${r.usPerCommit === null ? '' : `${r.usPerCommit.toFixed(3)} µs/commit  `}${r.name}`)
  }
  print('by file', summary.files)
  print('by function', summary.functions)
  const out = flag('--json')
  if (out !== undefined) writeFileSync(out, JSON.stringify(summary, null, 2) + '\n')
}
