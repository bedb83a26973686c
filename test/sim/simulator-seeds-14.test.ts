// Simulator sweep, batch 14 of 15 (seeds 1301-1400); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(14)
