//! A `Sender` that keeps every message, for the email and password tests.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis::email::{EmailMessage, SendError, Sender};

/// Keeps every message it is given.
#[derive(Clone, Default)]
pub struct Outbox(pub Arc<Mutex<Vec<EmailMessage>>>);

#[portcullis::async_trait]
impl Sender for Outbox {
    async fn send(&self, message: &EmailMessage) -> Result<(), SendError> {
        self.0.lock().unwrap().push(message.clone());
        Ok(())
    }
}

impl Outbox {
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Waits (bounded) until `n` messages arrived — delivery is spawned off the request.
    pub async fn wait_for(&self, n: usize) -> Vec<EmailMessage> {
        for _ in 0..500 {
            if self.len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let all = self.0.lock().unwrap().clone();
        assert!(all.len() >= n, "expected {n} messages, got {}", all.len());
        all
    }

    /// Gives a spawned delivery that should not happen the chance to happen.
    pub async fn settle(&self) {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
