// Simulator sweep, batch 3 of 15 (seeds 201-300); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(3)
