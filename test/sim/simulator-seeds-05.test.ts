// Simulator sweep, batch 5 of 15 (seeds 401-500); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(5)
