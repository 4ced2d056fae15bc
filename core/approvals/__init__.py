"""Separation of duties: privileged changes take effect only once a second person approves."""
