/**
 * Quorum commit index (src/raft/quorum.ts): majorityCommitted over 3, 5 and 7 voters and
 * jointCommitted over a 3+3 joint configuration, with the scratch array reused as the core
 * does. Writes bench/results/quorum.json.
 *
 *   npm run build && node dist/bench/quorum.js
 */
import b from 'benny'
import { jointCommitted, majorityCommitted } from '../src/raft/quorum.js'
import { writeBennyResult } from './measure.js'

const voters = (n: number, prefix = 'n'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`)
const matches = new Map<string, number>()
for (const id of [...voters(7), ...voters(3, 'o')]) matches.set(id, 1000 + Math.floor(Math.random() * 100))
const matchOf = (id: string): number => matches.get(id)!
const scratch: number[] = []
let sink = 0

const cases = [3, 5, 7].map((n) => {
  const ids = voters(n)
  return b.add(`majorityCommitted ${n} voters`, () => { sink += majorityCommitted(ids, matchOf, scratch) })
})
const incoming = voters(3)
const outgoing = voters(3, 'o')

const summary = await b.suite(
  'quorum commit index',
  ...cases,
  b.add('jointCommitted 3+3 voters', () => { sink += jointCommitted(incoming, outgoing, matchOf, scratch) }),
  b.cycle(),
  b.complete()
)
console.log(`(sink ${sink > 0 ? 'ok' : 'empty'})`)
writeBennyResult('quorum', summary)
