/**
 * The dashboard in a real browser: headless Chromium (Debian's `chromium`, driven by
 * puppeteer-core) loads the page from a follower of a running 3-node ProcessCluster with a
 * read-only token in the URL fragment, sees the members, the coordinator and the agents'
 * services; then the leader is SIGKILLed and the page must show it down and a new leader,
 * live (no reload). `REWRITE=1` saves the screenshot as docs/dashboard.png.
 *
 * Without Chromium: as root it tries `apt-get install -y chromium` once; if there is still
 * none, the file prints why and counts as one skipped test (scripts/run-tests.mjs reads uvu's
 * summary lines).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { VIEWER_TOKEN, seedGraph, viewsCluster } from './views-cluster.js'

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

function findChromium (): string | null {
  return CANDIDATES.find((p) => existsSync(p)) ?? null
}

/** Why there is no browser, or its path (after one install attempt where that is allowed). */
function chromium (): { path: string } | { why: string } {
  // An explicit browser is used as given: no search, no install.
  const env = process.env.QUORATE_CHROMIUM
  if (env !== undefined && env !== '') return existsSync(env) ? { path: env } : { why: `QUORATE_CHROMIUM=${env} does not exist` }
  const found = findChromium()
  if (found !== null) return { path: found }
  if (process.getuid?.() !== 0) return { why: `no Chromium at ${CANDIDATES.join(', ')} (or QUORATE_CHROMIUM), and not root to apt-get install it` }
  try {
    // A fresh machine's package lists may be empty: update them first.
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 120_000 })
    execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'ignore', timeout: 180_000 })
  } catch (err) {
    return { why: `no Chromium installed and 'apt-get install -y chromium' failed: ${(err as Error).message.split('\n')[0]!}` }
  }
  const installed = findChromium()
  return installed !== null ? { path: installed } : { why: 'apt-get installed no chromium binary' }
}

const browser = chromium()

if ('why' in browser) {
  // The same summary lines uvu prints, so the runner counts one skipped test.
  process.stdout.write(`SKIPPED dashboard-browser: ${browser.why}\n\n  Total:     1\n  Passed:    0\n  Skipped:   1\n  Duration:  0ms\n\n`)
} else {
  test('the dashboard shows the cluster live and, after the leader is killed, that it is down and who leads now', async () => {
    const { default: puppeteer } = await import('puppeteer-core')
    const cluster = await viewsCluster()
    const chrome = await puppeteer.launch({
      executablePath: browser.path,
      headless: true,
      // The dev CA is not in the browser's store (an operator would add it); no sandbox as root in a container.
      acceptInsecureCerts: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage']
    })
    try {
      await seedGraph(cluster)
      const client = cluster.quorateClient()
      const report = await client.status('n1', { hash: false })
      await client.close()
      const leader = report.leader!
      const viewer = cluster.ids.find((id) => id !== leader)!
      const address = cluster.clientAddress(viewer)
      const page = await chrome.newPage()
      await page.setViewport({ width: 1100, height: 720 })
      await page.goto(`https://${address.host}:${address.port}/dashboard#token=${VIEWER_TOKEN}`)
      // Page-side code as strings: this file is compiled without the DOM's types.
      await page.waitForFunction(`document.body.dataset.stream === 'live' && document.body.dataset.leader === ${JSON.stringify(leader)}`, { timeout: 15_000 })
      await page.waitForSelector('[data-agent="w1"] [data-instance="web-1"]', { timeout: 10_000 })
      assert.is(await page.evaluate('location.hash'), '', 'the token is stripped from the address bar')
      const text = String(await page.evaluate('document.body.innerText'))
      assert.match(text, /coordinator n1/)
      assert.match(text, /fencing token 7/)
      assert.match(text, /w2-suspect/)
      assert.match(text, /placed web-1 on w1/)

      await cluster.kill(leader)
      const dead = JSON.stringify(leader)
      const next = await page.waitForFunction(`(() => {
        const row = document.querySelector('[data-member=' + ${dead} + ']')
        const now = document.body.dataset.leader
        return row !== null && row.getAttribute('data-up') === 'false' && now !== '' && now !== ${dead} ? now : false
      })()`, { timeout: 20_000 })
      const newLeader = await next.jsonValue() as string
      assert.is.not(newLeader, leader)
      assert.is(await page.$eval(`[data-member="${newLeader}"]`, (el) => el.getAttribute('data-role')), 'leader', 'the new leader\'s row says leader')
      // The picture in the docs is rewritten only when asked (REWRITE=1, as for the scenario files).
      const shot = process.env.REWRITE === '1' ? join(root, 'docs', 'dashboard.png') : join(tmpdir(), `quorate-dashboard-${process.pid}.png`)
      await page.screenshot({ path: shot as `${string}.png` })
      assert.ok(statSync(shot).size > 10_000, 'the screenshot has content')
      if (process.env.REWRITE !== '1') rmSync(shot)
    } finally {
      await chrome.close()
      await cluster.close()
    }
  })

  test.run()
}
