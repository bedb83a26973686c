import { test } from 'uvu'
import { seedTests } from './tuple-sim-seeds.js'

seedTests('star', 100351)

test.run()
