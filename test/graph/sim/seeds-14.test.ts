/** Graph + events simulator seeds, batch 14 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(14)
