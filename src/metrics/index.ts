/**
 * metrics/: iro's Prometheus metrics and their HTTP endpoint. The only importer of prom-client
 * (DESIGN.md module map). The dataplane implements MetricsSource and reports events to a
 * MetricsRecorder; cli/ calls createMetrics() and startMetricsServer().
 */
export * from './types.js';
export { createMetrics, HANDOVER_BUCKETS, POOL_BATCH_BUCKETS, POOL_TASK_BUCKETS, type IroMetrics, type MetricsOptions } from './registry.js';
export {
  DEFAULT_METRICS_HOST,
  DEFAULT_METRICS_PORT,
  formatHostPort,
  startMetricsServer,
  type MetricsServer,
  type MetricsServerOptions,
} from './server.js';
