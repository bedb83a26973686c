// abstract-level's own test suite, every module, on the database and on a sublevel of it,
// against ReplicatedLevel on a follower of a 3-node cluster (memory-level local databases):
// writes are forwarded to the leader, reads and iterators wait for ReadIndex.
import { runAbstractLevelSuite } from './abstract-suite.js'

runAbstractLevelSuite('abstract-level suite, 3 nodes', { nodes: 3 })
