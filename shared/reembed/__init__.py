"""Re-embedding: move an event's faces to another model pack without losing what users did."""
