"""The outbound policy API under /api/v1/voice/ (serializers, views, urls)."""
