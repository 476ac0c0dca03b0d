//! Prometheus metrics: API latency, live command latency per site, and gauges
//! read at scrape time (pending operations, open mismatches, site state).

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of an API request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// HTTP method.
    pub method: String,
    /// The matched route (not the raw path: bounded cardinality).
    pub route: String,
    /// Status code.
    pub status: u16,
}

/// Labels of one ONVIF exchange.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The site id.
    pub site: String,
    /// `answered` (any HTTP answer, faults included) or `unreachable`.
    pub outcome: String,
}

/// Labels naming a site.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SiteLabels {
    /// The site id.
    pub site: String,
}

fn latency_histogram() -> Histogram {
    // 0.1 ms to about 6.5 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

/// The service's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// API latency.
    pub requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
    /// Live ONVIF command latency per site.
    pub live_commands: Family<SiteLabels, Histogram, fn() -> Histogram>,
    /// Every ONVIF exchange's latency per site and outcome.
    pub onvif_calls: Family<CallLabels, Histogram, fn() -> Histogram>,
    /// Pending (operation, site) parts.
    pub pending: Gauge,
    /// Open mismatches.
    pub mismatches: Gauge,
    /// 1 when a site is up, 0 when down (0.5 is not used: degraded counts as up).
    pub site_up: Family<SiteLabels, Gauge>,
    /// 1 for the active site.
    pub site_active: Family<SiteLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("tandem");
        let requests = Family::<RequestLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let live_commands =
            Family::<SiteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            );
        let onvif_calls = Family::<CallLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "onvif_call_duration_seconds",
            "ONVIF exchange latency per site and outcome",
            onvif_calls.clone(),
        );
        let (pending, mismatches) = (Gauge::default(), Gauge::default());
        let (site_up, site_active) = (Family::default(), Family::default());
        registry.register(
            "http_request_duration_seconds",
            "API request latency",
            requests.clone(),
        );
        registry.register(
            "live_command_duration_seconds",
            "Live PTZ command latency per site",
            live_commands.clone(),
        );
        registry.register(
            "pending_operations",
            "Operation parts pending on a site",
            pending.clone(),
        );
        registry.register(
            "open_mismatches",
            "Open mismatches as of the last scans",
            mismatches.clone(),
        );
        registry.register(
            "site_up",
            "Whether a site answers (1) or not (0)",
            site_up.clone(),
        );
        registry.register(
            "site_active",
            "The site live control goes to (1)",
            site_active.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            requests,
            live_commands,
            onvif_calls,
            pending,
            mismatches,
            site_up,
            site_active,
        }
    }
}

impl Metrics {
    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}
