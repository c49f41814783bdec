"""Household registry: one valid set of data from the field (pendataan rumah tangga)."""
