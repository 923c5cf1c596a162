/** The Prometheus /metrics endpoint (prom-client's registry and text format). */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

interface MetricOptions {
  labelNames?: string[];
  buckets?: number[];
}
type MetricKind<M> = new (config: { name: string; help: string; registers: Registry[] } & MetricOptions) => M;

export class Metrics {
  readonly registry = new Registry();
  readonly leases = this.declare(Gauge, 'tscni_agent_leases', 'Subnet leases in etcd, this node included');
  readonly peers = this.declare(Gauge, 'tscni_agent_peers', 'Peer leases programmed into the data plane');
  readonly refusedPeers = this.declare(
    Gauge,
    'tscni_agent_refused_peers',
    'Peer leases not programmed (e.g. host-gw peer not on the same L2 segment)',
  );
  readonly watchReconnects = this.declare(
    Counter,
    'tscni_agent_watch_reconnects_total',
    'Times the etcd watch stream was lost and re-established',
  );
  readonly etcdErrors = this.declare(
    Counter,
    'tscni_agent_etcd_errors_total',
    'Failed etcd operations (retried with backoff)',
    { labelNames: ['op'] },
  );
  readonly leaseRenewals = this.declare(
    Counter,
    'tscni_agent_lease_renewals_total',
    'Successful renewals of this node’s lease',
  );
  readonly leaseAcquisitions = this.declare(
    Counter,
    'tscni_agent_lease_acquisitions_total',
    'Times this node acquired (or re-acquired) its lease',
  );
  readonly programming = this.declare(
    Histogram,
    'tscni_agent_programming_seconds',
    'Time to bring routes, neighbours and FDB entries in step with the leases',
    { buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] },
  );
  private server?: Server;

  /** Listen on host:port (a port of 0 picks one); resolves to the bound address. */
  listen(addr: string): Promise<string> {
    const i = addr.lastIndexOf(':');
    const host = addr.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0';
    const port = Number(addr.slice(i + 1));
    this.server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404).end('not found\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(`${err.message}\n`),
      );
    });
    return new Promise((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => {
        const a = this.server!.address();
        resolve(typeof a === 'object' && a ? `${a.address}:${a.port}` : addr);
      });
    });
  }

  close(): void {
    this.server?.close();
  }

  /** Every metric is declared through here: on this registry, never prom-client's global one. */
  private declare<M>(Kind: MetricKind<M>, name: string, help: string, more: MetricOptions = {}): M {
    return new Kind({ name, help, registers: [this.registry], ...more });
  }
}
