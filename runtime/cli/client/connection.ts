import { DEFAULT_SERVICE_URL, ServiceClient } from './service-client.ts';

/** Flags every verb that talks to the service accepts (for `parseCommandLine`). */
export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The usage lines of {@link CONNECTION_OPTIONS}. */
export const CONNECTION_USAGE = `      --url <url>     service address (default: $SLUICE_URL or ${DEFAULT_SERVICE_URL})
      --token <token> bearer token (default: $SLUICE_TOKEN)
      --json          print the service's JSON answer instead of a table
  -h, --help          show this help`;

/** A client for `--url`/`SLUICE_URL` with `--token`/`SLUICE_TOKEN`. */
export function connect(values: { url?: string | undefined; token?: string | undefined }, env: NodeJS.ProcessEnv = process.env): ServiceClient {
  return new ServiceClient({ url: values.url ?? env['SLUICE_URL'] ?? DEFAULT_SERVICE_URL, token: values.token ?? env['SLUICE_TOKEN'] });
}
