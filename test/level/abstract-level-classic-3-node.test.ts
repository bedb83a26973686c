// abstract-level's own test suite, every module, on the database and on a sublevel of it,
// against ReplicatedLevel on a follower of a 3-node cluster whose local databases are
// classic-level (LevelDB on disk, in temporary directories removed after each cluster).
import { runAbstractLevelSuite } from './abstract-suite.js'

runAbstractLevelSuite('abstract-level suite, 3 nodes, classic-level', { nodes: 3, local: 'classic' })
