/** Runs a built command-line tool the way a user does: its package.json `bin`, through a symlink as npm installs it. */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string, bin: Record<string, string> }
export const version = pkg.version

export interface Run { readonly status: number | null, readonly stdout: string, readonly stderr: string }

/** A temporary folder holding `name` as a symlink to the bin's script (like node_modules/.bin). */
export function linkedBin (name: string): { readonly path: string, readonly cleanup: () => void } {
  const script = pkg.bin[name]
  if (script === undefined) throw new Error(`package.json has no bin ${name}`)
  const dir = mkdtempSync(join(tmpdir(), 'quorate-bin-'))
  const path = join(dir, name)
  symlinkSync(join(root, script), path)
  return { path, cleanup: () => { rmSync(dir, { recursive: true, force: true }) } }
}

export function run (script: string, args: readonly string[], cwd = root): Run {
  const r = spawnSync(process.execPath, [script, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}
