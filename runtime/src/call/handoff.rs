//! A value that two parties may each claim, of which the first to claim it gets it: the
//! request body the server lends tonic and a client-streaming adapter may take back, and a
//! client's request stream that either tonic's encoder or the channel's own body sends.

use std::sync::{Arc, Mutex, PoisonError};

/// A value held for whichever clone of this handle takes it first.
pub(crate) struct Handoff<T>(Arc<Mutex<Option<T>>>);

impl<T> Handoff<T> {
    /// Holds `value` until it is taken.
    pub(crate) fn new(value: T) -> Self {
        Handoff(Arc::new(Mutex::new(Some(value))))
    }

    /// The value, if no clone took it yet (one lock).
    pub(crate) fn take(&self) -> Option<T> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// One party's side of a [`Handoff`]: claims the value the first time it is used, then
/// holds it, or holds nothing if another party claimed it first.
pub(crate) struct Claim<T> {
    slot: Option<Handoff<T>>,
    value: Option<T>,
}

impl<T> Claim<T> {
    /// A side of `slot`, not claimed yet.
    pub(crate) fn new(slot: Handoff<T>) -> Self {
        Claim {
            slot: Some(slot),
            value: None,
        }
    }

    /// The value, claimed now if this is the first use (one lock, that once).
    pub(crate) fn get(&mut self) -> Option<&mut T> {
        if let Some(slot) = self.slot.take() {
            self.value = slot.take();
        }
        self.value.as_mut()
    }
}

// Not derived: a handle is cloned whatever `T` is.
impl<T> Clone for Handoff<T> {
    fn clone(&self) -> Self {
        Handoff(Arc::clone(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::{Claim, Handoff};

    #[test]
    fn only_the_first_taker_gets_the_value() {
        let handoff = Handoff::new(7);
        let other = handoff.clone();
        assert_eq!(other.take(), Some(7));
        assert_eq!(handoff.take(), None);
    }

    #[test]
    fn a_claim_takes_the_value_once_and_keeps_it() {
        let handoff = Handoff::new(7);
        let (mut first, mut second) = (Claim::new(handoff.clone()), Claim::new(handoff));
        assert_eq!(first.get(), Some(&mut 7));
        assert_eq!(first.get(), Some(&mut 7));
        assert_eq!(second.get(), None);
    }
}
