//! End-to-end tests against the real workerd, browser and OpenID provider.
