"""Mutual TLS: contexts over vdsm's PKI layout, the development PKI tool, and TLS straight on
sockets for the server (direct) and for the client (channel, and the watcher of subscribed
clients)."""
