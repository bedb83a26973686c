/**
 * The dashboard: one static page (plain JS, CSS and SVG inline; nothing to build) that reads
 * the node's live view stream (`GET /dashboard/stream`, server-sent events) and draws the
 * members and their roles, replication lag, the coordinator and its lease, the agents' nodes
 * with the service instances on them, and the recent events and decisions.
 *
 * Security model (docs/dashboard.md): the page itself holds no data and is served without
 * credentials; every byte of cluster state comes from the stream, which needs the endpoint's
 * usual credentials. A browser passes a bearer token in the URL fragment (`#token=...`):
 * fragments are never sent to a server, so the token stays out of request lines, proxies and
 * logs; the page moves it to sessionStorage (this tab only), strips it from the address bar
 * and sends it as `Authorization: Bearer` with fetch. No cookie is set, so another site cannot
 * ride on it (no CSRF). A browser holding a client certificate from the cluster CA needs no
 * token. The Content-Security-Policy allows exactly this script and style (by hash), and
 * connections to this origin only; rendered values are escaped.
 */
import { createHash } from 'node:crypto'

const STYLE = `
body{font:14px system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2430}
header{background:#1d2430;color:#fff;padding:10px 18px;display:flex;gap:18px;align-items:baseline}
header h1{font-size:17px;margin:0}#state{margin-left:auto;font-size:13px}
#state.live{color:#7ee2a8}#state.down{color:#ffb3a7}
main{display:grid;grid-template-columns:minmax(360px,1fr) minmax(360px,1fr);gap:14px;padding:14px}
section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:10px 14px}
h2{font-size:14px;margin:0 0 8px;text-transform:uppercase;letter-spacing:.04em;color:#556}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:3px 8px 3px 0;border-bottom:1px solid #eef0f3}
tr.down td{color:#b3261e}tr.leader td:first-child{font-weight:700}
.chip{display:inline-block;border-radius:10px;padding:1px 8px;margin:2px;font-size:12px;background:#e8ebf0}
.running{background:#d4f5df}.starting{background:#fff1c2}.failed{background:#ffd9d3}.stopped{background:#e8ebf0}
.dead{color:#b3261e}.suspect{color:#a66a00}ul{margin:0;padding-left:18px}li{margin:2px 0}.muted{color:#889}
`

