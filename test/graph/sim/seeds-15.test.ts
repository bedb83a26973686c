/** Graph + events simulator seeds, batch 15 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(15)
