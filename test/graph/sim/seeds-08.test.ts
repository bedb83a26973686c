/** Graph + events simulator seeds, batch 8 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(8)
