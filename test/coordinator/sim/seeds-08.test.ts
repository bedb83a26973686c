/** Coordinator simulation seeds, batch 8 of 10 (see seed-batch.ts). */
import { coordinatorSeedBatch } from './seed-batch.js'

coordinatorSeedBatch(8)
