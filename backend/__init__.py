"""The reference backend: an API gateway and agent workers over PostgreSQL, a Redis-compatible
cache and NATS JetStream. An application *of* stackfixtures, not part of it."""
