/** Graph + events simulator seeds, batch 4 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(4)
