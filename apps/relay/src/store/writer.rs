//! The group-commit writer: the threads that own every write.
//!
//! Handlers send [`WriteOp`]s over a channel and await the answer. A writer thread takes
//! everything that is queued (up to [`MAX_BATCH_OPS`]), applies it in one transaction via
//! [`RelayStore::write_batch`], and answers all callers after the commit. Under load that
//! turns thousands of fsyncs into a few, which is what makes durable deposits fast.
//!
//! There is one thread, or as many as [`RelayStore::writer_threads`] allows: they take
//! turns at the channel, so while one waits for its commit the next gathers and applies
//! the following batch.
//!
//! If a batch fails, each job in it is retried in its own transaction, so one bad job
//! cannot fail its neighbours.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};

use super::{RelayStore, StoreError, WriteOp, WriteOutcome};

/// The most operations committed in one transaction.
pub const MAX_BATCH_OPS: usize = 4096;

/// Jobs waiting for the writer before senders have to wait.
const QUEUE_CAPACITY: usize = 8192;

type Reply = oneshot::Sender<Result<Vec<WriteOutcome>, StoreError>>;

struct Job {
    ops: Vec<WriteOp>,
    reply: Reply,
}

/// A handle to the writer thread; cheap to clone.
#[derive(Clone, Debug)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// The running writer threads; [`WriterThread::join`] waits for them after every
/// [`Writer`] handle is dropped.
#[derive(Debug)]
pub struct WriterThread {
    handles: Vec<JoinHandle<()>>,
}

impl WriterThread {
    /// Waits until the threads have committed everything queued and stopped. Call after
    /// dropping every [`Writer`].
    pub fn join(self) {
        for handle in self.handles {
            if handle.join().is_err() {
                tracing::error!("a storage writer thread panicked");
            }
        }
    }
}

impl Writer {
    /// Starts the writer threads over `store` ([`RelayStore::writer_threads`] of them).
    ///
    /// # Errors
    /// The OS error if a thread cannot be spawned.
    pub fn start(
        store: Arc<dyn RelayStore>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> std::io::Result<(Self, WriterThread)> {
        let (jobs, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let receiver = Arc::new(Mutex::new(receiver));
        let mut handles = Vec::new();
        for index in 0..store.writer_threads().max(1) {
            let (store, metrics, receiver) = (
                Arc::clone(&store),
                Arc::clone(&metrics),
                Arc::clone(&receiver),
            );
            handles.push(
                std::thread::Builder::new()
                    .name(format!("satchel-writer-{index}"))
                    .spawn(move || run(store.as_ref(), &metrics, &receiver))?,
            );
        }
        Ok((Self { jobs }, WriterThread { handles }))
    }

    /// Commits `ops` atomically (in one group commit with whatever else is queued) and
    /// returns their outcomes in order, only after they are durable.
    ///
    /// # Errors
    /// [`StoreError`] if the commit failed (nothing of `ops` was written) or the writer
    /// has stopped.
    pub async fn submit(&self, ops: Vec<WriteOp>) -> Result<Vec<WriteOutcome>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { ops, reply })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Like [`Writer::submit`] for one operation.
    ///
    /// # Errors
    /// As [`Writer::submit`].
    pub async fn submit_one(&self, op: WriteOp) -> Result<WriteOutcome, StoreError> {
        self.submit(vec![op]).await?.pop().ok_or(StoreError::Schema(
            "the store returned no outcome".to_owned(),
        ))
    }
}

/// Takes the next batch: waits for a job, then adds whatever else is queued. The channel
/// is held meanwhile, so writer threads take turns; `None` once every [`Writer`] is gone.
fn next_batch(receiver: &Mutex<mpsc::Receiver<Job>>, jobs: &mut Vec<Job>) -> Option<usize> {
    // A thread that panicked holding the lock left the receiver itself intact.
    let mut receiver = receiver
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let first = receiver.blocking_recv()?;
    let mut op_count = first.ops.len();
    jobs.push(first);
    while op_count < MAX_BATCH_OPS {
        match receiver.try_recv() {
            Ok(job) => {
                op_count += job.ops.len();
                jobs.push(job);
            }
            Err(_) => break,
        }
    }
    Some(op_count)
}

fn run(
    store: &dyn RelayStore,
    metrics: &crate::metrics::Metrics,
    receiver: &Mutex<mpsc::Receiver<Job>>,
) {
    let mut jobs: Vec<Job> = Vec::new();
    while let Some(op_count) = next_batch(receiver, &mut jobs) {
        let started = std::time::Instant::now();
        commit(store, &mut jobs);
        metrics.committed(op_count, started.elapsed());
    }
}

fn commit(store: &dyn RelayStore, jobs: &mut Vec<Job>) {
    let counts: Vec<usize> = jobs.iter().map(|job| job.ops.len()).collect();
    let ops: Vec<WriteOp> = jobs.iter_mut().flat_map(|job| job.ops.drain(..)).collect();
    match store.write_batch(&ops) {
        Ok(outcomes) => {
            let mut outcomes = outcomes.into_iter();
            for (job, count) in jobs.drain(..).zip(counts) {
                let mine: Vec<WriteOutcome> = outcomes.by_ref().take(count).collect();
                // A dropped receiver means the client went away; the write stands.
                let _ = job.reply.send(Ok(mine));
            }
        }
        Err(error) if jobs.len() <= 1 => {
            tracing::error!(%error, "a write transaction failed");
            for job in jobs.drain(..) {
                let _ = job.reply.send(Err(error_copy(&error)));
            }
        }
        Err(error) => {
            tracing::warn!(%error, "a group commit failed; retrying its jobs one by one");
            let mut ops = ops.into_iter();
            for (job, count) in jobs.drain(..).zip(counts) {
                let mine: Vec<WriteOp> = ops.by_ref().take(count).collect();
                let result = store.write_batch(&mine);
                if let Err(error) = &result {
                    tracing::error!(%error, "a write transaction failed");
                }
                let _ = job.reply.send(result);
            }
        }
    }
}

/// `StoreError` holds a boxed source and is not `Clone`; callers only need its message.
fn error_copy(error: &StoreError) -> StoreError {
    match error {
        StoreError::WriterStopped => StoreError::WriterStopped,
        StoreError::Schema(message) => StoreError::Schema(message.clone()),
        StoreError::Backend(source) => StoreError::Backend(source.to_string().into()),
        StoreError::Unavailable(message) => StoreError::Unavailable(message.clone()),
        StoreError::DiskFull => StoreError::DiskFull,
    }
}
