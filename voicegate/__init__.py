"""Voice connections, the inbound call gate and the outbound policy check."""
