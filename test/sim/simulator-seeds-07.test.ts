// Simulator sweep, batch 7 of 15 (seeds 601-700); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(7)