const SCRIPT = `
const KEY = 'quorate-dashboard-token'
const m = /(?:^#|&)token=([^&]+)/.exec(location.hash)
if (m) { sessionStorage.setItem(KEY, decodeURIComponent(m[1])); history.replaceState(null, '', location.pathname + location.search) }
const token = sessionStorage.getItem(KEY)
const headers = token ? { authorization: 'Bearer ' + token } : {}
const $ = (id) => document.getElementById(id)
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';')
const dash = (v) => v === null || v === undefined ? '-' : esc(v)
function setState (text, live) { const s = $('state'); s.textContent = text; s.className = live ? 'live' : 'down'; document.body.dataset.stream = live ? 'live' : 'down' }
function ring (members, leader) {
  const n = members.length, r = 70, c = 95, at = (i) => [c + r * Math.sin(2 * Math.PI * i / n), c - r * Math.cos(2 * Math.PI * i / n)]
  let lines = '', dots = ''
  members.forEach((mb, i) => {
    const [x, y] = at(i)
    const li = members.findIndex((o) => o.id === leader)
    if (li >= 0 && li !== i && mb.up) { const [lx, ly] = at(li); lines += '<line x1="' + lx + '" y1="' + ly + '" x2="' + x + '" y2="' + y + '" stroke="#9fb3c8" stroke-width="2"/>' }
    const fill = !mb.up ? '#f4b4ab' : mb.id === leader ? '#2f7de1' : '#8fd3a8'
    dots += '<circle cx="' + x + '" cy="' + y + '" r="22" fill="' + fill + '" stroke="#1d2430" stroke-width="1.5"/><text x="' + x + '" y="' + (y + 5) + '" text-anchor="middle" font-size="13" font-weight="700">' + esc(mb.id) + '</text>'
  })
  return '<svg width="190" height="190" viewBox="0 0 190 190" role="img" aria-label="members">' + lines + dots + '</svg>'
}
function render (v) {
  document.body.dataset.leader = v.leader ?? ''
  $('summary').textContent = 'leader ' + (v.leader ?? 'none') + ' · term ' + v.term + ' · seen from ' + v.from + ' at ' + new Date(v.at).toLocaleTimeString()
  $('ring').innerHTML = ring(v.members, v.leader)
  $('members').innerHTML = '<tr><th>id</th><th>state</th><th>role</th><th>term</th><th>commit</th><th>applied</th><th>match</th><th>lag</th></tr>' + v.members.map((mb) =>
    '<tr data-member="' + esc(mb.id) + '" data-up="' + mb.up + '" data-role="' + dash(mb.role) + '" class="' + (mb.up ? '' : 'down') + (mb.id === v.leader ? ' leader' : '') + '"><td>' + esc(mb.id) + '</td><td>' + (mb.up ? 'up' : 'down') + '</td><td>' + (mb.up ? dash(mb.role) : '-') + '</td><td>' + dash(mb.term) + '</td><td>' + dash(mb.commitIndex) + '</td><td>' + dash(mb.appliedIndex) + '</td><td>' + dash(mb.match) + '</td><td>' + dash(mb.lag) + '</td></tr>').join('')
  const co = v.coordinator
  $('coordinator').innerHTML = (co ? '<p>coordinator <b>' + esc(co.holder) + '</b> · fencing token <b>' + esc(co.token) + '</b> · decisions ' + esc(co.seq) + '</p>' : '<p class="muted">no coordinator has acted yet</p>') +
    (v.leases.length ? '<table><tr><th>lease</th><th>holder</th><th>token</th><th>duration</th></tr>' + v.leases.map((l) => '<tr><td>' + esc(l.name) + '</td><td>' + dash(l.holder) + '</td><td>' + esc(l.token) + '</td><td>' + esc(l.durationMs) + ' ms</td></tr>').join('') + '</table>' : '<p class="muted">no leases</p>')
  const g = v.graph
  if (!g) { $('agents').innerHTML = '<p class="muted">this node mounts no graph</p>'; $('events').innerHTML = ''; return }
  const unplaced = g.instances.filter((i) => i.node === null)
  const chip = (i) => '<span class="chip ' + esc(i.state) + '" data-instance="' + esc(i.id) + '">' + esc(i.id) + ' · ' + esc(i.state) + '</span>'
  const byId = new Map(g.instances.map((i) => [i.id, i]))
  $('agents').innerHTML = (g.nodes.length ? '<table><tr><th>node</th><th>state</th><th>services</th></tr>' + g.nodes.map((n) =>
    '<tr data-agent="' + esc(n.id) + '"><td>' + esc(n.id) + '</td><td class="' + esc(n.state) + '">' + esc(n.state) + '</td><td>' + n.instances.map((id) => chip(byId.get(id) ?? { id, state: '?' })).join('') + '</td></tr>').join('') + '</table>' : '<p class="muted">no agent has reported a node</p>') +
    (unplaced.length ? '<p>unplaced: ' + unplaced.map(chip).join('') + '</p>' : '') + '<p class="muted">graph: ' + g.resources + ' resources, ' + g.edges + ' edges, applied ' + g.appliedIndex + '</p>'
  $('events').innerHTML = '<h2>decisions</h2>' + (g.decisions.length ? '<ul>' + g.decisions.map((d) => '<li>#' + esc(d.seq) + ' ' + esc(d.rule) + ' (token ' + esc(d.token) + ') ' + esc(d.note) + '</li>').join('') + '</ul>' : '<p class="muted">none</p>') +
    '<h2>events</h2>' + (g.events.length ? '<ul>' + g.events.map((e) => '<li>' + esc(e.id) + ' <span class="muted">@' + esc(e.index) + ', ' + esc(e.bytes) + ' B</span></li>').join('') + '</ul>' : '<p class="muted">queue empty</p>')
}
async function run () {
  for (;;) {
    try {
      const res = await fetch('/dashboard/stream', { headers, cache: 'no-store' })
      if (!res.ok) {
        const body = await res.json().catch(() => ({}))
        setState('refused: ' + (body.code ?? res.status) + (token ? '' : ' (open the page as /dashboard#token=...)'), false)
        if (res.status === 401 || res.status === 403) return
        throw new Error(String(res.status))
      }
      setState('live', true)
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffered = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffered += value
        let cut
        while ((cut = buffered.indexOf('\\n\\n')) >= 0) {
          const data = buffered.slice(0, cut).split('\\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\\n')
          buffered = buffered.slice(cut + 2)
          if (data) render(JSON.parse(data))
        }
      }
    } catch (err) {}
    setState('disconnected from the node; retrying', false)
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
}
run()
`

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>quorate dashboard</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>${STYLE}</style></head>
<body data-stream="down"><header><h1>quorate</h1><span id="summary">connecting…</span><span id="state">connecting</span></header>
<main>
<section><h2>members</h2><div id="ring"></div><table id="members"></table></section>
<section><h2>coordinator and leases</h2><div id="coordinator"></div></section>
<section><h2>agents and services</h2><div id="agents"></div></section>
<section id="events"></section>
</main>
<script>${SCRIPT}</script></body></html>
`

/** Headers of the page: only its own script and style run, and it talks to this origin only. */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'content-security-policy': `default-src 'none'; script-src ${hash(SCRIPT)}; style-src ${hash(STYLE)}; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`
}
