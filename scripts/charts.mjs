#!/usr/bin/env node
// Draws the docs' charts from the benchmark results, as hand-written SVG (no dependency):
//   bench/results/figure16.json -> docs/figure16-prevote.svg, docs/figure16-no-prevote.svg
//     (the Raft paper's Figure 16: CDF of the time to elect a new leader after a crash, one
//     line per election timeout range)
//   bench/results/peers-runs.json -> docs/peers-throughput.svg, docs/peers-latency.svg
//     (npm run bench:peers: every system's median over its fresh-cluster runs of commits/s and
//     of p50/p99 latency per client concurrency)
//
//   npm run charts                     write the SVGs
//   node scripts/charts.mjs --check    exit 1 if any SVG differs from what the results give
//   node scripts/charts.mjs --results DIR --out DIR   other directories (tests use these)
//
// Output depends only on the JSON (no dates, fixed number formatting), so regenerating from
// unchanged results changes no file, and --check can run in npm test.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const root = new URL('..', import.meta.url).pathname

const W = 720
const H = 420
const M = { left: 70, right: 190, top: 62, bottom: 56 }
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f']
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"'

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const num = (x) => (Math.round(x * 10) / 10).toString()

function svg (title, subtitle, body) {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${M.left}" y="22" ${FONT} font-size="16" font-weight="600" fill="#222">${esc(title)}</text>`,
    ...[subtitle].flat().map((line, i) => `<text x="${M.left}" y="${38 + i * 13}" ${FONT} font-size="11" fill="#555">${esc(line)}</text>`),
    ...body,
    '</svg>',
    ''
  ].join('\n')
}

/** A linear or log10 scale from [lo, hi] onto [a, b]. */
function scale (lo, hi, a, b, log = false) {
  const f = log ? Math.log10 : (x) => x
  const l = f(lo)
  const h = f(hi)
  return (x) => a + ((f(Math.min(hi, Math.max(lo, x))) - l) / (h - l)) * (b - a)
}

function axes ({ x, y, xTicks, yTicks, xLabel, yLabel, xFmt, yFmt }) {
  const out = []
  const x0 = M.left
  const x1 = W - M.right
  const y0 = H - M.bottom
  const y1 = M.top
  for (const t of yTicks) {
    const py = num(y(t))
    out.push(`<line x1="${x0}" y1="${py}" x2="${x1}" y2="${py}" stroke="#e5e5e5"/>`)
    out.push(`<text x="${x0 - 6}" y="${py}" ${FONT} font-size="11" fill="#444" text-anchor="end" dominant-baseline="middle">${esc(yFmt(t))}</text>`)
  }
  for (const t of xTicks) {
    const px = num(x(t))
    out.push(`<line x1="${px}" y1="${y0}" x2="${px}" y2="${y0 + 4}" stroke="#444"/>`)
    out.push(`<text x="${px}" y="${y0 + 17}" ${FONT} font-size="11" fill="#444" text-anchor="middle">${esc(xFmt(t))}</text>`)
  }
  out.push(`<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y0}" stroke="#444"/>`)
  out.push(`<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y1}" stroke="#444"/>`)
  out.push(`<text x="${(x0 + x1) / 2}" y="${H - 16}" ${FONT} font-size="12" fill="#222" text-anchor="middle">${esc(xLabel)}</text>`)
  out.push(`<text transform="translate(18 ${(y0 + y1) / 2}) rotate(-90)" ${FONT} font-size="12" fill="#222" text-anchor="middle">${esc(yLabel)}</text>`)
  return out
}

function legend (entries) {
  const x = W - M.right + 16
  return entries.flatMap(({ label, color, dash }, i) => {
    const y = M.top + 8 + i * 18
    return [
      `<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${color}" stroke-width="${dash === undefined ? 8 : 3}"${dash === true ? ' stroke-dasharray="5 3"' : ''}/>`,
      `<text x="${x + 28}" y="${y}" ${FONT} font-size="11" fill="#222" dominant-baseline="middle">${esc(label)}</text>`
    ]
  })
}

