// Simulator sweep, batch 5 of 10 (seeds 601-750); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(5)
