// Simulator sweep, batch 4 of 15 (seeds 301-400); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(4)
