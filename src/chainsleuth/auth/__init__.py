"""Users, roles and permissions, sessions, MFA and API tokens."""
