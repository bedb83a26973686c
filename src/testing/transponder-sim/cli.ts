#!/usr/bin/env node
/**
 * `npm run sim:transponder`: the transponder simulator over many seeds (npm test runs five),
 * one line per seed, exit 1 if any seed has a violation. Replays one seed with `--seed S`.
 */
import { runCommandLine, intOption, flagOption, stringOption, isMainModule, usageError } from '../../util/cli.js'
import type { CliSpec, CliValues } from '../../util/cli.js'
import { TRANSPONDER_MUTANTS, runTransponderSim } from './simulator.js'
import type { TransponderMutant } from './simulator.js'

const SPEC: CliSpec = {
  name: 'quorate-sim-transponder',
  usage: [
    'usage: npm run sim:transponder -- [--seeds N] [--seed S] [--agents 5000] [--transponders 50] [--direct] [--mutant M]',
    '  --seeds N         seeds 1..N (default 10)',
    '  --seed S          one seed only (prints its whole report)',
    '  --agents, --transponders   scale (default 5000 behind 50)',
    '  --direct          agents straight to the core (the baseline)',
    `  --mutant M        a deliberately broken variant (the checks must fail): ${TRANSPONDER_MUTANTS.join(', ')}`
  ].join('\n'),
  options: {
    seeds: { type: 'string' }, seed: { type: 'string' }, agents: { type: 'string' }, transponders: { type: 'string' },
    direct: { type: 'boolean' }, mutant: { type: 'string' }
  }
}

interface Args { seeds: number[], agents: number, transponders: number, direct: boolean, mutant: TransponderMutant, verbose: boolean }

export function interpret (values: CliValues): Args {
  const mutant = stringOption(values, 'mutant') ?? 'none'
  if (mutant !== 'none' && !(TRANSPONDER_MUTANTS as readonly string[]).includes(mutant)) throw usageError(SPEC, `unknown mutant "${mutant}" (known: ${TRANSPONDER_MUTANTS.join(', ')})`)
  const one = values.seed === undefined ? undefined : intOption(SPEC, values, 'seed', 1, 0)
  const count = intOption(SPEC, values, 'seeds', 10, 1)
  return {
    seeds: one === undefined ? Array.from({ length: count }, (_, i) => i + 1) : [one],
    agents: intOption(SPEC, values, 'agents', 5000, 1),
    transponders: intOption(SPEC, values, 'transponders', 50, 1),
    direct: flagOption(values, 'direct'),
    mutant: mutant as TransponderMutant,
    verbose: one !== undefined
  }
}

async function run (args: Args): Promise<number> {
  let failed = 0
  for (const seed of args.seeds) {
    const r = await runTransponderSim({ seed, agents: args.agents, transponders: args.transponders, direct: args.direct, mutant: args.mutant })
    if (r.violations.length > 0) failed++
    console.log(args.verbose
      ? JSON.stringify(r, null, 2)
      : `seed ${seed}: ${r.violations.length} violations; core ${r.coreInboundPerSecond}/s, death p99 ${r.deathDetectionMs.p99} ms, fan-out ${(r.fanoutWithin2s * 100).toFixed(2)}% within 2 s, re-home max ${r.rehomeMs?.max ?? '-'} ms${r.violations.length > 0 ? `; first: ${r.violations[0]!}` : ''}`)
  }
  console.log(`${args.seeds.length - failed} of ${args.seeds.length} seeds clean`)
  return failed === 0 ? 0 : 1
}

if (isMainModule(import.meta.url)) await runCommandLine(SPEC, process.argv.slice(2), interpret, run)
