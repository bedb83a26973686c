// Simulator sweep, batch 9 of 10 (seeds 1201-1350); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(9)
