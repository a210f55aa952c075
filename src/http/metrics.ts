import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  requestSeconds: Histogram<'method' | 'route' | 'status'>;
}

/** One registry per app (not prom-client's global), so tests and several apps in one process stay apart. */
export function createMetrics(
  sources: { ledgerBatches?: () => { batches: number; operations: number; retries: number }; ledgerTransactions?: () => { reruns: number } } = {},
): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tally_' });
  const requests = new Counter({ name: 'tally_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const requestSeconds = new Histogram({
    name: 'tally_http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  if (sources.ledgerBatches) {
    const read = sources.ledgerBatches;
    for (const [name, help, field] of [
      ['tally_ledger_batches_total', 'Ledger batches committed', 'batches'],
      ['tally_ledger_operations_total', 'Ledger operations committed in batches', 'operations'],
      ['tally_ledger_batch_retries_total', 'Ledger batches retried after a deadlock or serialization failure', 'retries'],
    ] as const) {
      new Gauge({ name, help, registers: [registry], collect() { this.set(read()[field]); } });
    }
  }
  const transactions = sources.ledgerTransactions;
  if (transactions) {
    new Gauge({
      name: 'tally_ledger_transaction_reruns_total',
      help: 'Ledger transactions rerun under locks because an optimistic plan failed its proof',
      registers: [registry],
      collect() {
        this.set(transactions().reruns);
      },
    });
  }
  return { registry, requests, requestSeconds };
}
