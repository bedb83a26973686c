// Simulator sweep, batch 7 of 10 (seeds 901-1050); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(7)
