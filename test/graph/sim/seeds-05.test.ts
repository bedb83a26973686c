/** Graph + events simulator seeds, batch 5 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(5)
