// abstract-level's own test suite against ReplicatedLevel on a follower of a 3-node cluster
// (memory-level): writes are forwarded to the leader, reads go through ReadIndex.
import { runAbstractLevelSuite } from './abstract-suite.js'

runAbstractLevelSuite('abstract-level suite, 3 nodes', 3)
