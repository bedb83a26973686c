/** Graph + events simulator seeds, batch 12 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(12)
