import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { SluiceError } from '../../runtime/errors/index.ts';
import type { Logger } from '../../runtime/logging/index.ts';
import type { Broker } from './broker.ts';
import { Connection, type ClientConnection } from './connection.ts';
import type { SaslOptions } from './sasl/sasl-session.ts';

/** A TLS listener's key and certificate chain (PEM), as Kafka's `ssl.keystore` holds them. */
export interface TlsOptions {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
}

/** How clients must connect: TLS (Kafka's SSL listener), SASL (SASL_PLAINTEXT), both (SASL_SSL) or neither. */
export interface ListenerSecurity {
  readonly tls?: TlsOptions;
  readonly sasl?: SaslOptions;
}
import type { FaultState } from './faults.ts';

const CLOSE_GRACE_MS = 20;

/**
 * The TCP side: a listener whose accepted sockets (TLS ones once their handshake is done) become
 * {@link Connection}s. It can stop and resume listening on the same port (fault injection) without touching broker
 * state.
 */
export class KafkaServer {
  readonly #host: string;
  readonly #broker: Broker;
  readonly #faults: FaultState;
  readonly #log: Logger;
  readonly #connections = new Set<Connection>();
  #server: Server | undefined;
  #port = 0;

  readonly #security: ListenerSecurity;

  constructor(host: string, broker: Broker, faults: FaultState, log: Logger, security: ListenerSecurity = {}) {
    this.#security = security;
    this.#host = host;
    this.#broker = broker;
    this.#faults = faults;
    this.#log = log;
  }

  get port(): number {
    return this.#port;
  }

  get listening(): boolean {
    return this.#server !== undefined;
  }

  /** Listens on `port` (0 = any free port the first time; afterwards the same port again). */
  async listen(port: number): Promise<void> {
    if (this.#server !== undefined) return;
    const tls = this.#security.tls;
    const server =
      tls === undefined
        ? createServer((socket) => this.#accept(socket))
        : createTlsServer({ key: tls.key, cert: tls.cert }, (socket) => this.#accept(socket)).on('tlsClientError', (err) =>
            this.#log.debug({ err: err.message }, 'kafka TLS handshake failed'),
          );
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        reject(
          new SluiceError(
            'SLUICE_DEVSTACK_KAFKA_LISTEN',
            `devstack Kafka broker cannot listen on ${this.#host}:${port} (${err.message}); pick another port or use port 0`,
            { cause: err },
          ),
        );
      };
      server.once('error', onError);
      server.listen(port, this.#host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', (err) => this.#log.error({ err }, 'kafka listener error'));
    const address = server.address();
    this.#port = typeof address === 'object' && address !== null ? address.port : port;
    this.#server = server;
  }

  /**
   * Stops accepting connections; open ones stay. Does not wait for them: `server.close`'s callback only fires once
   * every connection has ended, while the listening socket itself is released right away.
   */
  async stopListening(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    server.close();
    await new Promise((resolve) => setImmediate(resolve));
  }

  /** The open client connections. */
  clientConnections(): ClientConnection[] {
    return [...this.#connections].map((c) => c.client);
  }

  dropConnections(): void {
    for (const c of [...this.#connections]) c.destroy();
    this.#connections.clear();
  }

  async close(): Promise<void> {
    const stopped = this.stopListening();
    const hadClients = this.#connections.size > 0;
    this.dropConnections();
    await stopped;
    // Give clients in this process an event-loop turn or two to read the FIN before the caller moves on (e.g.
    // restarts on the same port): otherwise a client can still write a request into its dead socket and fail it
    // with "connection closed" instead of reconnecting. A real broker restart takes seconds, so this never shows.
    if (hadClients) await new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS));
  }

  #accept(socket: Socket): void {
    const conn = new Connection(socket, this.#broker, this.#faults, this.#log, this.#security.sasl);
    this.#connections.add(conn);
    socket.on('close', () => this.#connections.delete(conn));
  }
}
