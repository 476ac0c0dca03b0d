//! Events between instances: what one instance sends its event-stream
//! clients reaches the others' clients through PostgreSQL's LISTEN/NOTIFY.
//!
//! A notification carries the event itself (JSON text, opaque here) when it
//! fits NOTIFY's 8000 bytes, else `#<id>` of an `event_payload` row holding
//! it (a scan's list of mismatches can be larger). Notifications are
//! delivered at commit, in commit order, to every listening connection,
//! the sender's own included: receivers drop their own by the origin the
//! caller puts in the event.

use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;

use super::PgStore;
use crate::error::{Context, StoreError};

/// The channel every instance listens on.
const CHANNEL: &str = "tandem_events";
/// Largest payload sent inline: NOTIFY refuses 8000 bytes and more.
const INLINE_MAX: usize = 7900;
/// How long a listener waits before reconnecting after losing the database.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

impl PgStore {
    /// Sends `event` (JSON text) to every instance's [`PgStore::listen_events`].
    pub fn publish_event(&self, event: &str) -> Result<(), StoreError> {
        self.on_pool("publishing an event", |client| {
            let payload = if event.len() <= INLINE_MAX {
                event.to_string()
            } else {
                let mut tx = client.transaction().context("storing a large event")?;
                tx.execute(
                    "delete from event_payload where created_utc < $1",
                    &[&crate::convert::fmt_utc(self.now() - chrono::TimeDelta::minutes(1))],
                )
                .context("forgetting old large events")?;
                let row = tx
                    .query_one(
                        "insert into event_payload (body, created_utc) values ($1, $2) returning id",
                        &[&event, &crate::convert::fmt_utc(self.now())],
                    )
                    .context("storing a large event")?;
                let id: i64 = row.try_get(0).context("storing a large event")?;
                tx.execute("select pg_notify($1, $2)", &[&CHANNEL, &format!("#{id}")])
                    .context("publishing an event")?;
                tx.commit().context("publishing an event")?;
                return Ok(());
            };
            client
                .execute("select pg_notify($1, $2)", &[&CHANNEL, &payload])
                .context("publishing an event")?;
            Ok(())
        })
    }

    /// Calls `deliver` with each event any instance publishes, on a thread
    /// of its own with a connection of its own, reconnecting (after
    /// [`RECONNECT_PAUSE`]) whenever the database goes away, until `deliver`
    /// answers false. Events published while it was disconnected are lost:
    /// clients read the state again when they reconnect, as they do after
    /// any gap in the stream.
    pub fn listen_events(
        &self,
        deliver: impl Fn(String) -> bool + Send + 'static,
    ) -> std::thread::JoinHandle<()> {
        let config = self.config.clone();
        let target = self.target.clone();
        std::thread::Builder::new()
            .name("tandem-pg-listen".into())
            .spawn(move || {
                let mut warned = false;
                loop {
                    match listen_once(&config, &deliver) {
                        Ok(()) => return,
                        Err(e) => {
                            if !warned {
                                tracing::warn!(error = %e, database = %target, "listening for other instances' events; reconnecting");
                                warned = true;
                            }
                            std::thread::sleep(RECONNECT_PAUSE);
                        }
                    }
                }
            })
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot start the event listener");
                std::thread::spawn(|| {})
            })
    }
}

/// Listens until `deliver` says stop (`Ok`) or the connection fails (`Err`).
fn listen_once(
    config: &postgres::Config,
    deliver: &impl Fn(String) -> bool,
) -> Result<(), StoreError> {
    let mut client = config
        .connect(postgres::NoTls)
        .context("connecting to listen for events")?;
    client
        .batch_execute(&format!("listen {CHANNEL}"))
        .context("listening for events")?;
    tracing::info!("listening for other instances' events");
    loop {
        // Woken every second to notice a dead connection without traffic.
        let next = client
            .notifications()
            .timeout_iter(Duration::from_secs(1))
            .next()
            .context("waiting for events")?;
        let Some(note) = next else {
            if client.is_closed() {
                return Err(StoreError::Unavailable {
                    context: "listening for events".into(),
                    detail: "the connection closed".into(),
                });
            }
            continue;
        };
        let payload = note.payload();
        let event = match payload
            .strip_prefix('#')
            .and_then(|id| id.parse::<i64>().ok())
        {
            Some(id) => {
                let row = client
                    .query_opt("select body from event_payload where id = $1", &[&id])
                    .context("reading a large event")?;
                match row.map(|r| r.try_get::<_, String>(0)) {
                    Some(Ok(body)) => body,
                    _ => continue,
                }
            }
            None => payload.to_string(),
        };
        if !deliver(event) {
            return Ok(());
        }
    }
}
