// Simulator sweep, batch 1 of 10 (seeds 1-150); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(1)
