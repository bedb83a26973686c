// Simulator sweep, batch 11 of 15 (seeds 1001-1100); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(11)
