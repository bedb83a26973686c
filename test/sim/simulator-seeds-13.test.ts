// Simulator sweep, batch 13 of 15 (seeds 1201-1300); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(13)
