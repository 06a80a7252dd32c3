//! The client: a bounded buffer in front of one background task that batches and sends.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::event::Event;
use crate::send::{Counters, Sender, Settings};

/// Most events the server takes in one request.
const MAX_BATCH: usize = 500;

/// Configuration of a [`Client`]; start with [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    endpoint: String,
    api_key: Option<String>,
    batch_size: usize,
    flush_interval: Duration,
    buffer: usize,
    settings: Settings,
}

/// Why a client could not be built.
#[derive(Debug)]
pub enum BuildError {
    /// The endpoint is not an `http://` or `https://` URL.
    InvalidEndpoint(String),
    /// `build` was called outside a tokio runtime (the background task needs one).
    NoRuntime,
    /// The HTTP client could not be set up.
    Http(reqwest::Error),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::InvalidEndpoint(e) => {
                write!(f, "endpoint must be an http(s) URL, got {e:?}")
            }
            BuildError::NoRuntime => {
                f.write_str("aicp-client must be built inside a tokio runtime")
            }
            BuildError::Http(e) => write!(f, "cannot set up the HTTP client: {e}"),
        }
    }
}

impl std::error::Error for BuildError {}

impl ClientBuilder {
    /// The API key, sent as `X-API-Key`.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Events per request, 1..=500 (default 100); a full batch is sent at once.
    #[must_use]
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.clamp(1, MAX_BATCH);
        self
    }

    /// Longest time an event waits for its batch to fill (default 1 s).
    #[must_use]
    pub fn flush_interval(mut self, every: Duration) -> Self {
        self.flush_interval = every.max(Duration::from_millis(1));
        self
    }

    /// Events the buffer holds (default 10,000); past it the oldest is dropped.
    #[must_use]
    pub fn buffer(mut self, events: usize) -> Self {
        self.buffer = events.max(1);
        self
    }

    /// Attempts per batch before it is given up (default 5).
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.settings.max_attempts = n.max(1);
        self
    }

    /// First retry delay (default 200 ms), doubled per attempt up to `max` (default 30 s), each
    /// delay randomised to between half and all of it. A `Retry-After` from the server wins.
    #[must_use]
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.settings.base_backoff = base;
        self.settings.max_backoff = max.max(base);
        self
    }

    /// Longest wait for one request, connection included (default 10 s).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// Whether request bodies are gzip-compressed (default yes).
    #[must_use]
    pub fn gzip(mut self, on: bool) -> Self {
        self.settings.gzip = on;
        self
    }

    /// Starts the background task.
    ///
    /// # Errors
    /// [`BuildError`]: a bad endpoint, no tokio runtime, or no HTTP client.
    pub fn build(self) -> Result<Client, BuildError> {
        let endpoint = self.endpoint.trim().trim_end_matches('/').to_owned();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(BuildError::InvalidEndpoint(endpoint));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| BuildError::NoRuntime)?;
        let sender = Sender::new(format!("{endpoint}/api/v1/events"), self.api_key, self.settings)
            .map_err(BuildError::Http)?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            capacity: self.buffer,
            batch_size: self.batch_size,
            wake: Notify::new(),
            counters: Counters::default(),
        });
        let (commands, rx) = mpsc::unbounded_channel();
        let task = runtime.spawn(run(Arc::clone(&shared), sender, rx, self.flush_interval));
        Ok(Client { shared, commands, task: Mutex::new(Some(task)) })
    }
}

/// Records events and delivers them in the background. Cheap to share behind an `Arc`.
pub struct Client {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

/// What a client did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events given to [`Client::record`].
    pub recorded: u64,
    /// Events the server accepted (stored now or already stored).
    pub sent: u64,
    /// Events dropped because the buffer was full (the oldest go first).
    pub dropped: u64,
    /// Events the server refused as invalid (the rest of their batch was sent).
    pub rejected: u64,
    /// Events given up after the last attempt, or refused for a reason retrying cannot fix
    /// (a wrong key: 401/403).
    pub failed: u64,
    /// Requests retried.
    pub retries: u64,
    /// Events waiting in the buffer.
    pub queued: u64,
}

impl Client {
    /// A builder for a server at `endpoint` (`http://localhost:3100`).
    pub fn builder(endpoint: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            endpoint: endpoint.into(),
            api_key: None,
            batch_size: 100,
            flush_interval: Duration::from_secs(1),
            buffer: 10_000,
            settings: Settings::default(),
        }
    }

    /// Queues `event` for delivery. Never waits for the network and never fails; when the buffer
    /// is full the oldest event is dropped and counted in [`Stats::dropped`].
    pub fn record(&self, event: Event) {
        let c = &self.shared.counters;
        c.recorded.fetch_add(1, Ordering::Relaxed);
        let len = {
            let mut q = self.shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
            if q.len() >= self.shared.capacity {
                q.pop_front();
                c.dropped.fetch_add(1, Ordering::Relaxed);
            }
            q.push_back(event);
            q.len()
        };
        if len >= self.shared.batch_size {
            self.shared.wake.notify_one();
        }
    }

    /// Waits until every event recorded before the call was delivered, rejected or given up.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Flush(tx)).is_ok() {
            // An error means the task is gone (shut down): nothing left to wait for.
            let _ = rx.await;
        }
    }

    /// Flushes, then stops the background task. Records after this are counted, never sent.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown(tx)).is_ok() {
            let _ = rx.await;
        }
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        let queued = self.shared.queue.lock().unwrap_or_else(PoisonError::into_inner).len();
        Stats {
            recorded: c.recorded.load(Ordering::Relaxed),
            sent: c.sent.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            queued: queued as u64,
        }
    }
}

// Dropping the client closes the command channel; the task then sends what is buffered and ends
// (as long as the runtime still runs).

/// What the client and its task share.
pub(crate) struct Shared {
    queue: Mutex<VecDeque<Event>>,
    capacity: usize,
    batch_size: usize,
    wake: Notify,
    pub(crate) counters: Counters,
}

enum Command {
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

impl Shared {
    /// Takes the next batch: a full one, or (when `partial`) whatever is there.
    fn take(&self, partial: bool) -> Option<Vec<Event>> {
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if q.is_empty() || (!partial && q.len() < self.batch_size) {
            return None;
        }
        let n = q.len().min(self.batch_size);
        Some(q.drain(..n).collect())
    }
}

async fn run(
    shared: Arc<Shared>,
    sender: Sender,
    mut commands: mpsc::UnboundedReceiver<Command>,
    every: Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shared.wake.notified() => drain(&shared, &sender, false).await,
            _ = tick.tick() => drain(&shared, &sender, true).await,
            command = commands.recv() => {
                drain(&shared, &sender, true).await;
                match command {
                    Some(Command::Flush(done)) => { let _ = done.send(()); }
                    Some(Command::Shutdown(done)) => { let _ = done.send(()); return; }
                    None => return,
                }
            }
        }
    }
}

/// Sends full batches (or everything, when `partial`) until the buffer has none left.
async fn drain(shared: &Shared, sender: &Sender, partial: bool) {
    while let Some(batch) = shared.take(partial) {
        sender.deliver(batch, &shared.counters).await;
    }
}
