//! A request body that can be sent again: what one attempt sent is kept (up to a bound) so
//! that a retry replays it, then goes on with the rest. STUB: the retry work fills this in.
