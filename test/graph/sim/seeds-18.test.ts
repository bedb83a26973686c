/** Graph + events simulator seeds, batch 18 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(18)
