import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { registerOpsMetrics, type OpsSources } from './ops-metrics.ts';

export interface Metrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  requestSeconds: Histogram<'method' | 'route' | 'status'>;
}

/** One registry per app (not prom-client's global), so tests and several apps in one process stay apart. */
export function createMetrics(
  sources: {
    ledgerBatches?: () => { batches: number; operations: number; retries: number };
    ledgerTransactions?: () => { reruns: number };
    ops?: OpsSources;
  } = {},
): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tally_' });
  // prom-client names three gauges *_total, which promtool (rightly) rejects: only counters end in _total.
  for (const name of ['active_resources_total', 'active_handles_total', 'active_requests_total']) registry.removeSingleMetric(`tally_nodejs_${name}`);
  const requests = new Counter({
    name: 'tally_http_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const requestSeconds = new Histogram({
    name: 'tally_http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // The ledger keeps running totals in memory; each scrape adds what was counted since the last one,
  // so these are true counters (a restart starts them again at zero, as Prometheus expects).
  const totals: [string, string, () => number][] = [];
  if (sources.ledgerBatches) {
    const read = sources.ledgerBatches;
    totals.push(
      ['tally_ledger_batches_total', 'Ledger batches committed', () => read().batches],
      ['tally_ledger_operations_total', 'Ledger operations committed in batches', () => read().operations],
      ['tally_ledger_batch_retries_total', 'Ledger batches retried after a deadlock or serialization failure', () => read().retries],
    );
  }
  const transactions = sources.ledgerTransactions;
  if (transactions)
    totals.push([
      'tally_ledger_transaction_reruns_total',
      'Ledger transactions rerun under locks because an optimistic plan failed its proof',
      () => transactions().reruns,
    ]);
  for (const [name, help, read] of totals) {
    let counted = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const now = read();
        if (now > counted) this.inc(now - counted);
        counted = Math.max(counted, now);
      },
    });
  }
  if (sources.ops) registerOpsMetrics(registry, sources.ops);
  return { registry, requests, requestSeconds };
}
