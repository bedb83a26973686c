/** Graph + events simulator seeds, batch 13 of FILES (see seeds.ts). */
import { seedBatch } from './seeds.js'

seedBatch(13)
