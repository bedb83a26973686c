/** What the coordinator tests import from the package's public entry points. */
export * from '../../src/coordinator/index.js'
export { ref } from '../../src/graph/schema.js'
