import { test } from 'uvu'
import { seedTests } from './tuple-sim-seeds.js'

seedTests('mesh', 1)

test.run()