/** The points of a line's CDF: its recorded `cdf`, else the summary quantiles it has. */
function cdfPoints (line) {
  if (Array.isArray(line.cdf) && line.cdf.length > 0) return { points: line.cdf.map(([ms, q]) => [ms, q]), exact: true }
  return { points: [[line.min, 0], [line.median, 0.5], [line.p99, 0.99], [line.max, 1]], exact: false }
}

export function figure16Chart (result, preVote) {
  const lines = result.lines.filter((l) => l.preVote === preVote)
  const x = scale(10, 10_000, M.left, W - M.right, true)
  const y = scale(0, 1, H - M.bottom, M.top)
  const body = axes({
    x, y,
    xTicks: [10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000],
    yTicks: [0, 0.25, 0.5, 0.75, 1],
    xLabel: 'time without a leader after the crash (ms, log scale)',
    yLabel: 'cumulative % of trials',
    xFmt: (t) => t >= 1000 ? `${t / 1000} s` : `${t}`,
    yFmt: (t) => `${Math.round(t * 100)}%`
  })
  let allExact = true
  lines.forEach((line, i) => {
    const { points, exact } = cdfPoints(line)
    allExact &&= exact
    // Straight segments through the recorded quantiles (the true CDF passes through each).
    const d = points.map(([ms, q], k) => `${k === 0 ? 'M' : 'L'}${num(x(ms))},${num(y(q))}`).join(' ')
    body.push(`<path d="${d}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="2"${exact ? '' : ' stroke-dasharray="5 3"'}/>`)
  })
  body.push(...legend(lines.map((l, i) => ({ label: `${l.low}–${l.high} ms (${l.trials})`, color: PALETTE[i % PALETTE.length], dash: !cdfPoints(l).exact }))))
  const points = allExact ? 'lines through the quantiles at every 5 %' : 'dashed: only min, median, p99 and max were recorded (rerun npm run sim -- --figure16 for the full CDF)'
  return svg(`Figure 16: time to elect a new leader, PreVote ${preVote ? 'on' : 'off'}`, [
    `${result.trialsPerLine} trials per line (legend: trials), 5 servers, one-way latency ${result.latencyMs.min}–${result.latencyMs.max} ms, seed ${result.seed}; 10 s = no leader yet`,
    points
  ], body)
}

/** The median of each figure over a system's runs at one concurrency (bench:peers runs each 3 times). */
function medianRow (runs) {
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
  return {
    concurrency: runs[0].concurrency,
    commitsPerSec: median(runs.map((r) => r.commitsPerSec)),
    latency: { p50Us: median(runs.map((r) => r.latency.p50Us)), p99Us: median(runs.map((r) => r.latency.p99Us)) }
  }
}

/** Systems that ran (`runs`: one array of rows per round), each with one median row per concurrency, labelled as bench:peers labels them. */
function peerRows (bench) {
  return Object.values(bench.systems).filter((p) => p.available && Array.isArray(p.runs) && p.runs.length > 0).map((p) => ({
    name: p.label,
    rows: bench.concurrency.map((c) => p.runs.flat().filter((r) => r.concurrency === c)).filter((rs) => rs.length > 0).map(medianRow)
  }))
}

const peersSubtitle = (bench) => `medians of ${bench.runs} fresh-cluster runs; ${bench.measureMs / 1000} s per point after ${bench.warmupMs / 1000} s warm-up (${bench.command})`

