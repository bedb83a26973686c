import { test } from 'uvu'
import { seedTests } from './tuple-sim-seeds.js'

seedTests('mesh', 351)

test.run()
