//! The cedargate browser app (filled in by its own issue).
