// Simulator sweep, batch 6 of 10 (seeds 751-900); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(6)
