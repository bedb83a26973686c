// Simulator sweep, batch 15 of 15 (seeds 1401-1500); see seed-batch.ts.
import { seedBatch } from './seed-batch.js'

seedBatch(15)
