//! Placeholder: replaced by the partial JSON diff decoder.
