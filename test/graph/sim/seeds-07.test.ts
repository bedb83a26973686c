/** Graph + events simulator seeds, batch 7 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(7)
