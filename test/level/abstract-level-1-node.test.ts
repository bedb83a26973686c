// abstract-level's own test suite, every module, on the database and on a sublevel of it,
// against ReplicatedLevel on a 1-node cluster (memory-level local databases).
import { runAbstractLevelSuite } from './abstract-suite.js'

runAbstractLevelSuite('abstract-level suite, 1 node', { nodes: 1 })
