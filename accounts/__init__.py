"""Customer accounts: holds, restrictions, reassessment reviews, blocks."""
