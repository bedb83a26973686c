/** Graph + events simulator seeds, batch 10 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(10)
