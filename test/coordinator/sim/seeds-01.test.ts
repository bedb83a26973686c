/** Coordinator simulation seeds, batch 1 of 10 (see seed-batch.ts). */
import { coordinatorSeedBatch } from './seed-batch.js'

coordinatorSeedBatch(1)
