// Simulator sweep, batch 2 of 10 (seeds 151-300); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(2)
