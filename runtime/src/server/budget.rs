//! The per-connection bound on response bytes held for a client
//! ([`Tuning::connection_send_budget`](crate::Tuning::connection_send_budget)).
//!
//! A streaming call's sink takes a message's charge from its connection's budget before it
//! buffers the message, waiting as it waits for room in its own buffer. The charge follows
//! the message: queued in the sink, taken by the encoder (counted in the call's
//! [`CallBudget`]), handed to hyper in a piece of at most `max_send_buffer` bytes, and given
//! back when hyper polls the body again. hyper polls a body again only once h2 has buffered
//! the piece and has fewer than `max_send_buffer` bytes of the stream left, so what a stream
//! holds outside the budget stays under two send buffers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Semaphore;

/// The bytes one connection's calls may hold for its client.
#[derive(Debug)]
pub(crate) struct Budget {
    bytes: Arc<Semaphore>,
    /// All of it: the most one message is charged, so that a larger one is sent alone.
    total: u32,
    /// The largest encoded response a call may send ([`Tuning::max_message_size`]).
    ///
    /// [`Tuning::max_message_size`]: crate::Tuning::max_message_size
    max_message: usize,
}

impl Budget {
    /// A budget of `total` bytes (clamped to what a semaphore can count at once), for
    /// responses of at most `max_message` bytes.
    pub(crate) fn new(total: usize, max_message: usize) -> Arc<Self> {
        let total = u32::try_from(total).unwrap_or(u32::MAX).max(1);
        Arc::new(Budget {
            bytes: Arc::new(Semaphore::new(total as usize)),
            total,
            // The gRPC header counts a message's length in 32 bits.
            max_message: max_message.min(u32::MAX as usize),
        })
    }

    /// Bytes not held by any call right now.
    #[cfg(test)]
    pub(crate) fn available(&self) -> usize {
        self.bytes.available_permits()
    }
}

/// One call's account with its connection's [`Budget`]: what its encoder holds between the
/// sink's buffer and hyper.
#[derive(Debug)]
pub(crate) struct CallBudget {
    budget: Arc<Budget>,
    /// Charges of messages taken from the sink and not yet handed to hyper.
    encoding: AtomicUsize,
}

impl CallBudget {
    pub(crate) fn new(budget: &Arc<Budget>) -> Arc<Self> {
        Arc::new(CallBudget {
            budget: Arc::clone(budget),
            encoding: AtomicUsize::new(0),
        })
    }

    /// `size` bytes, or the whole budget for a message larger than that, taken now if free;
    /// returns the charge taken, held until [`release`](Self::release)d.
    pub(crate) fn try_charge(&self, size: usize) -> Option<usize> {
        let permit = self.budget.bytes.try_acquire_many(self.clamp(size)).ok()?;
        let charge = permit.num_permits();
        permit.forget();
        Some(charge)
    }

    /// As [`try_charge`](Self::try_charge), waiting for the bytes. Callers are served in
    /// arrival order.
    pub(crate) async fn charge(&self, size: usize) -> usize {
        match self.budget.bytes.acquire_many(self.clamp(size)).await {
            Ok(permit) => {
                let charge = permit.num_permits();
                permit.forget();
                charge
            }
            // The semaphore is never closed.
            Err(_) => unreachable!("a connection's budget is never closed"),
        }
    }

    /// The largest encoded response a call may send.
    pub(crate) fn max_message(&self) -> usize {
        self.budget.max_message
    }

    /// What a message of `size` bytes still needs beside the `held` bytes charged for it.
    pub(crate) fn shortfall(&self, held: usize, size: usize) -> usize {
        (self.clamp(size) as usize).saturating_sub(held)
    }

    fn clamp(&self, size: usize) -> u32 {
        u32::try_from(size)
            .unwrap_or(u32::MAX)
            .clamp(1, self.budget.total)
    }

    /// The encoder took messages charged `charge`: it stays held until hyper has the bytes.
    pub(crate) fn encoded(&self, charge: usize) {
        self.encoding.fetch_add(charge, Ordering::Relaxed);
    }

    /// The charges of everything the encoder has taken, now in the chunk it yielded.
    pub(crate) fn take_encoded(&self) -> usize {
        self.encoding.swap(0, Ordering::Relaxed)
    }

    /// Gives `bytes` back to the connection.
    pub(crate) fn release(&self, bytes: usize) {
        if bytes > 0 {
            self.budget.bytes.add_permits(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_message_larger_than_the_budget_takes_all_of_it_alone() {
        let budget = Budget::new(1000, usize::MAX);
        let call = CallBudget::new(&budget);
        let huge = call.try_charge(5000).expect("the whole budget is free");
        assert_eq!((huge, budget.available()), (1000, 0));
        assert!(call.try_charge(1).is_none(), "nothing is left beside it");
        call.release(huge);
        assert_eq!(budget.available(), 1000);
    }

    #[tokio::test]
    async fn charges_move_to_the_encoder_and_come_back_when_released() {
        let budget = Budget::new(1000, usize::MAX);
        let call = CallBudget::new(&budget);
        call.encoded(call.try_charge(300).unwrap());
        call.encoded(call.try_charge(500).unwrap());
        assert_eq!(budget.available(), 200);
        let waiting = tokio::spawn({
            let call = Arc::clone(&call);
            async move { call.charge(400).await }
        });
        let encoded = call.take_encoded();
        assert_eq!((encoded, call.take_encoded()), (800, 0));
        call.release(encoded);
        assert_eq!(waiting.await.unwrap(), 400);
        assert_eq!(budget.available(), 600);
        call.release(400);
        assert_eq!(budget.available(), 1000);
    }
}
