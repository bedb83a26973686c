// The skiff side of the peers benchmark: three skiff 1.10 nodes in one process on loopback TCP
// (skiff's own network), each persisting to leveldown (skiff's default database, with skiff's
// own write options: it never asks for sync writes). Closed-loop clients Put a fresh key with a
// 100-byte value through the leader's levelup interface. Prints one JSON line per concurrency.
//
//   node run.js --concurrency 1,16,256 --warmup-ms 2000 --measure-ms 10000
'use strict'
const Skiff = require('skiff')
const { createHistogram } = require('node:perf_hooks')
const { mkdirSync, mkdtempSync, rmSync } = require('node:fs')
const { tmpdir } = require('node:os')
const { join } = require('node:path')

const argv = process.argv.slice(2)
const flag = (f, d) => { const i = argv.indexOf(f); return i >= 0 ? argv[i + 1] : d }
const levels = flag('--concurrency', '1,16,256').split(',').map(Number)
const warmupMs = Number(flag('--warmup-ms', '2000'))
const measureMs = Number(flag('--measure-ms', '10000'))
const basePort = Number(flag('--base-port', '19490'))
const VALUE = 'a'.repeat(100)
/** How long to wait for outstanding puts (and for stop) after the measured window. */
const DRAIN_MS = 10000

async function cluster (port0, dir) {
  const addrs = [0, 1, 2].map((i) => `/ip4/127.0.0.1/tcp/${port0 + i}`)
  const nodes = addrs.map((a, i) => {
    const location = join(dir, String(i))
    mkdirSync(location, { recursive: true })
    return Skiff(a, { location, peers: addrs.filter((b) => b !== a) })
  })
  await Promise.all(nodes.map((n) => new Promise((resolve, reject) => n.start((err) => err ? reject(err) : resolve()))))
  const leader = await new Promise((resolve) => {
    const check = () => {
      const l = nodes.find((n) => n.is('leader'))
      if (l !== undefined) resolve(l)
      else setTimeout(check, 20)
    }
    check()
  })
  return { nodes, leader }
}

async function run (concurrency, port0) {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-'))
  const { nodes, leader } = await cluster(port0, dir)
  // Let the followers connect before the clock starts.
  await new Promise((resolve) => setTimeout(resolve, 500))
  const db = leader.levelup()
  const h = createHistogram({ lowest: 1, highest: 60e9, figures: 3 })
  const t0 = process.hrtime.bigint()
  const start = t0 + BigInt(warmupMs) * 1000000n
  const end = start + BigInt(measureMs) * 1000000n
  let errors = 0
  let inflight = 0
  const client = async (id) => {
    for (let seq = 0; ; seq++) {
      const begin = process.hrtime.bigint()
      if (begin >= end) return
      inflight++
      try {
        await new Promise((resolve, reject) => db.put(`k${id}-${seq}`, VALUE, (err) => err ? reject(err) : resolve()))
      } catch { errors++; continue } finally { inflight-- }
      const done = process.hrtime.bigint()
      if (begin >= start && done <= end) h.record(Number(done - begin))
    }
  }
  // skiff sometimes never answers a put under load: give up on those after DRAIN_MS.
  const finished = await Promise.race([
    Promise.all(Array.from({ length: concurrency }, (_, i) => client(i))).then(() => true),
    new Promise((resolve) => setTimeout(resolve, warmupMs + measureMs + DRAIN_MS, false))
  ])
  const unanswered = finished ? 0 : inflight
  await Promise.race([
    Promise.all(nodes.map((n) => new Promise((resolve) => n.stop(() => resolve())))),
    new Promise((resolve) => setTimeout(resolve, DRAIN_MS))
  ])
  rmSync(dir, { recursive: true, force: true })
  const us = (ns) => Math.round(ns / 100) / 10
  return {
    concurrency,
    valueBytes: VALUE.length,
    measureMs,
    commits: h.count,
    commitsPerSec: Math.round(h.count / (measureMs / 1000)),
    errors,
    unanswered,
    latency: h.count === 0
      ? { count: 0, p50Us: 0, p99Us: 0, p999Us: 0, maxUs: 0, meanUs: 0 }
      : { count: h.count, p50Us: us(h.percentile(50)), p99Us: us(h.percentile(99)), p999Us: us(h.percentile(99.9)), maxUs: us(h.max), meanUs: us(h.mean) }
  }
}

(async () => {
  for (const [i, c] of levels.entries()) console.log(JSON.stringify(await run(c, basePort + i * 10)))
  process.exit(0)
})().catch((err) => { console.error(err); process.exit(1) })
