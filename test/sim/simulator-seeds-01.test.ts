// Simulator sweep, batch 1 of 15 (seeds 1-100); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(1)
