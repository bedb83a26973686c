/** Graph + events simulator seeds, batch 2 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(2)
