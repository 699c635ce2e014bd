"""Accounts: users, roles and scopes, passwords, API tokens."""
