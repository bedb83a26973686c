// abstract-level's own test suite, every module, on the database and on a sublevel of it,
// against ReplicatedLevel on a 1-node cluster whose local database is classic-level (LevelDB
// on disk, in temporary directories removed after each cluster).
import { runAbstractLevelSuite } from './abstract-suite.js'

runAbstractLevelSuite('abstract-level suite, 1 node, classic-level', { nodes: 1, local: 'classic' })
