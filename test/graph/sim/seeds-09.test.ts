/** Graph + events simulator seeds, batch 9 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(9)
