//! [`HashGate`]: the cap on password hashes running at once.
//!
//! One argon2id hash (the crate's defaults) takes about 19 MiB and tens of
//! milliseconds of a core. Without a cap, every concurrent login runs its
//! own, so a few hundred anonymous requests for made-up users take gigabytes
//! and starve real logins. The gate runs at most `concurrent` hashes on
//! blocking threads, lets at most `queue` more wait (each at most
//! [`MAX_WAIT`]), and answers anything beyond `503 Service Unavailable` with
//! `Retry-After` at once, before it costs memory or a thread.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};

/// Longest time a request waits in the queue for a hash to finish.
pub const MAX_WAIT: Duration = Duration::from_secs(10);
/// Most hashes run at once by default (fewer on hosts with fewer cores).
pub const DEFAULT_CONCURRENT: usize = 4;
/// Most requests waiting for a hash by default.
pub const DEFAULT_QUEUE: usize = 32;

/// Bounds how many password hashes run at once and how many wait.
#[derive(Debug)]
pub struct HashGate {
    permits: Arc<Semaphore>,
    concurrent: usize,
    queue: usize,
    waiting: AtomicUsize,
}

/// Counts a request as waiting until dropped (answered, or the client left).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Default for HashGate {
    /// [`DEFAULT_CONCURRENT`] hashes at once, or as many as the host has
    /// cores if fewer; [`DEFAULT_QUEUE`] waiting.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        HashGate::new(cores.min(DEFAULT_CONCURRENT), DEFAULT_QUEUE)
    }
}

impl HashGate {
    /// At most `concurrent` (at least 1) hashes at once, `queue` waiting.
    pub fn new(concurrent: usize, queue: usize) -> Self {
        let concurrent = concurrent.max(1);
        HashGate {
            permits: Arc::new(Semaphore::new(concurrent)),
            concurrent,
            queue,
            waiting: AtomicUsize::new(0),
        }
    }

    /// How many hashes may run at once.
    pub fn concurrent(&self) -> usize {
        self.concurrent
    }

    /// Runs `work` (which hashes) on a blocking thread once a place is free.
    /// `503` with `Retry-After` when the queue is full or the wait exceeds
    /// [`MAX_WAIT`]; `work` is then dropped without running. Once started,
    /// `work` runs to its end and holds its place until then, even if the
    /// client goes away.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> ApiResult<T> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(busy());
                }
                let _waiting = Waiting(&self.waiting);
                match tokio::time::timeout(MAX_WAIT, self.permits.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => permit,
                    _ => return Err(busy()),
                }
            }
        };
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(ApiError::internal)
    }
}

fn busy() -> ApiError {
    ApiError::busy("too many password checks at once; try again in a second", 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn beyond_the_running_and_waiting_hashes_requests_are_refused_at_once() {
        let gate = Arc::new(HashGate::new(1, 2));
        let release = Arc::new(AtomicBool::new(false));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (gate, release, running, peak) =
                (gate.clone(), release.clone(), running.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                gate.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    while !release.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
                .map_err(|e| e.status())
            }));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        release.store(true, Ordering::SeqCst);
        let mut ran = 0;
        let mut refused = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(()) => ran += 1,
                Err(status) => {
                    assert_eq!(status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
                    refused += 1;
                }
            }
        }
        assert_eq!((ran, refused), (3, 5), "one running, two waiting");
        assert_eq!(peak.load(Ordering::SeqCst), 1);
    }
}
