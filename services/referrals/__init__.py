"""Interagency referrals and the shared case timeline (rujukan dan linimasa kasus)."""
