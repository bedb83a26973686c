// Simulator sweep, batch 8 of 15 (seeds 701-800); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(8)
