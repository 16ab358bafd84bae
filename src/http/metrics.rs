//! Prometheus metrics: requests by route and status, a latency histogram, and the pool gauges
//! (read from the pool at scrape time).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::db::Pool;

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool: IntGaugeVec,
    outbox: IntGaugeVec,
    outbox_oldest: IntGauge,
    deliveries: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("hotline".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by method, route pattern and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by method and route pattern",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Database pool connections by state (in_use, idle)",
            ),
            &["state"],
        )?;
        let outbox = IntGaugeVec::new(
            Opts::new(
                "outbox_messages",
                "Undelivered outbox messages by state (queued, sending, retrying, dead), all instances",
            ),
            &["state"],
        )?;
        let outbox_oldest = IntGauge::new(
            "outbox_oldest_pending_seconds",
            "Age of the oldest queued or retrying outbox message (0 when none)",
        )?;
        let deliveries = IntCounterVec::new(
            Opts::new(
                "outbox_deliveries_total",
                "Delivery attempts of this process by channel and outcome (delivered, failed, dead)",
            ),
            &["channel", "outcome"],
        )?;
        registry.register(Box::new(outbox.clone()))?;
        registry.register(Box::new(outbox_oldest.clone()))?;
        registry.register(Box::new(deliveries.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            latency,
            pool,
            outbox,
            outbox_oldest,
            deliveries,
        })
    }

    /// One delivery attempt's outcome (`delivered`, `failed`; `dead` when it was the last).
    pub fn outbox_delivery(&self, channel: &str, outcome: &str) {
        self.deliveries.with_label_values(&[channel, outcome]).inc();
    }

    /// The outbox counts, read from the database at scrape time.
    pub fn set_outbox(&self, stats: &crate::notify::outbox::Stats) {
        for (state, n) in [
            ("queued", stats.queued),
            ("sending", stats.sending),
            ("retrying", stats.retrying),
            ("dead", stats.dead),
        ] {
            self.outbox.with_label_values(&[state]).set(n);
        }
        self.outbox_oldest.set(stats.oldest_pending_seconds);
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, status.to_string().as_str()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// The text exposition format.
    pub fn render(&self, pool: &Pool) -> String {
        let state = pool.state();
        let idle = i64::from(state.idle_connections);
        let in_use = i64::from(state.connections) - idle;
        self.pool.with_label_values(&["in_use"]).set(in_use);
        self.pool.with_label_values(&["idle"]).set(idle);
        let mut buffer = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}
