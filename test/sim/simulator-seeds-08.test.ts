// Simulator sweep, batch 8 of 10 (seeds 1051-1200); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(8)
