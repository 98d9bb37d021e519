//! What one server runs on: its own executor and its own pool of spare
//! write buffers. Nothing here is process-wide, so two servers (or a server
//! inside a test) never share either.

use std::sync::Arc;

use super::outbox::SparePool;

/// The executor the server's tasks run on, and the buffers they share.
#[derive(Clone)]
pub struct Runtime {
    executor: Arc<smol::Executor<'static>>,
    pub(crate) spare: Arc<SparePool>,
}

impl Default for Runtime {
    fn default() -> Runtime {
        Runtime { executor: Arc::new(smol::Executor::new()), spare: Arc::new(SparePool::default()) }
    }
}

impl Runtime {
    /// Runs a task of the server on its executor.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.executor.spawn(task).detach();
    }

    /// Runs the executor on this thread until `until` completes.
    pub fn run<T>(&self, until: impl Future<Output = T>) -> T {
        smol::block_on(self.executor.run(until))
    }
}
