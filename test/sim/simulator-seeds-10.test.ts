// Simulator sweep, batch 10 of 10 (seeds 1351-1500); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(10)
