/** Graph + events simulator seeds, batch 16 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(16)
