/** Graph + events simulator seeds, batch 1 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(1)
