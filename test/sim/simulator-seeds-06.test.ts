// Simulator sweep, batch 6 of 15 (seeds 501-600); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(6)
