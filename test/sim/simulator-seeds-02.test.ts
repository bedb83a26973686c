// Simulator sweep, batch 2 of 15 (seeds 101-200); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(2)
