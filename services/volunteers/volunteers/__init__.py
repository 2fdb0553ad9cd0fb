"""Jinguo volunteers service: women volunteer service teams and their service hours."""
