"""Jinguo HTTP gateway."""
