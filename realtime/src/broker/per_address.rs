//! Streams counted per client address, for clients a trusted proxy names: the proxy's own
//! connection limit cannot tell them apart, so one of them could otherwise open streams
//! without bound through it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::sync::lock;

/// The open streams of each forwarded client address, up to `max` each.
pub(crate) struct StreamsPerAddress {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One stream's place in its address's count, given back when dropped.
pub(crate) struct AddressSlot {
    streams: Arc<StreamsPerAddress>,
    ip: IpAddr,
}

impl StreamsPerAddress {
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            open: Mutex::default(),
        })
    }

    /// A place for one more stream of `ip`, or `None` when `ip` has `max` open.
    pub(crate) fn take(this: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let mut open = lock(&this.open);
        let count = open.entry(ip).or_default();
        if *count >= this.max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            streams: Arc::clone(this),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.streams.open);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_address_gets_max_places_back_when_dropped() {
        let streams = StreamsPerAddress::new(2);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let first = StreamsPerAddress::take(&streams, a).unwrap();
        let _second = StreamsPerAddress::take(&streams, a).unwrap();
        assert!(StreamsPerAddress::take(&streams, a).is_none());
        let _other = StreamsPerAddress::take(&streams, b).unwrap();
        drop(first);
        assert!(StreamsPerAddress::take(&streams, a).is_some());
    }

    #[test]
    fn a_refused_address_leaves_no_entry() {
        let streams = StreamsPerAddress::new(1);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        drop(StreamsPerAddress::take(&streams, a).unwrap());
        assert!(lock(&streams.open).is_empty());
    }
}
