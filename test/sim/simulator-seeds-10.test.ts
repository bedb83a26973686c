// Simulator sweep, batch 10 of 15 (seeds 901-1000); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(10)
