"""Operator notifications: email and a Slack-compatible webhook when work piles up."""
