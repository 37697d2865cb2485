// prom-client metrics of the operator, registered on a registry the caller owns (never the global default one, so
// tests and several managers in one process do not collide).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface OperatorMetrics {
  registry: Registry;
  reconciles: Counter<"kind" | "result">;
  reconcileErrors: Counter<"kind">;
  reconcileDuration: Histogram<"kind">;
  queueDepth: Gauge<"kind">;
  apiRequests: Counter<"verb" | "resource" | "code">;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): OperatorMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "tributary_operator_" });
  return {
    registry,
    reconciles: new Counter({
      name: "tributary_operator_reconciles_total",
      help: "Reconcile passes by kind and result (success, requeue, error, invalid)",
      labelNames: ["kind", "result"],
      registers: [registry],
    }),
    reconcileErrors: new Counter({
      name: "tributary_operator_reconcile_errors_total",
      help: "Reconcile passes that failed and were retried with backoff",
      labelNames: ["kind"],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: "tributary_operator_reconcile_duration_seconds",
      help: "Duration of one reconcile pass",
      labelNames: ["kind"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: "tributary_operator_queue_depth",
      help: "Keys waiting in the work queue",
      labelNames: ["kind"],
      registers: [registry],
    }),
    apiRequests: new Counter({
      name: "tributary_operator_api_requests_total",
      help: "Requests to the Kubernetes API server by verb, resource kind and status code",
      labelNames: ["verb", "resource", "code"],
      registers: [registry],
    }),
  };
}
