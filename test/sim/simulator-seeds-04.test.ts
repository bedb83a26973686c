// Simulator sweep, batch 4 of 10 (seeds 451-600); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(4)
