"""Transport only: STOMP 1.2, TLS and JSON-RPC 2.0. Knows nothing about networks."""
