// Hashes and random names, with node:crypto loaded on first use: commands that never hash (down,
// status, logs, exec) do not pay for loading it.
import { createRequire } from 'node:module';

type Crypto = typeof import('node:crypto');
let loaded: Crypto | undefined;
const crypto = (): Crypto => (loaded ??= createRequire(import.meta.url)('node:crypto') as Crypto);

/** Hex SHA-256 of the parts, in order, cut to `length` characters. */
export function sha256(parts: (string | Uint8Array)[], length = 64): string {
  const h = crypto().createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex').slice(0, length);
}

/** `bytes` random bytes as hex (unique names and delimiters). */
export const randomHex = (bytes: number): string => crypto().randomBytes(bytes).toString('hex');
