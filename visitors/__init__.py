"""Visitors, trust score, blacklist, review queue, inbox and the chat gate."""
