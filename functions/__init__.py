"""Thin HTTP targets (functions-framework); the work happens in ``shared``."""
