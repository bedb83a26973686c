// Simulator sweep, batch 9 of 15 (seeds 801-900); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(9)
