// abstract-level's own test suite against ReplicatedLevel on a 1-node cluster (memory-level).
import { runAbstractLevelSuite } from './abstract-suite.js'

runAbstractLevelSuite('abstract-level suite, 1 node', 1)
