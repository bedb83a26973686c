import { test } from 'uvu'
import { seedTests } from './tuple-sim-seeds.js'

seedTests('chain', 200351)

test.run()
