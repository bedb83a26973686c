/** Graph + events simulator seeds, batch 11 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(11)
