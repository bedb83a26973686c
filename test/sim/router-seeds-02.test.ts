// Router workload under the simulator, batch 2 of 2; see router-batch.ts.
import { routerBatch } from './router-batch.js'

routerBatch(2)
