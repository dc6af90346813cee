"""STOMP 1.2 in vdsm's dialect: the codec, the broker's sessions, the server's connections and
the collapsed path for pings."""
