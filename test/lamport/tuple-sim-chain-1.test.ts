import { test } from 'uvu'
import { seedTests } from './tuple-sim-seeds.js'

seedTests('chain', 200001)

test.run()
