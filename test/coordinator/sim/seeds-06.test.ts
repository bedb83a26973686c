/** Coordinator simulation seeds, batch 6 of 10 (see seed-batch.ts). */
import { coordinatorSeedBatch } from './seed-batch.js'

coordinatorSeedBatch(6)
