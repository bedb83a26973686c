/** Graph + events simulator seeds, batch 6 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(6)
