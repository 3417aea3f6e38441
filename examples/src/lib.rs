//! Examples live next to this crate as `examples/*.rs`.
