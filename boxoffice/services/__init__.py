"""Domain services: plain functions that own their transaction and raise boxoffice.errors."""
