/**
 * The test-only TLS key and certificate of test/fixtures/tls (self-signed, for 127.0.0.1 and localhost): a devstack
 * broker listens with them, and clients trust the certificate as their CA.
 *
 * @example
 * const kafka = new Kafka({ brokers, ssl: { ca: [TEST_TLS.cert] } })
 */
import { readFileSync } from 'node:fs'

const dir = new URL('../fixtures/tls/', import.meta.url)

export const TEST_TLS = {
  key: readFileSync(new URL('localhost-key.pem', dir), 'utf8'),
  cert: readFileSync(new URL('localhost-cert.pem', dir), 'utf8'),
  /** The certificate's path, for NODE_EXTRA_CA_CERTS of a child process. */
  certPath: new URL('localhost-cert.pem', dir).pathname,
} as const
