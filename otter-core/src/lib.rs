//! otter-core: capture, schema history, pipeline (in progress).
