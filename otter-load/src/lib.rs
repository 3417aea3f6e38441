//! otter-load: loaders.
