/**
 * Checks made before the demo starts anything: mutual TLS needs the system `openssl` to make
 * the development certificates (createDevCertificates runs it), so a missing one is reported
 * with what to do instead of as a failed certificate step halfway through the start.
 */
import { execFile } from 'node:child_process'

/** The message printed when `openssl` cannot be run. */
export const OPENSSL_MISSING = `openssl was not found on PATH. The demo makes its mutual-TLS certificates with it.
Either install it (Debian/Ubuntu: sudo apt-get install openssl; Fedora: sudo dnf install openssl;
macOS: it ships with the system, or brew install openssl), or run without certificates:
  npm start -- --insecure      node processes over plain TCP on 127.0.0.1
  npm start -- --in-process    every node in this process on the in-memory network`

/** Resolves true when `openssl version` runs. */
export async function opensslAvailable (): Promise<boolean> {
  return await new Promise((resolve) => {
    execFile('openssl', ['version'], (err) => { resolve(err === null) })
  })
}
