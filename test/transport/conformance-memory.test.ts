import { test } from 'uvu'
import { createMemoryCluster, type MemoryNetworkOptions } from '../../src/transport/memory.js'
import { transportConformance, type TransportCluster } from '../../src/testing/transport-conformance.js'
import type { NodeId } from '../../src/raft/types.js'

function factory (options: MemoryNetworkOptions): (ids: readonly NodeId[]) => Promise<TransportCluster> {
  return async (ids) => {
    const { network, transports } = createMemoryCluster(ids, options)
    return { transports, close: async () => await network.close() }
  }
}

transportConformance(test, { name: 'MemoryNetwork (defaults)', fifo: true, createCluster: factory({}) })

transportConformance(test, {
  name: 'MemoryNetwork (latency and reordering)',
  fifo: false,
  createCluster: factory({ latency: { min: 0, max: 3 }, reorder: true })
})

transportConformance(test, {
  name: 'MemoryNetwork (FIFO links with latency)',
  fifo: true,
  createCluster: factory({ latency: { min: 0, max: 3 } })
})

test.run()
