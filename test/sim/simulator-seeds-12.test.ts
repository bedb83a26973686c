// Simulator sweep, batch 12 of 15 (seeds 1101-1200); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(12)
