// Simulator sweep, batch 3 of 10 (seeds 301-450); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(3)
