/**
 * The quorate-agent bin (src/cluster/agent-process.ts) and the node config's coordinator
 * section: --help / --version exit 0, usage errors exit 2, configs are validated strictly
 * (unknown keys, missing TLS, a coordinator without a graph) with OPTIONS_INVALID naming the field.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { validateAgentProcessConfig } from '../../src/cluster/agent-process.js'
import type { AgentProcessConfig } from '../../src/cluster/agent-process.js'
import { validateClusterNodeConfig } from '../../src/cluster/config.js'
import type { ClusterNodeConfig } from '../../src/cluster/config.js'
import { HA_KINDS, HA_RELATIONS } from '../../src/coordinator/schema.js'
import { isQuorateError } from '../../src/errors.js'

const BIN = fileURLToPath(new URL('../../src/cluster/agent-process.js', import.meta.url))

async function runBin (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], (err, stdout, stderr) => { resolve({ code: err === null ? 0 : Number(err.code), stdout, stderr }) })
  })
}

function invalid (fn: () => void, field: RegExp): void {
  assert.throws(fn, (err: unknown) => isQuorateError(err, 'OPTIONS_INVALID') && field.test((err as Error).message))
}

test('quorate-agent --help and --version exit 0; an unknown option or a missing --config exits 2 with the usage', async () => {
  const help = await runBin(['--help'])
  assert.equal(help.code, 0)
  assert.match(help.stdout, /--stop-services-on-exit/)
  assert.match((await runBin(['--version'])).stdout, /^quorate-agent \d+\.\d+\.\d+/)
  for (const args of [['--confg', 'x.json'], []]) {
    const bad = await runBin(args)
    assert.equal(bad.code, 2, JSON.stringify(args))
    assert.match(bad.stderr, /Usage: quorate-agent/)
  }
  const missing = await runBin(['--config', '/nonexistent/agent.json'])
  assert.equal(missing.code, 1)
  assert.match(missing.stderr, /OPTIONS_INVALID: cannot read the agent config/)
})

const agentConfig: AgentProcessConfig = {
  node: 'w1', dir: '/tmp/w1', listen: { host: '127.0.0.1', port: 0 }, insecure: true,
  station: { nodes: { n1: { host: '127.0.0.1', port: 8001 } } }, heartbeat: { port: 0, peers: { n1: { host: '127.0.0.1', port: 9001 } } }
}

test('an agent config is checked field by field', () => {
  validateAgentProcessConfig(agentConfig)
  invalid(() => { validateAgentProcessConfig({ ...agentConfig, colour: 'red' } as never) }, /colour/)
  invalid(() => { validateAgentProcessConfig({ ...agentConfig, insecure: undefined }) }, /"tls"/)
  invalid(() => { validateAgentProcessConfig({ ...agentConfig, station: { nodes: {} } }) }, /station\.nodes/)
  invalid(() => { validateAgentProcessConfig({ ...agentConfig, heartbeat: { port: 0, peers: { n1: { host: '127.0.0.1', port: 0 } } } }) }, /heartbeat\.peers\.n1\.port/)
})

const nodeConfig: ClusterNodeConfig = {
  id: 'n1', dataDir: '/tmp/n1', insecure: true, client: { insecure: true },
  members: { n1: { host: '127.0.0.1', raftPort: 0, clientPort: 0 } },
  graph: { schema: { kinds: HA_KINDS, relations: HA_RELATIONS } },
  coordinator: { agents: { w1: { host: '127.0.0.1', port: 7401 } }, leaseMs: 2000, heartbeat: { port: 0, peers: { w1: { host: '127.0.0.1', port: 7501 } } } }
}

test('a node config\'s coordinator section is checked, and needs a graph', () => {
  validateClusterNodeConfig(nodeConfig)
  invalid(() => { validateClusterNodeConfig({ ...nodeConfig, graph: undefined }) }, /"graph"/)
  invalid(() => { validateClusterNodeConfig({ ...nodeConfig, coordinator: { ...nodeConfig.coordinator!, leaseMS: 5 } as never }) }, /leaseMS/)
  invalid(() => { validateClusterNodeConfig({ ...nodeConfig, coordinator: { ...nodeConfig.coordinator!, leaseMs: 10 } }) }, /coordinator\.leaseMs/)
  invalid(() => { validateClusterNodeConfig({ ...nodeConfig, coordinator: { agents: { w1: { host: '', port: 1 } } } }) }, /coordinator\.agents\.w1\.host/)
})

test.run()
