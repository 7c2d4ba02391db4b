//! Live metrics: the Prometheus / OpenMetrics view of a running load, for
//! watching it in Grafana next to the database's own metrics. `live` holds
//! the metrics (fed once per interval by the stress engine's collector as a
//! `stress::Observer`), `buckets` turns the run's HDR histograms into
//! Prometheus histogram buckets (so percentiles come from summed buckets,
//! never averaged quantiles, across any number of generators), `serve` is
//! the `/metrics` endpoint and `push` sends the final figures to a
//! Pushgateway. Names start with `dbload_`, use base units (seconds,
//! bytes) and carry the run id; no label holds SQL text.

pub mod buckets;
pub mod hdr_log;
pub mod live;
pub mod push;
pub mod serve;
pub mod text;

pub use live::{LiveMetrics, StageWindows};
pub use serve::{Endpoint, ListenError};
