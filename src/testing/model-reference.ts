/**
 * A model named so that another thread can load it: a Model object cannot be sent to a worker
 * (its functions do not survive structured cloning), so workers get a reference and load the
 * model themselves. The built-in models go by name; a user's model by the URL of an ES module
 * and the name of the export holding the Model object (the module must load in a worker:
 * no dependence on state set up by the main thread).
 */
import { check } from '../util/validate.js'
import type { Model } from './model.js'
import { kvModel } from './kv-model.js'
import { registerModel } from './register-model.js'
import type { RegisterValue } from './register-model.js'

export type ModelReference =
  | { readonly builtin: 'kv' }
  | { readonly builtin: 'register', readonly initial?: RegisterValue }
  /** `module`: a file: URL (or absolute URL string), e.g. `new URL('./my-model.js', import.meta.url)`. */
  | { readonly module: string | URL, readonly export: string }

/** The reference in a form that structured cloning keeps (URLs become strings). */
export function cloneableReference (ref: ModelReference): ModelReference {
  return 'module' in ref ? { module: String(ref.module), export: ref.export } : ref
}

/** Throws OPTIONS_INVALID unless `ref` is a well-formed reference. */
export function validateModelReference (ref: ModelReference): void {
  const shape = 'a model reference: { builtin: "kv" }, { builtin: "register", initial? } or { module: URL, export: name }'
  check(ref !== null && typeof ref === 'object', 'checkLinearizabilityInWorkers', 'model', shape, ref)
  if ('builtin' in ref) {
    check(ref.builtin === 'kv' || ref.builtin === 'register', 'checkLinearizabilityInWorkers', 'model.builtin', '"kv" or "register"', ref.builtin)
    return
  }
  check('module' in ref && (typeof ref.module === 'string' || ref.module instanceof URL), 'checkLinearizabilityInWorkers', 'model.module', 'a module URL', (ref as { module?: unknown }).module)
  check(typeof ref.export === 'string' && ref.export !== '', 'checkLinearizabilityInWorkers', 'model.export', 'an export name', ref.export)
}

/** Loads the model a reference names (the same object in every thread that loads it). */
export async function loadModel (ref: ModelReference): Promise<Model<unknown, unknown, unknown>> {
  if ('builtin' in ref) {
    return (ref.builtin === 'kv' ? kvModel : registerModel(ref.initial ?? null)) as Model<unknown, unknown, unknown>
  }
  const module = await import(String(ref.module)) as Record<string, unknown>
  const model = module[ref.export]
  check(model !== null && typeof model === 'object', 'checkLinearizabilityInWorkers', 'model.export',
    `the name of an export of ${String(ref.module)} holding a Model object`, ref.export)
  return model as Model<unknown, unknown, unknown>
}
