/** Graph + events simulator seeds, batch 17 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(17)
