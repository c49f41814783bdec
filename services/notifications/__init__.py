"""Notifications: every agency and officer hears what concerns them (notifikasi)."""
