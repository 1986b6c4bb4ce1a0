"""Shipped default models (package data)."""
