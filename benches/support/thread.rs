//! A service for a bench on its own thread and current-thread runtime, so its CPU time can be
//! read apart from the code under test, and stopped (and joined) when dropped.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::oneshot;

pub struct ServiceThread<T> {
    /// What the service handed back once it was up (its handle, its address...).
    pub value: T,
    /// `/proc/<pid>/task/<tid>` of the service's thread, for [`cpu_of`].
    pub task_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<T: Send + 'static> ServiceThread<T> {
    /// Runs `service` on a new thread: it sends its value on the first channel once it is
    /// up, and returns when the second resolves (the drop of the `ServiceThread`).
    pub fn start<F, Fut>(what: &'static str, service: F) -> ServiceThread<T>
    where
        F: FnOnce(std::sync::mpsc::Sender<T>, oneshot::Receiver<()>) -> Fut + Send + 'static,
        Fut: Future<Output = ()>,
    {
        let (tx, rx) = std::sync::mpsc::channel::<T>();
        let (dir_tx, dir_rx) = std::sync::mpsc::channel::<PathBuf>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            // `/proc/thread-self` links to `<pid>/task/<tid>`, relative to /proc.
            let task_dir = Path::new("/proc")
                .join(std::fs::read_link("/proc/thread-self").unwrap_or_default());
            let _ = dir_tx.send(task_dir);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime");
            rt.block_on(service(tx, stop_rx));
        });
        let value = rx.recv().unwrap_or_else(|_| panic!("{what} did not start"));
        let task_dir = dir_rx.recv().unwrap_or_default();
        ServiceThread {
            value,
            task_dir,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

impl<T> Drop for ServiceThread<T> {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// CPU time of one thread, from its `/proc/.../task/<tid>` directory (schedstat, in ns).
pub fn cpu_of(task_dir: &Path) -> Duration {
    let ns = std::fs::read_to_string(task_dir.join("schedstat"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}
