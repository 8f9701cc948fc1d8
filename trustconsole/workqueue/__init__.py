"""Work queues that teams share: claims, escalations and internal notes."""
