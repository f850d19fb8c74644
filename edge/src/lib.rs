//! The cedargate edge worker (filled in by its own issue).
