/** Graph + events simulator seeds, batch 3 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(3)
