"""Enterprises, monitored numbers and remediation requests."""