function barChart ({ title, subtitle, groups, series, value, yLabel, log, yFmt }) {
  const max = Math.max(...series.flatMap((s) => groups.map((g) => value(s, g) ?? 0)))
  const min = log ? Math.min(...series.flatMap((s) => groups.map((g) => value(s, g) ?? Infinity))) : 0
  const lo = log ? 10 ** Math.floor(Math.log10(min)) : 0
  const hi = log ? 10 ** Math.ceil(Math.log10(max)) : niceCeil(max)
  const y = scale(lo, hi, H - M.bottom, M.top, log)
  const groupW = (W - M.left - M.right) / groups.length
  const barW = Math.min(40, (groupW * 0.8) / series.length)
  const yTicks = log ? Array.from({ length: Math.round(Math.log10(hi / lo)) + 1 }, (_, i) => lo * 10 ** i) : [0, 0.25, 0.5, 0.75, 1].map((f) => f * hi)
  const body = axes({ x: (g) => M.left + groupW * (groups.indexOf(g) + 0.5), y, xTicks: groups, yTicks, xLabel: 'concurrent clients', yLabel, xFmt: String, yFmt })
  groups.forEach((g, gi) => {
    series.forEach((s, si) => {
      const v = value(s, g)
      if (v === undefined) return
      const bx = M.left + groupW * gi + (groupW - barW * series.length) / 2 + si * barW
      const top = y(v)
      body.push(`<rect x="${num(bx)}" y="${num(top)}" width="${num(barW - 2)}" height="${num(H - M.bottom - top)}" fill="${s.color}"><title>${esc(`${s.label}, ${g} clients: ${yFmt(v)}`)}</title></rect>`)
    })
  })
  body.push(...legend(series.map((s) => ({ label: s.label, color: s.color }))))
  return svg(title, subtitle, body)
}

function niceCeil (x) {
  const p = 10 ** Math.floor(Math.log10(x))
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((c) => c >= x)
}

const rowAt = (rows, c) => rows.find((r) => r.concurrency === c)

export function peersThroughputChart (bench) {
  const peers = peerRows(bench)
  return barChart({
    title: 'Throughput: commits per second (higher is better)',
    subtitle: peersSubtitle(bench),
    groups: bench.concurrency,
    series: peers.map((p, i) => ({ label: p.name, color: PALETTE[i], rows: p.rows })),
    value: (s, c) => rowAt(s.rows, c)?.commitsPerSec,
    yLabel: 'commits/s',
    log: false,
    yFmt: (v) => v >= 1000 ? `${num(v / 1000)}k` : String(Math.round(v))
  })
}

export function peersLatencyChart (bench) {
  const peers = peerRows(bench)
  const series = peers.flatMap((p, i) => [
    { label: `${p.name} p50`, color: PALETTE[i], rows: p.rows, q: 'p50Us' },
    { label: `${p.name} p99`, color: PALETTE[i] + '88', rows: p.rows, q: 'p99Us' }
  ])
  return barChart({
    title: 'Commit latency, p50 and p99 (lower is better)',
    subtitle: `${peersSubtitle(bench)}; log scale`,
    groups: bench.concurrency,
    series,
    value: (s, c) => rowAt(s.rows, c)?.latency?.[s.q],
    yLabel: 'latency (log scale)',
    log: true,
    yFmt: (us) => us >= 1_000_000 ? `${num(us / 1_000_000)} s` : us >= 1000 ? `${num(us / 1000)} ms` : `${Math.round(us)} µs`
  })
}

/** Every chart this script makes: output name -> [input file, draw]. */
export const CHARTS = {
  'figure16-prevote.svg': ['figure16.json', (r) => figure16Chart(r, true)],
  'figure16-no-prevote.svg': ['figure16.json', (r) => figure16Chart(r, false)],
  'peers-throughput.svg': ['peers-runs.json', peersThroughputChart],
  'peers-latency.svg': ['peers-runs.json', peersLatencyChart]
}

function main () {
  const { values } = parseArgs({ options: { check: { type: 'boolean' }, results: { type: 'string' }, out: { type: 'string' } }, strict: true })
  const results = values.results ?? join(root, 'bench', 'results')
  const out = values.out ?? join(root, 'docs')
  let stale = 0
  for (const [name, [input, draw]] of Object.entries(CHARTS)) {
    const source = join(results, input)
    if (!existsSync(source)) { console.log(`skip ${name}: no ${source}`); continue }
    const text = draw(JSON.parse(readFileSync(source, 'utf8')))
    const target = join(out, name)
    if (values.check) {
      if (!existsSync(target) || readFileSync(target, 'utf8') !== text) { stale++; console.log(`stale ${target}: run npm run charts`) }
      continue
    }
    mkdirSync(out, { recursive: true })
    writeFileSync(target, text)
    console.log(`wrote ${target}`)
  }
  if (stale > 0) process.exitCode = 1
}

if (import.meta.url === `file://${process.argv[1]}`) main()
